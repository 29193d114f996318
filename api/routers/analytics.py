"""Analytics: funnel, weekly flow, scores, departments, time per stage, per-OPS throughput."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import SessionDep, StateDep, ViewerDep, require_role
from api.routers.leads import FiltersDep
from api.schemas.analytics import Departments, Funnel, Scores, StageTimes, Throughput, Weekly
from api.services import analytics as svc
from api.services.analytics_cache import AnalyticsCache, leads_version
from api.services.leads_query import LeadFilters
from api.state import AppState
from geo.models import Role
from geo.visibility import Viewer

router = APIRouter(prefix="/analytics", tags=["analytics"])


def _cache(state: AppState) -> AnalyticsCache:
    return state.analytics


Compute = Callable[[AsyncSession, Viewer, LeadFilters], Awaitable[dict[str, Any]]]


async def _cached(
    state: AppState,
    session: AsyncSession,
    viewer: Viewer,
    f: LeadFilters,
    response: Response,
    endpoint: str,
    compute: Compute,
    *params: Any,
) -> dict[str, Any]:
    """The answer from the cache (fresh, or recent while it is refreshed), else computed."""
    version = await leads_version(session)

    async def run() -> dict[str, Any]:
        # Its own session: a background refresh outlives the request's.
        async with state.sessions() as own:
            return await compute(own, viewer, f)

    key = (endpoint, f.key(), params, viewer.scope)
    result, stale = await _cache(state).get_swr(key, version, run)
    response.headers["Cache-Control"] = "private, no-cache"
    if stale:
        response.headers["X-Data-Stale"] = "true"
    return result


@router.get("/funnel", response_model=Funnel)
async def funnel(
    session: SessionDep, viewer: ViewerDep, state: StateDep, f: FiltersDep, response: Response
) -> dict[str, Any]:
    """Leads per status and conversion between stages."""
    return await _cached(state, session, viewer, f, response, "funnel", svc.funnel)


@router.get("/weekly", response_model=Weekly)
async def weekly(
    session: SessionDep,
    viewer: ViewerDep,
    state: StateDep,
    f: FiltersDep,
    response: Response,
    weeks: Annotated[int, Query(ge=1, le=104, description="How many weeks back")] = 26,
) -> dict[str, Any]:
    """Leads created, qualified and sold per week."""

    async def compute(s: AsyncSession, v: Viewer, flt: LeadFilters) -> dict[str, Any]:
        async with state.sessions() as other:  # its two counts at once
            return await svc.weekly(s, v, flt, weeks, other=other)

    return await _cached(state, session, viewer, f, response, "weekly", compute, weeks)


@router.get("/scores", response_model=Scores)
async def scores(
    session: SessionDep, viewer: ViewerDep, state: StateDep, f: FiltersDep, response: Response
) -> dict[str, Any]:
    """Average, median and distribution of quality scores."""
    return await _cached(state, session, viewer, f, response, "scores", svc.scores)


@router.get("/departments", response_model=Departments)
async def departments(
    session: SessionDep, viewer: ViewerDep, state: StateDep, f: FiltersDep, response: Response
) -> dict[str, Any]:
    """Leads, sales, score and surface per department."""
    return await _cached(state, session, viewer, f, response, "departments", svc.departments)


@router.get("/stage-times", response_model=StageTimes)
async def stage_times(
    session: SessionDep, viewer: ViewerDep, state: StateDep, f: FiltersDep, response: Response
) -> dict[str, Any]:
    """Median and P90 time spent per status."""

    async def compute(s: AsyncSession, v: Viewer, flt: LeadFilters) -> dict[str, Any]:
        async with state.sessions() as other:  # half the statuses each, at once
            return await svc.stage_times(s, v, flt, other=other)

    return await _cached(state, session, viewer, f, response, "stage-times", compute)


@router.get(
    "/throughput",
    response_model=Throughput,
    dependencies=[Depends(require_role(Role.ADMIN, Role.MANAGER))],
)
async def throughput(
    session: SessionDep,
    viewer: ViewerDep,
    state: StateDep,
    f: FiltersDep,
    response: Response,
    days: Annotated[int, Query(ge=1, le=366, description="Period, in days")] = 30,
) -> dict[str, Any]:
    """Per-OPS throughput over a period (MANAGER/ADMIN)."""

    async def compute(s: AsyncSession, v: Viewer, flt: LeadFilters) -> dict[str, Any]:
        return await svc.throughput(s, v, flt, days)

    return await _cached(state, session, viewer, f, response, "throughput", compute, days)
