"""Generated reports of one lead: the PDF dossier and the Excel workbook."""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from sqlalchemy import select

from api.deps import CurrentUser, SessionDep, StateDep, ViewerDep
from api.errors import PROBLEM_JSON, Problem
from api.routers.documents import download_url
from api.schemas.documents import DossierOut
from api.schemas.strict import RowId
from api.state import AppState
from api.storage import StorageDep
from geo.activity import jsonable
from geo.leads import get_visible_lead
from geo.models import ActivityLog, Comment, Document, DocumentCategory, LeadStatusHistory
from geo.visibility import COMMERCIAL_DOSSIER_SUFFIX, activity_visibility, document_visibility
from reports import documents as docs_svc
from reports.basemap import BasemapConfig
from reports.dossier import Annex, DossierOptions, build_dossier
from reports.excel import lead_workbook
from reports.facts import load_facts
from reports.storage import Storage, StorageMissing
from reports.summary import SummaryConfig, write_summary

router = APIRouter(
    prefix="/leads/{lead_id}",
    tags=["reports"],
    responses={
        503: {
            "model": Problem,
            "content": {PROBLEM_JSON: {}},
            "description": "Storage unavailable",
        },
    },
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_ANNEXES = 20
MAX_ANNEX_BYTES = 25 * 1024 * 1024


RENDER_SLOTS = 2


def _render_slots(state: AppState) -> asyncio.Semaphore:
    if state.dossier_slots is None:
        state.dossier_slots = asyncio.Semaphore(RENDER_SLOTS)
    return state.dossier_slots


def _read_annexes(storage: Storage, rows: list[dict[str, Any]]) -> list[Annex]:
    out = []
    for d in rows[:MAX_ANNEXES]:
        if d["content_type"] not in ("application/pdf", "image/png", "image/jpeg"):
            continue
        if d["size_bytes"] > MAX_ANNEX_BYTES:
            continue
        try:
            data = storage.read_bytes(d["storage_key"])
        except StorageMissing:
            continue
        out.append(Annex(d["filename"], d["content_type"], data, d["category"]))
    return out


@router.post("/generate-pdf", response_model=DossierOut, status_code=status.HTTP_201_CREATED)
async def generate_pdf(
    lead_id: RowId,
    response: Response,
    session: SessionDep,
    state: StateDep,
    storage: StorageDep,
    user: CurrentUser,
    viewer: ViewerDep,
    audience: Annotated[
        Literal["internal", "commercial"] | None,
        Query(description="commercial omits owners' personal data (forced for COMMERCIAL users)"),
    ] = None,
) -> DossierOut:
    """Generate the lead's PDF dossier and store it as a document (category dossier)."""
    lead = await get_visible_lead(session, viewer, lead_id)
    chosen = audience or ("internal" if viewer.sees_owners else "commercial")
    if not viewer.sees_owners:
        chosen = "commercial"
    facts = await load_facts(
        session, lead, cipher=state.cipher, include_owners=chosen == "internal"
    )
    settings = state.settings
    oa = settings.openai
    summary = await write_summary(
        facts,
        SummaryConfig(
            api_key=oa.api_key.get_secret_value() if oa.api_key else None,
            base_url=oa.base_url,
            model=oa.model,
            timeout_s=oa.timeout_s,
            language=oa.language,
        ),
    )
    annexes = await asyncio.to_thread(_read_annexes, storage, facts.annex_documents)
    mb = settings.mapbox
    options = DossierOptions(
        audience=chosen,
        summary_model=oa.model,
        basemap=BasemapConfig(mb.token.get_secret_value(), mb.api_url) if mb.token else None,
    )
    # Rendering is CPU-bound Python: a few at a time per process, so a burst of dossiers can't
    # starve the API's thread pool (the others wait their turn).
    async with _render_slots(state):
        result = await asyncio.to_thread(build_dossier, facts, summary, annexes, options)
    stamp = facts.generated_at.strftime("%Y%m%d-%H%M")
    # The audience is in the name: the rule of geo.visibility reads it there.
    ending = COMMERCIAL_DOSSIER_SUFFIX if chosen == "commercial" else ".pdf"
    filename = f"dossier-{lead.internal_name}-{stamp}{ending}"
    with tempfile.NamedTemporaryFile(suffix=".pdf", delete=False) as tmp:
        tmp.write(result.pdf)
    try:
        doc = await docs_svc.create_document(
            session,
            storage,
            lead=lead,
            user_id=user.id,
            path=Path(tmp.name),
            filename=filename,
            content_type="application/pdf",
            size_bytes=len(result.pdf),
            sha256=hashlib.sha256(result.pdf).hexdigest(),
            category=DocumentCategory.DOSSIER,
            action="dossier_generated",
        )
    finally:
        Path(tmp.name).unlink(missing_ok=True)
    url = download_url(lead_id, doc.id)
    response.headers["Location"] = url
    return DossierOut(
        document_id=doc.id,
        download_url=url,
        summary_source=summary.source,
        audience=chosen,
        pages=result.pages,
        generation_ms=result.generation_ms,
        notes=facts.missing() + result.notes,
    )


@router.get(
    "/export.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "The workbook"}},
)
async def export_xlsx(
    lead_id: RowId, session: SessionDep, state: StateDep, viewer: ViewerDep
) -> Response:
    """Every table of the lead, one sheet each (owners only for roles allowed to see them)."""
    lead = await get_visible_lead(session, viewer, lead_id)
    facts = await load_facts(session, lead, cipher=state.cipher, include_owners=viewer.sees_owners)
    documents = [
        {
            c: jsonable(getattr(d, c))
            for c in (
                "id",
                "filename",
                "content_type",
                "size_bytes",
                "category",
                "uploaded_by_id",
                "created_at",
            )
        }
        for d in await session.scalars(
            select(Document)
            .where(Document.lead_id == lead_id, document_visibility(viewer.sees_owners))
            .order_by(Document.created_at, Document.id)
        )
    ]
    comments = [
        {"id": c.id, "author_id": c.author_id, "created_at": c.created_at, "body": c.body}
        for c in await session.scalars(
            select(Comment).where(Comment.lead_id == lead_id).order_by(Comment.created_at)
        )
    ]
    activity = [
        {
            "id": a.id,
            "created_at": a.created_at,
            "user_id": a.user_id,
            "action": a.action,
            "entity": a.entity,
            "entity_id": a.entity_id,
            # Before/after may hold land details: only for the roles that may see owners.
            **({"before": a.before, "after": a.after} if viewer.sees_owners else {}),
        }
        for a in await session.scalars(
            select(ActivityLog)
            .where(ActivityLog.lead_id == lead_id, activity_visibility(viewer.sees_owners))
            .order_by(ActivityLog.id)
        )
    ]
    history = [
        {
            "status": h.status,
            "entered_at": h.entered_at,
            "left_at": h.left_at,
            "changed_by_id": h.changed_by_id,
            "reason": h.reason,
        }
        for h in await session.scalars(
            select(LeadStatusHistory)
            .where(LeadStatusHistory.lead_id == lead_id)
            .order_by(LeadStatusHistory.entered_at)
        )
    ]
    data = await asyncio.to_thread(
        lead_workbook,
        facts,
        documents=documents,
        comments=comments,
        activity=activity,
        history=history,
    )
    name = f"lead-{lead.internal_name}.xlsx"
    return Response(
        data,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{docs_svc.safe_filename(name)}"'},
    )
