"""The pipeline Kanban: per status, the count and the first cards."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import StringConstraints
from sqlalchemy import ColumnElement, Integer, Select, String, func, select, true, values
from sqlalchemy import column as sa_column
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import SessionDep, StateDep, ViewerDep
from api.schemas.pipeline import Pipeline, PipelineCard, PipelineColumn
from api.schemas.strict import UserId
from api.schemas.text import SINGLE_LINE
from api.services.analytics_cache import AnalyticsCache
from api.services.leads_query import (
    LeadFilters,
    SortKey,
    filter_clauses,
    leads_version,
    order_by,
)
from geo.models import Lead, LeadStatus, LeadTechnical, Role, User
from geo.pipeline import LeadFacts, allowed_moves
from geo.visibility import COMMERCIAL_STATUSES, Viewer

router = APIRouter(tags=["pipeline"])

PIPELINE_ORDER = [
    LeadStatus.NEW,
    LeadStatus.ENRICHED,
    LeadStatus.QUALIFIED,
    LeadStatus.IN_REVIEW,
    LeadStatus.CLIENT_READY,
    LeadStatus.SOLD,
    LeadStatus.REJECTED,
    LeadStatus.ARCHIVED,
]


@router.get("/pipeline", response_model=Pipeline)
async def pipeline(
    session: SessionDep,
    state: StateDep,
    viewer: ViewerDep,
    per_status: Annotated[int, Query(ge=0, le=100, description="Cards per status")] = 20,
    assignee_id: Annotated[UserId | None, Query(description="Only this assignee")] = None,
    department: Annotated[
        str | None, Query(pattern=r"^(\d{2}|2A|2B|97\d)$", description="Department code")
    ] = None,
    include_archived: Annotated[bool, Query(description="Show the ARCHIVED column")] = False,
    score_min: Annotated[float | None, Query(ge=0, le=100, description="Lowest score")] = None,
    q: Annotated[
        Annotated[str, StringConstraints(min_length=1, max_length=100), SINGLE_LINE] | None,
        Query(description="Text in name/commune/notes, as the lead list's q"),
    ] = None,
    sort: Annotated[
        SortKey, Query(description="Order of each column's cards, as the lead list's sort")
    ] = "-updated_at",
) -> Pipeline:
    """Per status, the number of leads and the most recently updated cards, each card with the
    moves the caller may make on it now."""
    statuses = [s for s in PIPELINE_ORDER if include_archived or s is not LeadStatus.ARCHIVED]
    if viewer.role is Role.COMMERCIAL:
        statuses = [s for s in statuses if s in COMMERCIAL_STATUSES]
    # The lead list's own filters (and visibility): the board and the list select alike.
    filters = LeadFilters(
        status=tuple(statuses),
        assignee_id=assignee_id,
        department=department,
        score_min=score_min,
        q=q,
    )
    where = filter_clauses(viewer, filters)
    # Every column's cards in one statement (always read: they carry the moves and versions),
    # with the leads-layer version of the same snapshot.
    rows = (await session.execute(_cards_select(where, statuses, sort, per_status))).all()
    version = int(rows[0].leads_version or 0)
    totals = await _totals(session, state.analytics, viewer, filters, where, version)
    now = datetime.now(UTC)
    cards: dict[str, list[PipelineCard]] = {s.value: [] for s in statuses}
    for r in rows:
        if r.id is None:  # a column without cards
            continue
        status = LeadStatus(r.column_status)
        cards[r.column_status].append(
            PipelineCard(
                **{k: getattr(r, k) for k in _CARD_FIELDS},
                days_in_status=round((now - r.status_changed_at).total_seconds() / 86400, 2),
                # the moves the server would accept for this card (drag targets, ⇄ menu)
                allowed_transitions=allowed_moves(
                    status,
                    viewer.role,
                    LeadFacts.of(r.enriched_at, r.quality_score),
                    user_id=viewer.user_id,
                    assignee_id=r.assignee_id,
                ),
            )
        )
    columns = []
    for status in statuses:
        count, area_m2, mwc, with_mwc = totals.get(status.value, (0, 0.0, None, 0))
        columns.append(
            PipelineColumn(
                status=status,
                count=count,
                cards=cards[status.value],
                area_m2_total=float(area_m2),
                mwc_total=float(mwc) if mwc is not None else None,
                mwc_known=int(with_mwc),
            )
        )
    return Pipeline(columns=columns, cards_per_status=per_status)


_CARD_FIELDS = (
    "id",
    "internal_name",
    "name",
    "commune_insee",
    "commune_name",
    "quality_score",
    "area_m2",
    "assignee_id",
    "assignee_name",
    "status_changed_at",
    "version",
    "rejection_reason",
)


def _cards_select(
    where: list[ColumnElement[bool]], statuses: list[LeadStatus], sort: SortKey, per_status: int
) -> Select[Any]:
    """Per status (in pipeline order) its first ``per_status`` cards in ``sort`` order, a row
    of NULLs for a column without any, and the leads-layer version on every row.

    One statement instead of one per column: a LATERAL subquery per status walks the same
    per-status sort index each column's own query walked (ix_leads_status_updated_at for the
    default sort).
    """
    column = values(
        sa_column("column_status", String), sa_column("position", Integer), name="board"
    ).data([(s.value, i) for i, s in enumerate(statuses)])
    cards = (
        select(
            Lead.id,
            Lead.internal_name,
            Lead.name,
            Lead.commune_insee,
            Lead.commune_name,
            Lead.quality_score,
            Lead.area_m2,
            Lead.assignee_id,
            User.full_name.label("assignee_name"),
            Lead.status_changed_at,
            Lead.version,
            Lead.rejection_reason,
            Lead.enriched_at,
            func.row_number().over(order_by=order_by(sort)).label("rank"),
        )
        .outerjoin(User, User.id == Lead.assignee_id)
        .where(*where, Lead.status == column.c.column_status)
        .order_by(*order_by(sort))
        .limit(per_status)
        .lateral("cards")
    )
    return (
        select(column.c.column_status, *cards.c, leads_version().label("leads_version"))
        .select_from(column.outerjoin(cards, true()))
        .order_by(column.c.position, cards.c.rank)
    )


async def _totals(
    session: AsyncSession,
    cache: AnalyticsCache,
    viewer: Viewer,
    filters: LeadFilters,
    where: list[ColumnElement[bool]],
    version: int,
) -> dict[str, list[Any]]:
    """Per status: [count, area (m²), installable MWc or None, leads with a MWc figure].

    Aggregating every visible lead joined to its technical row costs tens of milliseconds at
    100k leads (docs/api.md), so the totals are kept like the lead list's total: in the shared
    cache per (filters, viewer scope), with the leads-layer version read with the cards (bumped
    in the transaction of every lead write, enrichment included), and aggregated again only
    when a write moved that version. Aggregated after the cards: a write in between leaves the
    cards' (older) version on newer totals, which the next call aggregates again.
    """

    async def aggregate() -> dict[str, list[Any]]:
        result = await session.execute(
            select(
                Lead.status,
                func.count().label("count"),
                func.coalesce(func.sum(Lead.area_m2), 0.0).label("area_m2"),
                func.sum(LeadTechnical.installable_mwc).label("mwc"),
                func.count(LeadTechnical.installable_mwc).label("with_mwc"),
            )
            .outerjoin(LeadTechnical, LeadTechnical.lead_id == Lead.id)
            .where(*where)
            .group_by(Lead.status)
        )
        return {r.status: [r.count, float(r.area_m2), r.mwc, r.with_mwc] for r in result}

    totals: dict[str, list[Any]] = await cache.get(
        ("pipeline", filters.key(), viewer.scope), version, aggregate
    )
    return totals
