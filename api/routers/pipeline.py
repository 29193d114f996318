"""The pipeline Kanban: per status, the count and the first cards."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import StringConstraints
from sqlalchemy import and_, func, select

from api.deps import SessionDep, ViewerDep
from api.schemas.pipeline import Pipeline, PipelineCard, PipelineColumn
from api.schemas.strict import UserId
from api.schemas.text import SINGLE_LINE
from api.services.leads_query import LeadFilters, SortKey, filter_clauses, order_by
from geo.models import Lead, LeadStatus, LeadTechnical, Role, User
from geo.pipeline import LeadFacts, allowed_moves
from geo.visibility import COMMERCIAL_STATUSES

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
    where = filter_clauses(
        viewer,
        LeadFilters(
            status=tuple(statuses),
            assignee_id=assignee_id,
            department=department,
            score_min=score_min,
            q=q,
        ),
    )
    # One aggregate query: per status the count and the column's totals (area, installable
    # power where the enrichment computed it).
    totals = {
        r.status: r
        for r in await session.execute(
            select(
                Lead.status,
                func.count().label("count"),
                func.coalesce(func.sum(Lead.area_m2), 0.0).label("area_m2"),
                func.sum(LeadTechnical.installable_mwc).label("mwc"),
                func.count(LeadTechnical.installable_mwc).label("with_mwc"),
            )
            .outerjoin(LeadTechnical, LeadTechnical.lead_id == Lead.id)
            .where(*where, Lead.status.in_([s.value for s in statuses]))
            .group_by(Lead.status)
        )
    }
    counts = {status: r.count for status, r in totals.items()}
    now = datetime.now(UTC)
    columns = []
    for status in statuses:
        cards: list[PipelineCard] = []
        if per_status and counts.get(status):
            rows = await session.execute(
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
                )
                .outerjoin(User, User.id == Lead.assignee_id)
                .where(and_(*where), Lead.status == status.value)
                .order_by(*order_by(sort))
                .limit(per_status)
            )
            cards = [
                PipelineCard(
                    **{k: v for k, v in r._mapping.items() if k != "enriched_at"},
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
                for r in rows
            ]
        total = totals.get(status)
        columns.append(
            PipelineColumn(
                status=status,
                count=counts.get(status, 0),
                cards=cards,
                area_m2_total=float(total.area_m2) if total else 0.0,
                mwc_total=float(total.mwc) if total and total.mwc is not None else None,
                mwc_known=int(total.with_mwc) if total else 0,
            )
        )
    return Pipeline(columns=columns, cards_per_status=per_status)
