"""Notification rows, written in the caller's transaction (the one of their cause): the
assignment, move, comment or enrichment that makes them. Never to the actor themself.

``api.services.notifications`` reads and marks them; the enrichment engine (NEW → ENRICHED)
and the API's services write them through here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from geo.models import Lead, Notification, NotificationKind


async def add_notifications(
    session: AsyncSession,
    recipients: Iterable[int | None],
    kind: NotificationKind,
    lead_id: int,
    actor_id: int | None,
    data: dict[str, Any] | None = None,
) -> list[int]:
    """One notification per distinct recipient, the actor left out; the recipients told."""
    ids = [r for r in dict.fromkeys(recipients) if r is not None and r != actor_id]
    for recipient in ids:
        session.add(
            Notification(
                recipient_id=recipient,
                kind=kind,
                lead_id=lead_id,
                actor_id=actor_id,
                data=data or {},
            )
        )
    return ids


async def status_changed(
    session: AsyncSession, lead: Lead, previous: str, actor_id: int | None
) -> list[int]:
    """A lead changed status: its creator and its assignee are told (``data``: from, to)."""
    return await add_notifications(
        session,
        (lead.created_by_id, lead.assignee_id),
        NotificationKind.STATUS_CHANGED,
        lead.id,
        actor_id,
        {"from": previous, "to": lead.status.value},
    )
