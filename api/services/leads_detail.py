"""A lead with everything attached: related tables, documents, comments, activity, history."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.inspection import inspect

from api.schemas.leads import (
    ActivityOut,
    CommentOut,
    DocumentOut,
    LeadDetail,
    StatusPeriod,
)
from api.services.leads import foncier_out
from api.services.leads_query import lead_out, lead_out_select
from geo.activity import jsonable
from geo.crypto import FieldCipher
from geo.errors import NotFound
from geo.models import (
    ActivityLog,
    Comment,
    Document,
    Lead,
    LeadEconomic,
    LeadFoncier,
    LeadNetwork,
    LeadRegulatory,
    LeadSourcing,
    LeadStatusHistory,
    LeadTechnical,
    Role,
    User,
)
from geo.pipeline import allowed_targets
from geo.visibility import Viewer, lead_visibility
from reports.documents import personal_data_filter

ACTIVITY_LIMIT = 100
COMMENT_LIMIT = 20


def _as_dict(obj: Any) -> dict[str, Any] | None:
    if obj is None:
        return None
    return {
        attr.key: jsonable(getattr(obj, attr.key))
        for attr in inspect(obj).mapper.column_attrs
        if attr.key != "lead_id"
    }


def _allowed(lead: dict[str, Any], viewer: Viewer) -> list[Any]:
    # OPS see public leads but move only the ones assigned to them.
    if viewer.role is Role.OPS and lead["assignee_id"] != viewer.user_id:
        return []
    return allowed_targets(lead["status"], viewer.role)


def activity_select() -> Any:
    """Activity entries with the user's name."""
    return select(ActivityLog, User.full_name).outerjoin(User, User.id == ActivityLog.user_id)


def activity_out(entry: ActivityLog, user_name: str | None) -> ActivityOut:
    """An ActivityOut from a log row."""
    out = ActivityOut.model_validate(entry)
    out.user_name = user_name
    return out


def comment_select() -> Any:
    """Comments with the author's name."""
    return select(Comment, User.full_name).outerjoin(User, User.id == Comment.author_id)


def comment_out(comment: Comment, author_name: str | None) -> CommentOut:
    """A CommentOut from a comment row."""
    out = CommentOut.model_validate(comment)
    out.author_name = author_name
    return out


# The detail's statements are built once, with the lead id as a bind parameter: building
# them (SQLAlchemy coercions and cache keys) was a good part of a detail request's CPU.
LEAD_ID = bindparam("lead_id")


@lru_cache(maxsize=256)
def _lead_stmt(viewer: Viewer) -> Any:
    return (
        lead_out_select()
        .add_columns(
            Lead.created_by_id,
            Lead.notes,
            Lead.rejection_reason,
            Lead.score_breakdown,
            Lead.enriched_at,
        )
        .where(Lead.id == LEAD_ID, lead_visibility(viewer))
    )


_ONE_TO_ONE = (LeadSourcing, LeadTechnical, LeadRegulatory, LeadNetwork, LeadEconomic, LeadFoncier)


@cache
def _related_stmt() -> Any:
    stmt = select(*_ONE_TO_ONE).select_from(Lead)
    for model in _ONE_TO_ONE:
        stmt = stmt.outerjoin(model, model.lead_id == Lead.id)
    return stmt.where(Lead.id == LEAD_ID)


@cache
def _documents_stmt(sees_owners: bool) -> Any:
    stmt = select(Document).where(Document.lead_id == LEAD_ID)
    if not sees_owners:  # deeds, promises, internal dossiers name the owners
        stmt = stmt.where(personal_data_filter())
    return stmt.order_by(Document.created_at.desc())


@cache
def _comments_stmt() -> Any:
    return (
        comment_select()
        .where(Comment.lead_id == LEAD_ID)
        .order_by(Comment.created_at.desc(), Comment.id.desc())
        .limit(COMMENT_LIMIT)
    )


@cache
def _activity_stmt() -> Any:
    return (
        activity_select()
        .where(ActivityLog.lead_id == LEAD_ID)
        .order_by(ActivityLog.created_at.desc(), ActivityLog.id.desc())
        .limit(ACTIVITY_LIMIT)
    )


@cache
def _history_stmt() -> Any:
    return (
        select(LeadStatusHistory)
        .where(LeadStatusHistory.lead_id == LEAD_ID)
        .order_by(LeadStatusHistory.entered_at, LeadStatusHistory.id)
    )


async def status_history(session: AsyncSession, lead_id: int) -> list[StatusPeriod]:
    """Each status the lead went through, with the time spent (so far, for the current one)."""
    now = datetime.now(UTC)
    rows = await session.scalars(_history_stmt(), {"lead_id": lead_id})
    return [
        StatusPeriod(
            status=h.status,
            entered_at=h.entered_at,
            left_at=h.left_at,
            seconds=((h.left_at or now) - h.entered_at).total_seconds(),
            reason=h.reason,
        )
        for h in rows
    ]


async def lead_detail(
    session: AsyncSession, viewer: Viewer, lead_id: int, cipher: FieldCipher
) -> LeadDetail:
    """The full lead for the viewer (owners only for roles that may see them)."""
    params = {"lead_id": lead_id}
    row = (await session.execute(_lead_stmt(viewer), params)).first()
    if row is None:
        raise NotFound(f"lead {lead_id} not found")
    base = lead_out(row).model_dump()
    extra = {
        k: row._mapping[k]
        for k in ("created_by_id", "notes", "rejection_reason", "score_breakdown", "enriched_at")
    }
    # The six one-to-one tables in one round trip.
    related = (await session.execute(_related_stmt(), params)).one()
    keys = ("sourcing", "technical", "regulatory", "network", "economic")
    parts = {key: _as_dict(obj) for key, obj in zip(keys, related[:5], strict=True)}
    foncier = related[5]
    documents = await session.scalars(_documents_stmt(viewer.sees_owners), params)
    comments = await session.execute(_comments_stmt(), params)
    activity = await session.execute(_activity_stmt(), params)
    return LeadDetail(
        **base,
        **extra,
        **parts,
        foncier=foncier_out(foncier, viewer, cipher) if foncier else None,
        documents=[DocumentOut.model_validate(d) for d in documents],
        comments=[comment_out(c, n) for c, n in comments],
        activity=[activity_out(a, n) for a, n in activity],
        status_history=await status_history(session, lead_id),
        allowed_transitions=_allowed(base, viewer),
    )
