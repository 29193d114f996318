"""Documents of a lead: the storage file and the database row are written together or not at all.

Order of operations (no record without a file, no file without a record):
- create: the bytes go to the storage first, then the row and its activity entry are committed in
  one transaction; if the commit fails the stored object is deleted again.
- delete: the row (and its activity entry) is committed first, then the object is deleted; a
  failure there leaves an unreachable object, never a row pointing at nothing.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from geo.activity import log_activity
from geo.errors import NotFound, PermissionDenied, ServiceUnavailable
from geo.models import Document, DocumentCategory, Lead, Role, User
from geo.visibility import document_visibility
from reports.storage import Storage

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _quiet_delete(storage: Storage, key: str) -> None:
    try:
        storage.delete(key)
    except Exception:  # pragma: no cover - best effort after a failure
        log.warning("could not remove %s after a failed write", key)


def safe_filename(name: str, default: str = "file") -> str:
    """A file name safe for storage keys and headers (ASCII, no path parts)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    cleaned = _UNSAFE.sub("_", base).strip("._")[:120]
    return cleaned or default


def display_filename(name: str) -> str:
    """The user's file name without any directory part, bounded in length."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return (base or "file")[:255]


async def create_document(
    session: AsyncSession,
    storage: Storage,
    *,
    lead: Lead,
    user_id: int | None,
    path: Path,
    filename: str,
    content_type: str,
    size_bytes: int,
    sha256: str,
    category: DocumentCategory,
    action: str = "document_uploaded",
) -> Document:
    """Store a file and its row; the stored object is removed if the row can't be committed."""
    key = f"leads/{lead.id}/{uuid.uuid4().hex}/{safe_filename(filename)}"
    try:
        await asyncio.to_thread(storage.put_file, key, path, content_type)
    except Exception as exc:
        log.exception("storage write failed for %s", key)
        # Nothing was recorded; a partial object (S3 multipart) is not visible under the key.
        await asyncio.to_thread(_quiet_delete, storage, key)
        raise ServiceUnavailable("the file storage is unavailable, try again later") from exc
    try:
        doc = Document(
            lead_id=lead.id,
            filename=display_filename(filename),
            content_type=content_type,
            size_bytes=size_bytes,
            sha256=sha256,
            category=category,
            storage_key=key,
            uploaded_by_id=user_id,
        )
        session.add(doc)
        await session.flush()
        await log_activity(
            session,
            action=action,
            user_id=user_id,
            lead_id=lead.id,
            entity="document",
            entity_id=doc.id,
            after={"filename": doc.filename, "category": category, "size_bytes": size_bytes},
        )
        await session.commit()
    except BaseException:
        await session.rollback()
        try:
            await asyncio.to_thread(storage.delete, key)
        except Exception:  # pragma: no cover - the original error matters more
            log.exception("could not remove stored object %s after a failed insert", key)
        raise
    await session.refresh(doc)
    return doc


async def list_documents(
    session: AsyncSession,
    lead_id: int,
    category: DocumentCategory | None = None,
    *,
    sees_owners: bool,
) -> Sequence[Document]:
    """The lead's documents the viewer may see, newest first."""
    stmt = select(Document).where(Document.lead_id == lead_id, document_visibility(sees_owners))
    if category is not None:
        stmt = stmt.where(Document.category == category)
    return (
        await session.scalars(stmt.order_by(Document.created_at.desc(), Document.id.desc()))
    ).all()


async def get_document(
    session: AsyncSession, lead_id: int, doc_id: int, *, sees_owners: bool
) -> Document:
    """One document of the lead (404 when it belongs to another lead or is not for the viewer)."""
    stmt = select(Document).where(
        Document.id == doc_id, Document.lead_id == lead_id, document_visibility(sees_owners)
    )
    doc = await session.scalar(stmt)
    if doc is None:
        raise NotFound(f"document {doc_id} not found")
    return doc


def can_delete(user: User, doc: Document) -> bool:
    """The uploader, a MANAGER or an ADMIN may delete a document."""
    return user.role in (Role.MANAGER, Role.ADMIN) or (
        doc.uploaded_by_id is not None and doc.uploaded_by_id == user.id
    )


async def delete_document(
    session: AsyncSession, storage: Storage, *, user: User, doc: Document
) -> None:
    """Delete the row (with an activity entry), then the stored object."""
    if not can_delete(user, doc):
        raise PermissionDenied("only the uploader, a MANAGER or an ADMIN may delete a document")
    key = doc.storage_key
    await log_activity(
        session,
        action="document_deleted",
        user_id=user.id,
        lead_id=doc.lead_id,
        entity="document",
        entity_id=doc.id,
        before={"filename": doc.filename, "category": doc.category, "size_bytes": doc.size_bytes},
    )
    await session.delete(doc)
    await session.commit()
    try:
        await asyncio.to_thread(storage.delete, key)
    except Exception:
        log.exception("document row deleted but stored object %s could not be removed", key)


async def collect_garbage(
    session: AsyncSession, storage: Storage, *, min_age: timedelta, dry_run: bool = False
) -> list[str]:
    """Delete stored objects no document row points at (left by a failed delete), if older than
    ``min_age`` — younger ones may belong to an upload whose row is not committed yet."""
    known = set((await session.scalars(select(Document.storage_key))).all())
    cutoff = datetime.now(UTC) - min_age
    objects = await asyncio.to_thread(lambda: list(storage.iter_objects("leads")))
    orphans = [k for k, modified in objects if k not in known and modified < cutoff]
    if not dry_run:
        for key in orphans:
            await asyncio.to_thread(storage.delete, key)
    return orphans
