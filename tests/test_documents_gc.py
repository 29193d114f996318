"""``leadfactory documents-gc``: stored objects without a record are deleted once old enough;
objects with a record, and young ones (an upload in flight), are kept."""

from __future__ import annotations

import argparse
import os
import time

from api.cli import _build_parser
from api.cli_documents import documents_gc
from geo.models import Document, DocumentCategory
from reports.storage import LocalStorage
from tests.dossier_factory import seed_site


async def test_gc_deletes_old_orphans_only(state, settings, tmp_path, capsys):
    storage = LocalStorage(settings.storage.local_dir)
    src = tmp_path / "f.pdf"
    src.write_bytes(b"%PDF-1.4 gc")
    async with state.sessions() as s:
        lead_id = await seed_site(s, state.cipher, enriched=False, n_parcels=1)
        kept = f"leads/{lead_id}/aaa/kept.pdf"
        storage.put_file(kept, src, "application/pdf")
        s.add(
            Document(
                lead_id=lead_id,
                filename="kept.pdf",
                content_type="application/pdf",
                size_bytes=11,
                sha256="0" * 64,
                category=DocumentCategory.OTHER,
                storage_key=kept,
            )
        )
        await s.commit()
    old_orphan, young_orphan = f"leads/{lead_id}/bbb/old.pdf", f"leads/{lead_id}/ccc/young.pdf"
    storage.put_file(old_orphan, src, "application/pdf")
    storage.put_file(young_orphan, src, "application/pdf")
    two_hours_ago = time.time() - 7200
    for key in (kept, old_orphan):
        os.utime(settings.storage.local_dir / key, (two_hours_ago, two_hours_ago))

    args = argparse.Namespace(min_age_minutes=60.0, dry_run=True)
    assert await _in_thread(documents_gc, args, settings) == 0
    assert f"would delete {old_orphan}" in capsys.readouterr().out
    assert storage.exists(old_orphan)  # dry run

    args.dry_run = False
    assert await _in_thread(documents_gc, args, settings) == 0
    out = capsys.readouterr().out
    assert "1 orphaned object(s) deleted" in out
    assert not storage.exists(old_orphan)
    assert storage.exists(kept) and storage.exists(young_orphan)


def test_command_is_registered():
    parser, handlers = _build_parser()
    assert "documents-gc" in handlers
    args = parser.parse_args(["documents-gc", "--dry-run", "--min-age-minutes", "5"])
    assert args.dry_run and args.min_age_minutes == 5


async def _in_thread(fn, *args):
    """The command runs its own event loop (asyncio.run): call it from a worker thread."""
    import asyncio

    return await asyncio.to_thread(fn, *args)
