"""Enrichment: one lead now, or many in a background job."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse

from api.deps import SessionDep, StateDep, ViewerDep, require_role
from api.schemas.enrichment import BatchIn, BatchOut, EnrichmentOut, JobFailure, JobOut
from api.schemas.strict import RowId
from api.services import enrichment as svc
from api.state import AppState
from enrichment.engine import Actor, enrich_lead
from geo.leads import get_visible_lead
from geo.models import Role

if TYPE_CHECKING:
    from procrastinate import App  # imported on first use (api.queue)

router = APIRouter(
    prefix="/enrichment",
    tags=["enrichment"],
    dependencies=[Depends(require_role(Role.ADMIN, Role.MANAGER, Role.OPS))],
)


async def queue_of(state: AppState) -> App:
    """The app's procrastinate queue, opened on first use (closed with the app)."""
    if state.queue is None:
        from api.queue import make_queue

        queue = make_queue(state.settings)
        await queue.open_async()
        state.queue = queue
        state.on_close.append(queue.close_async)
    return state.queue


@router.post(
    "/batch",
    status_code=202,
    response_model=BatchOut,
    responses={404: {"description": "A lead of lead_ids is unknown or not visible"}},
)
async def enrich_batch(
    body: BatchIn, session: SessionDep, state: StateDep, viewer: ViewerDep
) -> JSONResponse:
    """Queue the enrichment of many leads (ids, or the list's filters); poll the job."""
    filters = None
    if body.filters is not None:
        from api.services.leads_query import LeadFilters

        filters = LeadFilters(**{**body.filters.model_dump(), "status": tuple(body.filters.status)})
    ids = await svc.select_batch_leads(session, viewer, body.lead_ids, filters)
    await session.rollback()  # the read is over; the job is written with its tasks
    from api.queue import create_batch

    job_id = await create_batch(
        await queue_of(state), ids, viewer.user_id, state.settings.enrichment.task_chunk
    )
    return JSONResponse(
        BatchOut(job_id=job_id, total=len(ids)).model_dump(),
        status_code=202,
        headers={"Location": f"/api/enrichment/jobs/{job_id}"},
    )


@router.get("/jobs/{job_id}", response_model=JobOut)
async def get_job(
    job_id: Annotated[RowId, Path(description="Job id")], session: SessionDep, viewer: ViewerDep
) -> JobOut:
    """Progress of a batch job: done, failed, total, and why leads failed."""
    job = await svc.get_job(session, viewer, job_id)
    return JobOut(
        id=job.id,
        status=job.status,
        total=job.total,
        done=job.done,
        failed=job.failed,
        failures=[JobFailure(**f) for f in job.failures or []],
        created_at=job.created_at,
        finished_at=job.finished_at,
    )


@router.post("/{lead_id}", response_model=EnrichmentOut)
async def enrich_one(
    lead_id: Annotated[RowId, Path(description="Lead id")],
    session: SessionDep,
    state: StateDep,
    viewer: ViewerDep,
) -> EnrichmentOut:
    """Enrich one lead now (sun, zones, grid, urbanism, economics, score) and return the result."""
    await get_visible_lead(session, viewer, lead_id)
    await session.rollback()  # release the read; the engine runs its own transaction
    result = await enrich_lead(
        state.sessions,
        lead_id,
        actor=Actor(viewer.user_id, viewer.role),
        config=svc.enrichment_config(state.settings),
        pvgis=svc.pvgis_client(state),
    )
    assert result is not None
    return EnrichmentOut.model_validate(result)
