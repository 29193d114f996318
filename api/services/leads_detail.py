"""Comments and activity entries with their author's name (the lead detail itself is built by
PostgreSQL: api.services.leads_sql)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from api.schemas.leads import ActivityOut, CommentOut
from geo.models import ActivityLog, Comment, User


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
