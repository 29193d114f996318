"""Pipeline analytics in SQL, under the viewer's visibility (cached by the router).

Each answer is one pass over the rows it needs, computed in < 100 ms on 100k leads:
- the lead figures read ``ix_leads_analytics`` (an index-only scan of the columns they use, not
  the heap and its geometries);
- the status-history figures read ``lead_stage_facts`` (history rows with the stay's duration
  and a copy of the lead's filterable columns, kept exact by triggers, migration 0008), so they
  need no join of 250k history rows to 100k leads. The filters are the very
  :func:`filter_clauses`, re-targeted at that copy; a filter on a column it lacks (bbox, q)
  takes the join instead.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Column, ColumnElement, Float, and_, cast, func, literal_column, or_, select
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql import visitors
from sqlalchemy.sql.util import find_tables

from api.services.leads_query import LeadFilters, filter_clauses
from geo.models import Lead, LeadStatus, LeadStatusHistory, Role, User
from geo.models.leads import STAGE_FACT_LEAD_COLUMNS, LeadStageFact
from geo.visibility import Viewer

S = LeadStatus
FUNNEL = [S.NEW, S.ENRICHED, S.QUALIFIED, S.IN_REVIEW, S.CLIENT_READY, S.SOLD]
F = LeadStageFact
_LEADS = Lead.__table__
_FACTS = LeadStageFact.__table__


class _NotCopied(Exception):
    """A filter reads a lead column lead_stage_facts has no copy of."""


def _on_facts(element: Any, **_options: Any) -> Any:
    # replacement_traverse's callback (its protocol allows keyword options): the facts' copy of a
    # lead column, None to keep any other element.
    if isinstance(element, Column) and element.table is _LEADS:
        if element.name not in STAGE_FACT_LEAD_COLUMNS:
            raise _NotCopied(element.name)
        return _FACTS.c[element.name]
    return None


@dataclass(frozen=True)
class Scope:
    """The analytics' own filters, beside the list's (:class:`LeadFilters`).

    ``start``/``end``: the period, [start, end) in UTC. The lead figures (funnel, scores,
    departments) count the leads *created* in it; the history figures (weekly moves, time per
    stage, the team's moves and reviews) count what *happened* in it. ``person``: the leads of
    one user, assigned to them or created by them.
    """

    start: datetime | None = None
    end: datetime | None = None
    person: int | None = None

    def key(self) -> tuple[object, ...]:
        """A cache-key fragment (plain values: its repr is the same in every process)."""
        return (
            self.start.isoformat() if self.start else None,
            self.end.isoformat() if self.end else None,
            self.person,
        )


ALL = Scope()


def lead_clauses(
    viewer: Viewer, f: LeadFilters, scope: Scope = ALL, *, created_in_period: bool = False
) -> list[ColumnElement[bool]]:
    """:func:`filter_clauses`, the person, and with ``created_in_period`` the leads created in
    the period."""
    clauses = filter_clauses(viewer, f)
    if scope.person is not None:
        clauses.append(or_(Lead.assignee_id == scope.person, Lead.created_by_id == scope.person))
    if created_in_period:
        if scope.start is not None:
            clauses.append(Lead.created_at >= scope.start)
        if scope.end is not None:
            clauses.append(Lead.created_at < scope.end)
    return clauses


def _in_period(column: Any, scope: Scope) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if scope.start is not None:
        out.append(column >= scope.start)
    if scope.end is not None:
        out.append(column < scope.end)
    return out


def fact_clauses(
    viewer: Viewer, f: LeadFilters, scope: Scope = ALL
) -> list[ColumnElement[bool]] | None:
    """:func:`lead_clauses` on lead_stage_facts' copy of the lead columns (same names), or
    None when one of them needs a column or expression of ``leads`` that isn't copied."""
    if f.bbox or f.q:
        return None
    try:
        clauses = [
            visitors.replacement_traverse(c, {}, _on_facts) for c in lead_clauses(viewer, f, scope)
        ]
    except _NotCopied:
        return None
    if any(t is _LEADS for c in clauses for t in find_tables(c, include_crud=True)):
        return None
    return clauses


async def funnel(
    session: AsyncSession, viewer: Viewer, f: LeadFilters, scope: Scope = ALL
) -> dict[str, Any]:
    """Count per status; conversion k→k+1 = leads at or beyond k+1 / leads at or beyond k.
    Every lead is counted once: the main path's stages, then rejected and archived."""
    where = lead_clauses(viewer, f, scope, created_in_period=True)
    rows = await session.execute(
        select(Lead.status, func.count()).where(*where).group_by(Lead.status)
    )
    counts = {s.value: 0 for s in S}
    for status, n in rows:
        counts[LeadStatus(status).value] = n
    reached = []
    for i, _ in enumerate(FUNNEL):
        reached.append(sum(counts[s.value] for s in FUNNEL[i:]))
    stages = []
    for i, status in enumerate(FUNNEL):
        nxt = reached[i + 1] if i + 1 < len(FUNNEL) else None
        conv = (nxt / reached[i]) if nxt is not None and reached[i] else None
        stages.append(
            {
                "status": status.value,
                "count": counts[status.value],
                "reached": reached[i],
                "conversion_to_next": round(conv, 4) if conv is not None else None,
            }
        )
    return {
        "counts": counts,
        "stages": stages,
        "rejected": counts[S.REJECTED.value],
        "archived": counts[S.ARCHIVED.value],
        "total": sum(counts.values()),
    }


def _week(col: Any) -> Any:
    return func.date_trunc("week", col)


def _monday(day: datetime) -> datetime:
    start = day.astimezone(UTC).date()
    return datetime(start.year, start.month, start.day, tzinfo=UTC) - timedelta(
        days=start.weekday()
    )


async def weekly(
    session: AsyncSession,
    viewer: Viewer,
    f: LeadFilters,
    weeks: int,
    scope: Scope = ALL,
    *,
    other: AsyncSession | None = None,
) -> dict[str, Any]:
    """Leads created, qualified and sold per ISO week (Monday): the weeks of the period, else
    the last ``weeks`` weeks. With ``other``, the moves are counted on it while the creations
    are counted on ``session``."""
    now = datetime.now(UTC)
    last = min(scope.end, now) if scope.end is not None else now
    first = scope.start if scope.start is not None else last - timedelta(weeks=weeks - 1)
    start_dt = _monday(first)
    since = max(start_dt, scope.start) if scope.start is not None else start_dt
    period = Scope(since, scope.end, scope.person)
    where = lead_clauses(viewer, f, scope)
    created_q = (
        select(_week(Lead.created_at).label("w"), func.count())
        .where(*where, *_in_period(Lead.created_at, period))
        .group_by(literal_column("w"))
    )
    moving = [S.QUALIFIED.value, S.SOLD.value]
    on_facts = fact_clauses(viewer, f, scope)
    if on_facts is not None:
        moved_q = (
            select(_week(F.entered_at).label("w"), F.stay_status, func.count(F.lead_id.distinct()))
            .where(*on_facts, F.stay_status.in_(moving), *_in_period(F.entered_at, period))
            .group_by(literal_column("w"), F.stay_status)
        )
    else:
        moved_q = (
            select(
                _week(LeadStatusHistory.entered_at).label("w"),
                LeadStatusHistory.status,
                func.count(func.distinct(LeadStatusHistory.lead_id)),
            )
            .join(Lead, Lead.id == LeadStatusHistory.lead_id)
            .where(
                *where,
                LeadStatusHistory.status.in_(moving),
                *_in_period(LeadStatusHistory.entered_at, period),
            )
            .group_by(literal_column("w"), LeadStatusHistory.status)
        )
    if other is None:
        created = await session.execute(created_q)
        moved = await session.execute(moved_q)
    else:
        created, moved = await asyncio.gather(session.execute(created_q), other.execute(moved_q))
    series: dict[str, dict[str, int]] = {}
    day = start_dt
    while day <= last and len(series) <= 530:  # a period of up to ten years
        series[day.date().isoformat()] = {"created": 0, "qualified": 0, "sold": 0}
        day += timedelta(weeks=1)
    for w, n in created:
        series.setdefault(w.date().isoformat(), {"created": 0, "qualified": 0, "sold": 0})
        series[w.date().isoformat()]["created"] = n
    for w, status, n in moved:
        key = "qualified" if LeadStatus(status) is S.QUALIFIED else "sold"
        series.setdefault(w.date().isoformat(), {"created": 0, "qualified": 0, "sold": 0})
        series[w.date().isoformat()][key] = n
    return {"weeks": [{"week": k, **v} for k, v in sorted(series.items())]}


def _decade_start(i: int) -> float:
    """The smallest float8 ``q`` with ``floor(q / 10) >= i`` (IEEE division, as PostgreSQL's)."""
    q = float(10 * i)
    while math.floor(math.nextafter(q, -math.inf) / 10) >= i:
        q = math.nextafter(q, -math.inf)
    return q


# floor(q / 10) >= i  <=>  q >= _DECADE_STARTS[i] (the rounded division is monotonic).
_DECADE_STARTS = [_decade_start(i) for i in range(10)]


async def scores(
    session: AsyncSession, viewer: Viewer, f: LeadFilters, scope: Scope = ALL
) -> dict[str, Any]:
    """Average, quartiles and a 10-point histogram of quality scores (scored leads only).

    One pass. Bucket ``least(floor(score / 10), 9)``, counted as "score >= the bucket's first
    double" (:data:`_DECADE_STARTS`): one comparison per bucket instead of a division.
    """
    q = Lead.quality_score
    at_least = [func.count().filter(q >= start) for start in _DECADE_STARTS]
    stats = (
        await session.execute(
            select(
                func.count(q),
                func.avg(q),
                func.percentile_cont(0.5).within_group(q),
                func.avg(Lead.completeness),
                func.count(),
                *at_least,
            ).where(*lead_clauses(viewer, f, scope, created_in_period=True))
        )
    ).one()
    # at_least[i]: scores in bucket i or above (NaN sorts above all: bucket 9, as least() puts it).
    above = [*stats[5:15], 0]
    counts = [above[i] - above[i + 1] for i in range(10)]
    buckets = [{"from": i * 10, "to": i * 10 + 10, "count": n} for i, n in enumerate(counts)]
    return {
        "scored": stats[0],
        "unscored": stats[4] - stats[0],
        "average": round(float(stats[1]), 2) if stats[1] is not None else None,
        "median": round(float(stats[2]), 2) if stats[2] is not None else None,
        "average_completeness": round(float(stats[3]), 4) if stats[3] is not None else None,
        "histogram": buckets,
    }


async def departments(
    session: AsyncSession, viewer: Viewer, f: LeadFilters, scope: Scope = ALL
) -> dict[str, Any]:
    """Per department: leads, sold, average score and total surface (ha)."""
    rows = await session.execute(
        select(
            Lead.department,
            func.count(),
            func.count().filter(Lead.status == S.SOLD.value),
            func.count().filter(Lead.status == S.CLIENT_READY.value),
            func.avg(Lead.quality_score),
            func.sum(Lead.area_m2),
        )
        .where(*lead_clauses(viewer, f, scope, created_in_period=True))
        .group_by(Lead.department)
        .order_by(func.count().desc(), Lead.department)
    )
    return {
        "departments": [
            {
                "department": d,
                "leads": n,
                "sold": sold,
                "client_ready": ready,
                "average_score": round(float(avg), 2) if avg is not None else None,
                "surface_ha": round(float(area or 0) / 10_000, 2),
            }
            for d, n, sold, ready, avg, area in rows
        ]
    }


# Stage times in two halves of about the same number of stays, on two connections at once: the
# exact median and P90 are an ordered-set aggregate, which PostgreSQL runs on one core.
_FIRST_HALF = (S.NEW, S.QUALIFIED, S.CLIENT_READY, S.REJECTED)
_STAGE_HALVES = (_FIRST_HALF, tuple(s for s in S if s not in _FIRST_HALF))  # every status once


def _stage_times_query(
    viewer: Viewer, f: LeadFilters, statuses: tuple[LeadStatus, ...], scope: Scope = ALL
) -> Any:
    on_facts = fact_clauses(viewer, f, scope)
    values = [s.value for s in statuses]
    if on_facts is not None:
        # One ordered index-only scan (stay_status, days): each group arrives sorted.
        return (
            select(
                F.stay_status,
                func.count(F.days),
                # Both percentiles from one sort (the input arrives sorted anyway).
                func.percentile_cont(array([0.5, 0.9])).within_group(F.days),
                func.count().filter(F.days.is_(None)),
            )
            .where(*on_facts, F.stay_status.in_(values), *_in_period(F.entered_at, scope))
            .group_by(F.stay_status)
        )
    h = LeadStatusHistory
    days = cast(func.extract("epoch", h.left_at - h.entered_at), Float) / 86400.0
    return (
        select(
            h.status,
            func.count(h.left_at),
            func.percentile_cont(array([0.5, 0.9])).within_group(days),
            func.count().filter(h.left_at.is_(None)),
        )
        .join(Lead, Lead.id == h.lead_id)
        .where(
            *lead_clauses(viewer, f, scope), h.status.in_(values), *_in_period(h.entered_at, scope)
        )
        .group_by(h.status)
    )


async def stage_times(
    session: AsyncSession,
    viewer: Viewer,
    f: LeadFilters,
    scope: Scope = ALL,
    *,
    other: AsyncSession | None = None,
) -> dict[str, Any]:
    """Time spent per status (days): median and P90 of finished stays, and how many are open
    (stays entered in the period). With ``other``, half the statuses are computed on it at the
    same time."""
    if other is None:
        results = [await session.execute(_stage_times_query(viewer, f, tuple(S), scope))]
    else:
        results = list(
            await asyncio.gather(
                session.execute(_stage_times_query(viewer, f, _STAGE_HALVES[0], scope)),
                other.execute(_stage_times_query(viewer, f, _STAGE_HALVES[1], scope)),
            )
        )
    rows = [(st, n, *(p or (None, None)), open_) for r in results for st, n, p, open_ in r]
    by_status = {LeadStatus(r[0]).value: r for r in rows}
    out: list[dict[str, Any]] = []
    for status in S:
        r = by_status.get(status.value)
        out.append(
            {
                "status": status.value,
                "finished": r[1] if r else 0,
                "median_days": round(r[2], 3) if r and r[2] is not None else None,
                "p90_days": round(r[3], 3) if r and r[3] is not None else None,
                "in_progress": r[4] if r else 0,
            }
        )
    return {"stages": out}


# The moves throughput counts, in its columns' order (moves to other statuses count nowhere).
_MOVES = {
    "enriched": S.ENRICHED,
    "qualified": S.QUALIFIED,
    "submitted": S.IN_REVIEW,
    "rejected": S.REJECTED,
}


async def throughput(
    session: AsyncSession, viewer: Viewer, f: LeadFilters, days: int, scope: Scope = ALL
) -> dict[str, Any]:
    """The team over the period (else the last ``days``): per OPS user the leads created,
    enriched, qualified, submitted and rejected; per MANAGER/ADMIN the QA decisions."""
    since = scope.start if scope.start is not None else datetime.now(UTC) - timedelta(days=days)
    period = Scope(since, scope.end, scope.person)
    where = lead_clauses(viewer, f, scope)
    on_facts = fact_clauses(viewer, f, scope)
    moved = [s.value for s in _MOVES.values()]
    if on_facts is not None:
        moves_q = (
            select(
                F.changed_by_id,
                *(func.count().filter(F.stay_status == s.value) for s in _MOVES.values()),
            )
            .where(*on_facts, F.stay_status.in_(moved), *_in_period(F.entered_at, period))
            .group_by(F.changed_by_id)
        )
    else:
        h = LeadStatusHistory
        moves_q = (
            select(
                h.changed_by_id,
                *(func.count().filter(h.status == s.value) for s in _MOVES.values()),
            )
            .join(Lead, Lead.id == h.lead_id)
            .where(*where, h.status.in_(moved), *_in_period(h.entered_at, period))
            .group_by(h.changed_by_id)
        )
    moves = {uid: counts for uid, *counts in await session.execute(moves_q)}
    # Created in the period: a range of ix_leads_analytics_created; assigned now: one pass.
    created = dict(
        (
            await session.execute(
                select(Lead.created_by_id, func.count())
                .where(*where, *_in_period(Lead.created_at, period))
                .group_by(Lead.created_by_id)
            )
        ).all()
    )
    assigned = dict(
        (
            await session.execute(
                select(Lead.assignee_id, func.count()).where(*where).group_by(Lead.assignee_id)
            )
        ).all()
    )
    ops = await session.execute(select(User.id, User.full_name).where(User.role == Role.OPS.value))
    users: list[dict[str, Any]] = []
    for uid, name in ops:
        e, q, s, r = moves.get(uid, (0, 0, 0, 0))
        users.append(
            {
                "user_id": uid,
                "full_name": name,
                "created": created.get(uid, 0),
                "enriched": e,
                "qualified": q,
                "submitted": s,
                "rejected": r,
                "assigned_now": assigned.get(uid, 0),
            }
        )
    users.sort(key=lambda u: (-u["qualified"], u["user_id"]))
    return {
        "days": days,
        "since": since.isoformat(),
        "until": scope.end.isoformat() if scope.end is not None else None,
        "users": users,
        "reviews": await reviews(session, viewer, f, period),
    }


async def reviews(
    session: AsyncSession, viewer: Viewer, f: LeadFilters, scope: Scope
) -> list[dict[str, Any]]:
    """The QA decisions made in the period, per MANAGER/ADMIN (anyone who decided, and every
    active manager): a decision is the move that ends an IN_REVIEW stay — approved (Prêt
    client), sent back (Qualifié), rejected or archived; its time is that stay's length."""
    review = aliased(LeadStatusHistory)
    decision = aliased(LeadStatusHistory)
    days = cast(func.extract("epoch", review.left_at - review.entered_at), Float) / 86400.0
    rows = await session.execute(
        select(
            decision.changed_by_id,
            func.count(),
            func.count().filter(decision.status == S.CLIENT_READY.value),
            func.count().filter(decision.status == S.QUALIFIED.value),
            func.count().filter(decision.status.in_([S.REJECTED.value, S.ARCHIVED.value])),
            func.percentile_cont(0.5).within_group(days),
        )
        .select_from(review)
        .join(
            decision,
            and_(decision.lead_id == review.lead_id, decision.entered_at == review.left_at),
        )
        .join(Lead, Lead.id == review.lead_id)
        .where(
            *lead_clauses(viewer, f, scope),
            review.status == S.IN_REVIEW.value,
            review.left_at.is_not(None),
            # The same instant twice: on the review too, so fewer stays reach the join.
            *_in_period(review.left_at, scope),
            *_in_period(decision.entered_at, scope),
        )
        .group_by(decision.changed_by_id)
    )
    by_user = {uid: rest for uid, *rest in rows}
    staff = await session.execute(
        select(User.id, User.full_name, User.role).where(
            or_(
                User.id.in_([u for u in by_user if u is not None]),
                and_(User.role == Role.MANAGER.value, User.is_active),
            )
        )
    )
    out: list[dict[str, Any]] = []
    for uid, name, role in staff:
        n, approved, returned, closed, median = by_user.get(uid, (0, 0, 0, 0, None))
        out.append(
            {
                "user_id": uid,
                "full_name": name,
                "role": Role(role).value,
                "decisions": n,
                "approved": approved,
                "sent_back": returned,
                "rejected": closed,
                "approval_rate": round(approved / n, 4) if n else None,
                "median_review_days": round(float(median), 3) if median is not None else None,
            }
        )
    out.sort(key=lambda u: (-u["decisions"], u["user_id"]))
    return out
