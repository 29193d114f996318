"""Comments on leads: anyone who sees the lead writes; authors edit; MANAGER/ADMIN moderate."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.schemas.leads import CommentOut
from api.services.leads_detail import comment_out, comment_select
from api.services.notifications import notify_mentions
from geo.activity import log_activity
from geo.errors import NotFound, PermissionDenied
from geo.leads import get_visible_lead
from geo.models import Comment, Role, User
from geo.visibility import Viewer

MODERATORS = (Role.ADMIN, Role.MANAGER)


async def list_comments(
    session: AsyncSession, viewer: Viewer, lead_id: int, page: int, page_size: int
) -> tuple[list[CommentOut], int]:
    """A page of a visible lead's comments, newest first."""
    await get_visible_lead(session, viewer, lead_id)
    total = await session.scalar(
        select(func.count()).select_from(Comment).where(Comment.lead_id == lead_id)
    )
    rows = await session.execute(
        comment_select()
        .where(Comment.lead_id == lead_id)
        .order_by(Comment.created_at.desc(), Comment.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return [comment_out(c, n) for c, n in rows], total or 0


async def _own_comment(session: AsyncSession, user: User, lead_id: int, comment_id: int) -> Comment:
    await get_visible_lead(session, Viewer(user.id, user.role), lead_id)
    comment = await session.scalar(
        select(Comment).where(Comment.id == comment_id, Comment.lead_id == lead_id)
    )
    if comment is None:
        raise NotFound(f"comment {comment_id} not found on lead {lead_id}")
    return comment


async def add_comment(session: AsyncSession, user: User, lead_id: int, body: str) -> Comment:
    """Add a comment to a visible lead, with its activity entry."""
    lead = await get_visible_lead(session, Viewer(user.id, user.role), lead_id)
    comment = Comment(lead_id=lead_id, author_id=user.id, body=body)
    session.add(comment)
    await session.flush()
    # @Prénom Nom / @email: the people mentioned are told, in this transaction.
    await notify_mentions(session, lead, user.id, comment.id, body)
    await log_activity(
        session,
        action="comment_create",
        user_id=user.id,
        lead_id=lead_id,
        entity="comment",
        entity_id=comment.id,
        after={"body": body[:200]},
    )
    return comment


async def edit_comment(
    session: AsyncSession, user: User, lead_id: int, comment_id: int, body: str
) -> Comment:
    """Change one's own comment."""
    comment = await _own_comment(session, user, lead_id, comment_id)
    if comment.author_id != user.id:
        raise PermissionDenied("only the author edits a comment")
    before = comment.body
    comment.body = body
    lead = await get_visible_lead(session, Viewer(user.id, user.role), lead_id)
    await notify_mentions(session, lead, user.id, comment.id, body, before=before)
    await log_activity(
        session,
        action="comment_update",
        user_id=user.id,
        lead_id=lead_id,
        entity="comment",
        entity_id=comment.id,
        before={"body": before[:200]},
        after={"body": body[:200]},
    )
    await session.flush()
    return comment


async def delete_comment(session: AsyncSession, user: User, lead_id: int, comment_id: int) -> None:
    """Delete one's own comment, or any as MANAGER/ADMIN (moderation)."""
    comment = await _own_comment(session, user, lead_id, comment_id)
    if comment.author_id != user.id and user.role not in MODERATORS:
        raise PermissionDenied("only the author or a MANAGER/ADMIN deletes a comment")
    await log_activity(
        session,
        action="comment_delete",
        user_id=user.id,
        lead_id=lead_id,
        entity="comment",
        entity_id=comment.id,
        before={"body": comment.body[:200], "author_id": comment.author_id},
    )
    await session.delete(comment)
    await session.flush()
