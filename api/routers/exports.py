"""Lead exports: CSV (streamed) and XLSX, with the list's filters and RBAC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from api.deps import StateDep, ViewerDep
from api.routers.leads import FiltersDep
from api.services.exports import (
    CsvDialect,
    chunks,
    csv_chunks,
    export_select,
    started,
    xlsx_bytes,
)
from api.services.leads_query import SortKey

router = APIRouter(prefix="/leads", tags=["exports"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Sort = Annotated[SortKey, Query(description="Sort key; '-' for descending")]


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
    dialect: Annotated[
        CsvDialect,
        Query(
            description="standard: commas, machine headers, ISO 8601 UTC; fr: for French "
            "Excel — semicolons, French headers and labels, Paris time, decimal commas"
        ),
    ] = "standard",
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
