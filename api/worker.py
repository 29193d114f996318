"""``leadfactory worker``: run an enrichment worker (procrastinate) against the database."""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

from api.settings import Settings


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from api.error_reports import init_error_reports
    from api.queue import run_worker
    from api.supervisor import die_with_parent

    init_error_reports(settings, "worker")

    if args.parent_pid is not None and not die_with_parent(args.parent_pid):
        logging.getLogger(__name__).warning("process %d is gone: not starting", args.parent_pid)
        return 0
    asyncio.run(run_worker(settings, args.concurrency, parent_pid=args.parent_pid))
    return 0


def register(subparsers: Any) -> dict[str, Any]:
    """Add the ``worker`` subcommand."""
    p = subparsers.add_parser("worker", help="run an enrichment worker (batch jobs)")
    p.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="tasks run at once (default: LFS_ENRICHMENT__WORKER_CONCURRENCY)",
    )
    p.add_argument(
        "--parent-pid",
        type=int,
        default=None,
        help="exit when this process is gone (set by `serve --with-worker`)",
    )
    return {"worker": _worker}
