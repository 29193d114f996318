"""The pipeline as a team uses it: in-app notifications and saved views of the lead list."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo.models.base import Base, Timestamps, str_enum


class NotificationKind(enum.StrEnum):
    """Why someone is told: a lead was assigned to them, a lead they created or are assigned to
    changed status, they were mentioned in a comment."""

    ASSIGNED_TO_ME = "assigned_to_me"
    STATUS_CHANGED = "status_changed"
    MENTIONED = "mentioned"


class Notification(Base):
    """One in-app notification for one recipient, written in the transaction of its cause."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    recipient_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[NotificationKind] = mapped_column(
        str_enum(NotificationKind, "notification_kind"), nullable=False
    )
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), nullable=False)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # What happened, for the text: {"from": "NEW", "to": "ENRICHED"}, {"comment_id": 3}.
    data: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_notifications_recipient_id_created_at", "recipient_id", "created_at"),
        # The bell's unread count: a small partial index.
        Index("ix_notifications_unread", "recipient_id", postgresql_where=text("read_at IS NULL")),
    )


class SavedView(Timestamps, Base):
    """A named state of the lead list / Kanban filters (the URL's query), per user; a MANAGER or
    ADMIN may share theirs with the team."""

    __tablename__ = "saved_views"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    owner_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    filters: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    shared: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))

    __table_args__ = (
        Index("uq_saved_views_owner_id_name", "owner_id", func.lower(name), unique=True),
    )
