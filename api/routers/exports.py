"""Lead exports with the list's filters and RBAC: written by a worker and downloaded when ready
(POST /api/leads/exports, what the web app does), or written in the request (GET export.csv /
export.xlsx, for scripts and small selections)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from api.deps import SessionDep, StateDep, ViewerDep
from api.routers.documents import content_disposition
from api.routers.enrichment import queue_of
from api.routers.leads import FiltersDep
from api.schemas.exports import ExportOut
from api.schemas.strict import RowId
from api.services import lead_exports as svc
from api.services.exports import (
    CsvDialect,
    chunks,
    csv_chunks,
    export_select,
    started,
    xlsx_bytes,
)
from api.services.leads_query import SortKey
from api.storage import StorageDep
from geo.errors import NotFound, ServiceUnavailable
from geo.models import ExportFormat, ExportStatus, LeadExport
from reports.storage import StorageMissing

router = APIRouter(prefix="/leads", tags=["exports"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Sort = Annotated[SortKey, Query(description="Sort key; '-' for descending")]
Dialect = Annotated[
    CsvDialect,
    Query(
        description="standard: commas, machine headers, ISO 8601 UTC; fr: for French "
        "Excel — semicolons, French headers and labels, Paris time, decimal commas"
    ),
]
ExportId = Annotated[RowId, Path(description="Export id")]


def _filename(ext: str) -> str:
    return f'attachment; filename="leads-{datetime.now(UTC):%Y%m%d-%H%M}.{ext}"'


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "One row per lead"}},
)
async def export_csv(
    viewer: ViewerDep,
    state: StateDep,
    f: FiltersDep,
    sort: Sort = "-created_at",
    dialect: Dialect = "standard",
) -> StreamingResponse:
    """The leads the caller may see, filtered like the list, as CSV (streamed)."""
    stmt = export_select(viewer, f, sort)
    # The query answers before the 200 is sent: an error there is a problem+json response; one
    # after it aborts the transfer (api.services.exports.started).
    return StreamingResponse(
        await started(csv_chunks(state.sessions, stmt, dialect)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": _filename("csv")},
    )


@router.get(
    "/export.xlsx",
    response_class=StreamingResponse,
    responses={200: {"content": {XLSX: {}}, "description": "One row per lead, typed cells"}},
)
async def export_xlsx(
    viewer: ViewerDep, state: StateDep, f: FiltersDep, sort: Sort = "-created_at"
) -> StreamingResponse:
    """The leads the caller may see, filtered like the list, as an Excel workbook."""
    data = await xlsx_bytes(state.sessions, export_select(viewer, f, sort))
    return StreamingResponse(
        chunks(data), media_type=XLSX, headers={"Content-Disposition": _filename("xlsx")}
    )


def export_out(export: LeadExport, kept_h: float) -> ExportOut:
    """The API view of an export row."""
    done = export.status is ExportStatus.DONE
    return ExportOut(
        id=export.id,
        format=export.format,
        dialect="fr" if export.dialect == "fr" else "standard",
        status=export.status,
        rows=export.rows,
        size_bytes=export.size_bytes,
        filename=svc.filename_of(export),
        created_at=export.created_at,
        finished_at=export.finished_at,
        expires_at=export.finished_at + timedelta(hours=kept_h) if export.finished_at else None,
        error=export.error,
        file_url=f"/api/leads/exports/{export.id}/file" if done else None,
    )


@router.post(
    "/exports",
    status_code=202,
    response_model=ExportOut,
    responses={429: {"description": "Too many of the caller's exports still being written"}},
)
async def ask_export(
    viewer: ViewerDep,
    session: SessionDep,
    state: StateDep,
    f: FiltersDep,
    format: Annotated[ExportFormat, Query(description="csv or xlsx (Excel workbook)")],
    sort: Sort = "-created_at",
    dialect: Dialect = "standard",
) -> JSONResponse:
    """Ask for the leads the caller may see, filtered like the list, as a file a worker writes:
    poll the Location until ``status`` is done, then download ``file_url``. The filters and the
    visibility are those of now; the file is kept ``LFS_LEADS__EXPORT_KEPT_H`` hours."""
    await session.rollback()  # the row and its task are written on the queue's connection
    export_id = await svc.create_export(
        await queue_of(state),
        viewer,
        format,
        dialect,
        sort,
        f,
        state.settings.leads.exports_waiting_max,
    )
    export = await svc.get_export(session, viewer, export_id)
    out = export_out(export, state.settings.leads.export_kept_h)
    return JSONResponse(
        out.model_dump(mode="json"),
        status_code=202,
        headers={"Location": f"/api/leads/exports/{export_id}"},
    )


@router.get("/exports/{export_id}", response_model=ExportOut)
async def get_export(
    export_id: ExportId, viewer: ViewerDep, session: SessionDep, state: StateDep
) -> ExportOut:
    """One of the caller's exports: where it stands, and its file's URL once written."""
    export = await svc.get_export(session, viewer, export_id)
    return export_out(export, state.settings.leads.export_kept_h)


@router.get(
    "/exports/{export_id}/file",
    response_class=StreamingResponse,
    responses={
        200: {"content": {XLSX: {}, "text/csv": {}}, "description": "The written file"},
        409: {"description": "Not written yet, or failed (code export.not_ready)"},
    },
)
async def download_export(
    export_id: ExportId,
    viewer: ViewerDep,
    session: SessionDep,
    storage: StorageDep,
    request: Request,
) -> StreamingResponse:
    """The written file of one of the caller's exports (streamed from the storage; a CSV is
    stored gzipped and sent so to clients that accept gzip)."""
    export = await svc.get_export(session, viewer, export_id)
    key = svc.ready_file(export)
    media_type, filename = svc.CONTENT_TYPES[export.format], svc.filename_of(export)
    size = export.size_bytes
    await session.rollback()  # nothing more to read: the connection goes back to the pool
    try:
        chunks = await asyncio.to_thread(storage.open_chunks, key)
    except StorageMissing as exc:
        raise NotFound(
            f"the file of export {export_id} is missing from the storage", code="export.not_found"
        ) from exc
    except Exception as exc:
        raise ServiceUnavailable("the file storage is unavailable, try again later") from exc
    headers = {
        "Content-Disposition": content_disposition(filename),
        "X-Content-Type-Options": "nosniff",
    }
    if not key.endswith(".gz"):
        headers["Content-Length"] = str(size)
    elif "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"  # the stored bytes as they are
        headers["Vary"] = "Accept-Encoding"
    else:
        chunks = svc.gunzipped(chunks)
        headers["Content-Length"] = str(size)
        headers["Vary"] = "Accept-Encoding"
    return StreamingResponse(chunks, media_type=media_type, headers=headers)
