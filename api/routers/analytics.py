"""Analytics: funnel, weekly flow, scores, departments, time per stage, per-OPS throughput."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.deps import SessionDep, StateDep, ViewerDep, require_role
from api.errors import PROBLEM_RESPONSES
from api.routers.leads import FiltersDep
from api.schemas.analytics import Departments, Funnel, Scores, StageTimes, Throughput, Weekly
from api.services import analytics as svc
from api.state import AppState
from geo.models import Role
from geo.visibility import Viewer

router = APIRouter(prefix="/analytics", tags=["analytics"], responses=PROBLEM_RESPONSES)


def _cache(state: AppState) -> svc.AnalyticsCache:
    s = state.settings.leads
    return svc.cache_for(state.extras, s.analytics_cache_ttl_s, s.analytics_cache_entries)


async def _cached(
    state: AppState,
    session: SessionDep,
    viewer: Viewer,
    endpoint: str,
    params: tuple[Any, ...],
    compute: Callable[[], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    version = await svc.leads_version(session)
    key = (endpoint, params, viewer.scope, version)
    result: dict[str, Any] = await _cache(state).get_or_compute(key, compute)
    return result


@router.get("/funnel", response_model=Funnel)
async def funnel(
    session: SessionDep, viewer: ViewerDep, state: StateDep, f: FiltersDep
) -> dict[str, Any]:
    """Leads per status and conversion between stages."""
    return await _cached(
        state, session, viewer, "funnel", (f.key(),), lambda: svc.funnel(session, viewer, f)
    )


@router.get("/weekly", response_model=Weekly)
async def weekly(
    session: SessionDep,
    viewer: ViewerDep,
    state: StateDep,
    f: FiltersDep,
    weeks: Annotated[int, Query(ge=1, le=104, description="How many weeks back")] = 26,
) -> dict[str, Any]:
    """Leads created, qualified and sold per week."""
    return await _cached(
        state,
        session,
        viewer,
        "weekly",
        (f.key(), weeks),
        lambda: svc.weekly(session, viewer, f, weeks),
    )


@router.get("/scores", response_model=Scores)
async def scores(
    session: SessionDep, viewer: ViewerDep, state: StateDep, f: FiltersDep
) -> dict[str, Any]:
    """Average, median and distribution of quality scores."""
    return await _cached(
        state, session, viewer, "scores", (f.key(),), lambda: svc.scores(session, viewer, f)
    )


@router.get("/departments", response_model=Departments)
async def departments(
    session: SessionDep, viewer: ViewerDep, state: StateDep, f: FiltersDep
) -> dict[str, Any]:
    """Leads, sales, score and surface per department."""
    return await _cached(
        state,
        session,
        viewer,
        "departments",
        (f.key(),),
        lambda: svc.departments(session, viewer, f),
    )


@router.get("/stage-times", response_model=StageTimes)
async def stage_times(
    session: SessionDep, viewer: ViewerDep, state: StateDep, f: FiltersDep
) -> dict[str, Any]:
    """Median and P90 time spent per status."""
    return await _cached(
        state,
        session,
        viewer,
        "stage-times",
        (f.key(),),
        lambda: svc.stage_times(session, viewer, f),
    )


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
    days: Annotated[int, Query(ge=1, le=366, description="Period, in days")] = 30,
) -> dict[str, Any]:
    """Per-OPS throughput over a period (MANAGER/ADMIN)."""
    return await _cached(
        state,
        session,
        viewer,
        "throughput",
        (f.key(), days),
        lambda: svc.throughput(session, viewer, f, days),
    )
