"""Pipeline analytics in SQL, under the viewer's visibility (cached by the router)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Float, case, cast, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.services.leads_query import LeadFilters, filter_clauses
from geo.models import Lead, LeadStatus, LeadStatusHistory, Role, User
from geo.visibility import Viewer

S = LeadStatus
FUNNEL = [S.NEW, S.ENRICHED, S.QUALIFIED, S.IN_REVIEW, S.CLIENT_READY, S.SOLD]


async def funnel(session: AsyncSession, viewer: Viewer, f: LeadFilters) -> dict[str, Any]:
    """Count per status; conversion k→k+1 = leads at or beyond k+1 / leads at or beyond k."""
    rows = await session.execute(
        select(Lead.status, func.count()).where(*filter_clauses(viewer, f)).group_by(Lead.status)
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


async def weekly(
    session: AsyncSession, viewer: Viewer, f: LeadFilters, weeks: int
) -> dict[str, Any]:
    """Leads created, qualified and sold per ISO week (Monday), the last ``weeks`` weeks."""
    now = datetime.now(UTC)
    start = (now - timedelta(weeks=weeks - 1)).date()
    start_dt = datetime(start.year, start.month, start.day, tzinfo=UTC) - timedelta(
        days=start.weekday()
    )
    where = filter_clauses(viewer, f)
    created = await session.execute(
        select(_week(Lead.created_at).label("w"), func.count())
        .where(*where, Lead.created_at >= start_dt)
        .group_by(literal_column("w"))
    )
    moved = await session.execute(
        select(
            _week(LeadStatusHistory.entered_at).label("w"),
            LeadStatusHistory.status,
            func.count(func.distinct(LeadStatusHistory.lead_id)),
        )
        .join(Lead, Lead.id == LeadStatusHistory.lead_id)
        .where(
            *where,
            LeadStatusHistory.status.in_([S.QUALIFIED.value, S.SOLD.value]),
            LeadStatusHistory.entered_at >= start_dt,
        )
        .group_by(literal_column("w"), LeadStatusHistory.status)
    )
    series: dict[str, dict[str, int]] = {}
    for i in range(weeks + 1):
        day = (start_dt + timedelta(weeks=i)).date()
        if day > now.date():
            break
        series[day.isoformat()] = {"created": 0, "qualified": 0, "sold": 0}
    for w, n in created:
        series.setdefault(w.date().isoformat(), {"created": 0, "qualified": 0, "sold": 0})
        series[w.date().isoformat()]["created"] = n
    for w, status, n in moved:
        key = "qualified" if LeadStatus(status) is S.QUALIFIED else "sold"
        series.setdefault(w.date().isoformat(), {"created": 0, "qualified": 0, "sold": 0})
        series[w.date().isoformat()][key] = n
    return {"weeks": [{"week": k, **v} for k, v in sorted(series.items())]}


async def scores(session: AsyncSession, viewer: Viewer, f: LeadFilters) -> dict[str, Any]:
    """Average, quartiles and a 10-point histogram of quality scores (scored leads only)."""
    where = filter_clauses(viewer, f)
    bucket = func.least(func.floor(Lead.quality_score / 10), 9)
    stats = (
        await session.execute(
            select(
                func.count(Lead.quality_score),
                func.avg(Lead.quality_score),
                func.percentile_cont(0.5).within_group(Lead.quality_score),
                func.avg(Lead.completeness),
                func.count(),
            ).where(*where)
        )
    ).one()
    hist = await session.execute(
        select(bucket.label("b"), func.count())
        .where(*where, Lead.quality_score.is_not(None))
        .group_by(literal_column("b"))
    )
    buckets = [{"from": i * 10, "to": i * 10 + 10, "count": 0} for i in range(10)]
    for b, n in hist:
        buckets[int(b)]["count"] = n
    return {
        "scored": stats[0],
        "unscored": stats[4] - stats[0],
        "average": round(float(stats[1]), 2) if stats[1] is not None else None,
        "median": round(float(stats[2]), 2) if stats[2] is not None else None,
        "average_completeness": round(float(stats[3]), 4) if stats[3] is not None else None,
        "histogram": buckets,
    }


async def departments(session: AsyncSession, viewer: Viewer, f: LeadFilters) -> dict[str, Any]:
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
        .where(*filter_clauses(viewer, f))
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


async def stage_times(session: AsyncSession, viewer: Viewer, f: LeadFilters) -> dict[str, Any]:
    """Time spent per status (days): median and P90 of finished stays, and how many are open."""
    days = (
        cast(func.extract("epoch", LeadStatusHistory.left_at - LeadStatusHistory.entered_at), Float)
        / 86400.0
    )
    rows = await session.execute(
        select(
            LeadStatusHistory.status,
            func.count(LeadStatusHistory.left_at),
            func.percentile_cont(0.5).within_group(days),
            func.percentile_cont(0.9).within_group(days),
            func.count().filter(LeadStatusHistory.left_at.is_(None)),
        )
        .join(Lead, Lead.id == LeadStatusHistory.lead_id)
        .where(*filter_clauses(viewer, f))
        .group_by(LeadStatusHistory.status)
    )
    by_status = {LeadStatus(r[0]).value: r for r in rows}
    out = []
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


async def throughput(
    session: AsyncSession, viewer: Viewer, f: LeadFilters, days: int
) -> dict[str, Any]:
    """Per OPS user over the last ``days``: leads created, enriched, qualified, submitted."""
    since = datetime.now(UTC) - timedelta(days=days)
    h = LeadStatusHistory
    moves = (
        select(
            h.changed_by_id.label("uid"),
            func.count().filter(h.status == S.ENRICHED.value).label("enriched"),
            func.count().filter(h.status == S.QUALIFIED.value).label("qualified"),
            func.count().filter(h.status == S.IN_REVIEW.value).label("submitted"),
            func.count().filter(h.status == S.REJECTED.value).label("rejected"),
        )
        .join(Lead, Lead.id == h.lead_id)
        .where(*filter_clauses(viewer, f), h.entered_at >= since, h.status != S.NEW.value)
        .group_by(h.changed_by_id)
        .subquery()
    )
    created = (
        select(Lead.created_by_id.label("uid"), func.count().label("created"))
        .where(*filter_clauses(viewer, f), Lead.created_at >= since)
        .group_by(Lead.created_by_id)
        .subquery()
    )
    assigned = (
        select(Lead.assignee_id.label("uid"), func.count().label("assigned"))
        .where(*filter_clauses(viewer, f))
        .group_by(Lead.assignee_id)
        .subquery()
    )
    rows = await session.execute(
        select(
            User.id,
            User.full_name,
            func.coalesce(created.c.created, 0),
            func.coalesce(moves.c.enriched, 0),
            func.coalesce(moves.c.qualified, 0),
            func.coalesce(moves.c.submitted, 0),
            func.coalesce(moves.c.rejected, 0),
            func.coalesce(assigned.c.assigned, 0),
        )
        .outerjoin(created, created.c.uid == User.id)
        .outerjoin(moves, moves.c.uid == User.id)
        .outerjoin(assigned, assigned.c.uid == User.id)
        .where(User.role == Role.OPS.value)
        .order_by(case((moves.c.qualified.is_(None), 0), else_=moves.c.qualified).desc(), User.id)
    )
    return {
        "days": days,
        "since": since.isoformat(),
        "users": [
            {
                "user_id": uid,
                "full_name": name,
                "created": c,
                "enriched": e,
                "qualified": q,
                "submitted": s,
                "rejected": r,
                "assigned_now": a,
            }
            for uid, name, c, e, q, s, r, a in rows
        ],
    }
