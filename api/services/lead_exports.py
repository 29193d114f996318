"""Lead exports written by a worker: asked (a row and its task in one transaction), written
(the worker selects what the person could see when they asked, writes the CSV or workbook to
storage), polled, downloaded, removed after ``LFS_LEADS__EXPORT_KEPT_H``.

Why a worker and not the request: the load test (bench/loadtest.py) showed a 12k-lead workbook
(openpyxl, ~5 s) or CSV (~1 s) written inside the API process taking the interpreter lock from
every other request of that process: at 300 people every route's P95 reached 0.7–2.4 s with
exports, 15–160 ms without (docs/decisions.md, "Exports are written by the worker").
"""

from __future__ import annotations

import gzip
import logging
import shutil
import tempfile
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import anyio.to_thread
from psycopg.types.json import Jsonb
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.services.exports import CsvDialect, csv_chunks, export_select, xlsx_bytes
from api.services.leads_query import LeadFilters, SortKey
from geo.errors import Conflict, NotFound, RateLimited
from geo.models import ExportFormat, ExportStatus, LeadExport
from geo.visibility import Viewer
from reports.storage import Storage

if TYPE_CHECKING:
    from procrastinate import App

log = logging.getLogger(__name__)

EXPORT_QUEUE = "exports"
EXPORT_TASK = "write_lead_export"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CONTENT_TYPES = {ExportFormat.CSV: "text/csv; charset=utf-8", ExportFormat.XLSX: XLSX}
# The advisory lock class of "one person's exports" (with the user id): two requests of one
# person count the waiting exports one after the other.
_LOCK_CLASS = 18_0029


def filename_of(export: LeadExport) -> str:
    """The file's name, as the synchronous export routes name theirs."""
    return f"leads-{export.created_at.astimezone(UTC):%Y%m%d-%H%M}.{export.format.value}"


def storage_key_of(export: LeadExport) -> str:
    """Where the file is stored: a CSV gzipped (``.gz``, see :func:`write_export`)."""
    gz = ".gz" if export.format is ExportFormat.CSV else ""
    return f"exports/{export.id}/{filename_of(export)}{gz}"


def gunzipped(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The bytes of a gzipped file, for a client that does not take gzip."""
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    for chunk in chunks:
        if data := inflate.decompress(chunk):
            yield data
    if tail := inflate.flush():
        yield tail


async def create_export(
    queue: App,
    viewer: Viewer,
    fmt: ExportFormat,
    dialect: CsvDialect,
    sort: SortKey,
    filters: LeadFilters,
    waiting_max: int,
) -> int:
    """The export's row and its task, in one transaction on the queue's connection (a crash
    between them leaves neither); 429 ``export.too_many`` when the person already has
    ``waiting_max`` exports queued or running."""
    from procrastinate import PsycopgConnector

    connector = cast(PsycopgConnector, queue.connector)
    async with connector.pool.connection() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_CLASS, viewer.user_id))
        cur = await conn.execute(
            "SELECT count(*) FROM lead_exports WHERE user_id = %s"
            " AND status IN ('queued', 'running')",
            (viewer.user_id,),
        )
        waiting = (await cur.fetchone() or (0,))[0]
        if waiting >= waiting_max:
            raise RateLimited(
                f"{waiting} exports of yours are still being written; retry once they are ready",
                retry_after=5,
                code="export.too_many",
            )
        cur = await conn.execute(
            "INSERT INTO lead_exports (user_id, role, format, dialect, sort, filters)"
            " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            (viewer.user_id, viewer.role.value, fmt.value, dialect, sort, Jsonb(filters.to_json())),
        )
        row = await cur.fetchone()
        assert row is not None
        export_id = int(row[0])
        await queue.tasks[EXPORT_TASK].configure(connection=conn).defer_async(export_id=export_id)
    return export_id


async def get_export(session: AsyncSession, viewer: Viewer, export_id: int) -> LeadExport:
    """One of the caller's own exports (404 for anyone else's, or once removed)."""
    export = await session.get(LeadExport, export_id)
    if export is None or export.user_id != viewer.user_id:
        raise NotFound(
            f"no export {export_id} of yours (a written export is kept for a limited time)",
            code="export.not_found",
        )
    return export


def ready_file(export: LeadExport) -> str:
    """The stored key of a written export; 409 ``export.not_ready`` before (or on failure)."""
    if export.status is not ExportStatus.DONE or export.storage_key is None:
        raise Conflict(
            f"export {export.id} is {export.status.value}: poll it until it is done",
            code="export.not_ready",
            export_status=export.status.value,
        )
    return export.storage_key


async def write_export(
    sessions: async_sessionmaker[AsyncSession], storage: Storage, export_id: int
) -> None:
    """The worker's part: select, write to a temporary file, store, mark done. A retried task
    writes the file again (nothing is half-stored: the storage's put is atomic)."""
    async with sessions() as session, session.begin():
        export = await session.scalar(
            update(LeadExport)
            .where(
                LeadExport.id == export_id,
                LeadExport.status.in_([ExportStatus.QUEUED, ExportStatus.RUNNING]),
            )
            .values(status=ExportStatus.RUNNING)
            .returning(LeadExport)
        )
        if export is None:
            return  # removed, or already written by an earlier attempt
        session.expunge(export)
    stmt = export_select(
        Viewer(export.user_id, export.role),
        LeadFilters.from_json(export.filters),
        cast(SortKey, export.sort),
    )
    rows = 0

    def counted(n: int) -> None:
        nonlocal rows
        rows += n

    with tempfile.TemporaryDirectory(prefix="lfs-export-") as tmp:
        path = Path(tmp) / filename_of(export)
        with path.open("wb") as out:
            if export.format is ExportFormat.XLSX:
                out.write(await xlsx_bytes(sessions, stmt, counted))
            else:
                dialect = cast(CsvDialect, export.dialect)
                async for chunk in csv_chunks(sessions, stmt, dialect, counted):
                    out.write(chunk)
        size = path.stat().st_size
        key = storage_key_of(export)
        if key.endswith(".gz"):
            # Compressed here, once, at the worker's low priority: the download is then sent
            # as is to clients that take gzip (every browser), where the API's middleware
            # compressed a sales person's 3-5 MB CSV on its event loop at each download.
            path = await anyio.to_thread.run_sync(_gzip, path)
        await anyio.to_thread.run_sync(storage.put_file, key, path, CONTENT_TYPES[export.format])
    await _finish(
        sessions,
        export_id,
        status=ExportStatus.DONE,
        rows=rows,
        size_bytes=size,
        storage_key=key,
        error=None,
    )


async def _finish(
    sessions: async_sessionmaker[AsyncSession], export_id: int, **values: Any
) -> None:
    """Write an export's outcome (done or failed) with its end time."""
    async with sessions() as session, session.begin():
        await session.execute(
            update(LeadExport)
            .where(LeadExport.id == export_id)
            .values(**values, finished_at=datetime.now(UTC))
        )


def _gzip(path: Path) -> Path:
    out = path.with_name(path.name + ".gz")
    with path.open("rb") as src, gzip.open(out, "wb", compresslevel=6) as dst:
        shutil.copyfileobj(src, dst, 1024 * 1024)
    return out


async def fail_export(
    sessions: async_sessionmaker[AsyncSession], export_id: int, exc: BaseException
) -> None:
    """Mark an export failed after its last attempt, with the error's class (no user value)."""
    error = f"the export could not be written ({type(exc).__name__})"
    await _finish(sessions, export_id, status=ExportStatus.FAILED, error=error)


async def remove_expired(
    sessions: async_sessionmaker[AsyncSession], storage: Storage, kept: timedelta
) -> int:
    """Remove the exports finished more than ``kept`` ago: their file, then their row (a file
    that can't be removed now keeps its row, for the next pass)."""
    cutoff = datetime.now(UTC) - kept
    async with sessions() as session:
        old: list[Any] = list(
            (
                await session.execute(
                    select(LeadExport.id, LeadExport.storage_key).where(
                        LeadExport.finished_at < cutoff
                    )
                )
            ).all()
        )
    removed = []
    for export_id, key in old:
        try:
            if key is not None:
                await anyio.to_thread.run_sync(storage.delete, key)
        except Exception as exc:  # the storage is down: next time
            log.warning("could not remove the file of export %s: %s", export_id, type(exc).__name__)
            continue
        removed.append(export_id)
    if removed:
        async with sessions() as session, session.begin():
            await session.execute(delete(LeadExport).where(LeadExport.id.in_(removed)))
    return len(removed)
