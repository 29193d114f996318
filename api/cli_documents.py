"""``leadfactory documents-gc``: remove stored files that no document record points at."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from api.settings import Settings


def register(sub: Any) -> dict[str, Callable[[argparse.Namespace, Settings], int]]:
    """Add the ``documents-gc`` subcommand."""
    p = sub.add_parser(
        "documents-gc",
        help="delete stored files without a document record (after failed deletes)",
        description="Lists the storage (local folder or S3) under leads/ and deletes the objects "
        "no document row points at, once they are older than --min-age-minutes.",
    )
    p.add_argument(
        "--min-age-minutes",
        type=float,
        default=60.0,
        help="keep younger objects: an upload may be in flight (default 60)",
    )
    p.add_argument("--dry-run", action="store_true", help="only list what would be deleted")
    return {"documents-gc": documents_gc}


def documents_gc(args: argparse.Namespace, settings: Settings) -> int:
    """Run the garbage collection and print each orphan."""
    from api.storage import make_storage
    from geo.db import make_engine, make_sessionmaker
    from reports.documents import collect_garbage

    async def go() -> list[str]:
        engine = make_engine(settings.async_database_url, pool_size=1, max_overflow=0)
        try:
            async with make_sessionmaker(engine)() as session:
                return await collect_garbage(
                    session,
                    make_storage(settings.storage),
                    min_age=timedelta(minutes=args.min_age_minutes),
                    dry_run=args.dry_run,
                )
        finally:
            await engine.dispose()

    orphans = asyncio.run(go())
    verb = "would delete" if args.dry_run else "deleted"
    for key in orphans:
        print(f"{verb} {key}")
    print(f"{len(orphans)} orphaned object(s) {verb}")
    return 0
