"""Bulk actions on the lead list: assign, move, export a selection (MANAGER/ADMIN)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Body, Depends
from fastapi.responses import StreamingResponse

from api.deps import CurrentUser, SessionDep, StateDep, ViewerDep, require_role
from api.schemas.bulk import BulkExportIn, BulkIn, BulkOut
from api.services import bulk as svc
from api.services.exports import chunks, csv_chunks, export_select, started, xlsx_bytes
from api.services.leads_query import LeadFilters
from geo.models import Lead, LeadStatus, Role

router = APIRouter(
    prefix="/leads/bulk",
    tags=["bulk"],
    dependencies=[Depends(require_role(Role.ADMIN, Role.MANAGER))],
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.post("", response_model=BulkOut)
async def bulk_action(
    body: BulkIn, session: SessionDep, user: CurrentUser, state: StateDep
) -> BulkOut:
    """Assign or move up to 500 leads: each in its own transaction, under the single-lead
    rules (workflow 409s, RBAC; no If-Match), with one result per lead."""
    if body.action == "assign":
        await svc.check_assignee(session, body.assignee_id)
    return await svc.apply_bulk(state.sessions, user, body)


@router.post(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {XLSX: {}, "text/csv": {}},
            "description": "One row per selected lead the caller may see",
        }
    },
)
async def bulk_export(
    viewer: ViewerDep, state: StateDep, body: BulkExportIn = Body()
) -> StreamingResponse:
    """The selected leads as the list's export (XLSX, or CSV; ``fr``: for French Excel)."""
    every_status = LeadFilters(status=tuple(LeadStatus))
    stmt = export_select(viewer, every_status, body.sort).where(Lead.id.in_(body.ids))
    name = f'attachment; filename="leads-selection-{datetime.now(UTC):%Y%m%d-%H%M}.{body.format}"'
    if body.format == "csv":
        return StreamingResponse(
            await started(csv_chunks(state.sessions, stmt, body.dialect)),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": name},
        )
    data = await xlsx_bytes(state.sessions, stmt)
    return StreamingResponse(chunks(data), media_type=XLSX, headers={"Content-Disposition": name})
