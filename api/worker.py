"""``leadfactory worker``: run an enrichment worker (procrastinate) against the database."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from api.settings import Settings


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from api.queue import run_worker

    asyncio.run(run_worker(settings, args.concurrency))
    return 0


def register(subparsers: Any) -> dict[str, Any]:
    """Add the ``worker`` subcommand."""
    p = subparsers.add_parser("worker", help="run an enrichment worker (batch jobs)")
    p.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="leads enriched at once (default: LFS_ENRICHMENT__WORKER_CONCURRENCY)",
    )
    return {"worker": _worker}
