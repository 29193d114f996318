"""``leadfactory backup`` and ``leadfactory restore`` (see :mod:`api.backup`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from api.settings import Settings


def register(sub: Any) -> dict[str, Callable[[argparse.Namespace, Settings], int]]:
    """Add the ``backup`` and ``restore`` subcommands."""
    p = sub.add_parser(
        "backup",
        help="write one dated archive of the database and the stored documents",
        description="pg_dump (custom format) and every stored document, with a manifest of row "
        "counts and checksums, in one tar file.",
    )
    p.add_argument("--to", help="a folder or s3://bucket/prefix (default: <LFS_DATA_DIR>/backups)")
    p = sub.add_parser(
        "restore",
        help="restore an archive into an empty database and the configured storage",
        description="Checks every member against the manifest, refuses a database that is not "
        "empty, runs pg_restore, puts the documents back and compares the row counts.",
    )
    p.add_argument("archive", help="the archive's path or s3://bucket/key")
    return {"backup": _backup, "restore": _restore}


def _backup(args: argparse.Namespace, settings: Settings) -> int:
    from api.backup import backup

    return _report(lambda: backup(settings, args.to), "{archive}:")


def _restore(args: argparse.Namespace, settings: Settings) -> int:
    from api.backup import restore

    return _report(lambda: restore(settings, args.archive), "restored {archive}:")


def _report(run: Callable[[], Any], head: str) -> int:
    """Run a backup or a restore; print what it did, or its error (exit 1)."""
    from api.backup import BackupError

    try:
        result = run()
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    rows = sum(result.tables.values())
    print(
        f"{head.format(archive=result.archive)} {len(result.tables)} tables, {rows:,} rows, "
        f"{result.documents} documents, {result.bytes / 1e6:.1f} MB in {result.seconds:.1f} s"
    )
    return 0
