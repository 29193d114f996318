"""Analytics: funnel, weekly flow, scores, departments, time per stage, the team's throughput
and QA reviews; the list's filters plus a period (``from``/``to``) and a person."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import SessionDep, StateDep, ViewerDep, require_role
from api.routers.leads import FiltersDep
from api.schemas.analytics import Departments, Funnel, Scores, StageTimes, Throughput, Weekly
from api.schemas.strict import UserId
from api.services import analytics as svc
from api.services.analytics_cache import AnalyticsCache, leads_version
from api.services.leads_query import LeadFilters
from api.state import AppState
from geo.errors import InvalidInput
from geo.models import Role
from geo.visibility import Viewer

router = APIRouter(prefix="/analytics", tags=["analytics"])

PARIS = ZoneInfo("Europe/Paris")


def _midnight(day: date) -> datetime:
    """The start of a calendar day in Paris, the team's time."""
    return datetime.combine(day, time(0), tzinfo=PARIS)


async def analytics_scope(
    from_: Annotated[
        date | None,
        Query(alias="from", description="First day of the period (Paris time), included"),
    ] = None,
    to: Annotated[
        date | None, Query(description="Last day of the period (Paris time), included")
    ] = None,
    person: Annotated[
        UserId | None, Query(description="Only the leads assigned to or created by this user")
    ] = None,
) -> svc.Scope:
    """The period and the person (422 when the period ends before it starts)."""
    if from_ is not None and to is not None and to < from_:
        raise InvalidInput("the period ends before it starts (to < from)", field="to")
    return svc.Scope(
        start=_midnight(from_) if from_ is not None else None,
        end=_midnight(to + timedelta(days=1)) if to is not None else None,
        person=person,
    )


ScopeDep = Annotated[svc.Scope, Depends(analytics_scope)]


def _cache(state: AppState) -> AnalyticsCache:
    return state.analytics


Compute = Callable[[AsyncSession, Viewer, LeadFilters], Awaitable[dict[str, Any]]]


async def _cached(
    state: AppState,
    session: AsyncSession,
    viewer: Viewer,
    f: LeadFilters,
    scope: svc.Scope,
    response: Response,
    endpoint: str,
    compute: Compute,
    *params: Any,
) -> dict[str, Any]:
    """The answer from the cache (fresh, or recent while it is refreshed), else computed. The
    key holds every input of the answer: the list's filters, the period and person, the
    endpoint's own parameters and the viewer's visibility."""
    version = await leads_version(session)
    # The answer is computed on a session of its own (it may outlive the request): hand the
    # request's connection back first, so a request never holds one while waiting for another.
    await session.close()

    async def run() -> dict[str, Any]:
        # Its own session: a background refresh outlives the request's.
        async with state.sessions() as own:
            return await compute(own, viewer, f)

    key = (endpoint, f.key(), scope.key(), params, viewer.scope)
    result, stale = await _cache(state).get_swr(key, version, run)
    response.headers["Cache-Control"] = "private, no-cache"
    if stale:
        response.headers["X-Data-Stale"] = "true"
    return result


@router.get("/funnel", response_model=Funnel)
async def funnel(
    session: SessionDep,
    viewer: ViewerDep,
    state: StateDep,
    f: FiltersDep,
    scope: ScopeDep,
    response: Response,
) -> dict[str, Any]:
    """Leads (created in the period) per status and conversion between stages; rejected and
    archived ones counted apart, so every lead is accounted for."""

    async def compute(s: AsyncSession, v: Viewer, flt: LeadFilters) -> dict[str, Any]:
        return await svc.funnel(s, v, flt, scope)

    return await _cached(state, session, viewer, f, scope, response, "funnel", compute)


@router.get("/weekly", response_model=Weekly)
async def weekly(
    session: SessionDep,
    viewer: ViewerDep,
    state: StateDep,
    f: FiltersDep,
    scope: ScopeDep,
    response: Response,
    weeks: Annotated[
        int, Query(ge=1, le=104, description="How many weeks back (without a period)")
    ] = 26,
) -> dict[str, Any]:
    """Leads created, qualified and sold per week (the weeks of the period, else the last
    ``weeks``)."""

    async def compute(s: AsyncSession, v: Viewer, flt: LeadFilters) -> dict[str, Any]:
        async with state.sessions() as other:  # its two counts at once
            return await svc.weekly(s, v, flt, weeks, scope, other=other)

    return await _cached(state, session, viewer, f, scope, response, "weekly", compute, weeks)


@router.get("/scores", response_model=Scores)
async def scores(
    session: SessionDep,
    viewer: ViewerDep,
    state: StateDep,
    f: FiltersDep,
    scope: ScopeDep,
    response: Response,
) -> dict[str, Any]:
    """Average, median and distribution of quality scores (leads created in the period)."""

    async def compute(s: AsyncSession, v: Viewer, flt: LeadFilters) -> dict[str, Any]:
        return await svc.scores(s, v, flt, scope)

    return await _cached(state, session, viewer, f, scope, response, "scores", compute)


@router.get("/departments", response_model=Departments)
async def departments(
    session: SessionDep,
    viewer: ViewerDep,
    state: StateDep,
    f: FiltersDep,
    scope: ScopeDep,
    response: Response,
) -> dict[str, Any]:
    """Leads, sales, score and surface per department (leads created in the period)."""

    async def compute(s: AsyncSession, v: Viewer, flt: LeadFilters) -> dict[str, Any]:
        return await svc.departments(s, v, flt, scope)

    return await _cached(state, session, viewer, f, scope, response, "departments", compute)


@router.get("/stage-times", response_model=StageTimes)
async def stage_times(
    session: SessionDep,
    viewer: ViewerDep,
    state: StateDep,
    f: FiltersDep,
    scope: ScopeDep,
    response: Response,
) -> dict[str, Any]:
    """Median and P90 time spent per status (stays entered in the period)."""

    async def compute(s: AsyncSession, v: Viewer, flt: LeadFilters) -> dict[str, Any]:
        async with state.sessions() as other:  # half the statuses each, at once
            return await svc.stage_times(s, v, flt, scope, other=other)

    return await _cached(state, session, viewer, f, scope, response, "stage-times", compute)


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
    scope: ScopeDep,
    response: Response,
    days: Annotated[int, Query(ge=1, le=366, description="Period, in days (without from)")] = 30,
) -> dict[str, Any]:
    """The team over the period (MANAGER/ADMIN): per OPS user their moves, per MANAGER/ADMIN
    their QA decisions (count, approval rate, median time to review)."""

    async def compute(s: AsyncSession, v: Viewer, flt: LeadFilters) -> dict[str, Any]:
        return await svc.throughput(s, v, flt, days, scope)

    return await _cached(state, session, viewer, f, scope, response, "throughput", compute, days)
