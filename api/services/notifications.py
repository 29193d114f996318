"""In-app notifications: written in the transaction of the assignment, move or comment that
causes them (never to the actor themself), read by their recipient; @mentions in comments."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from api.schemas.team import MentionCandidate, NotificationOut
from geo.errors import NotFound
from geo.models import Lead, Notification, NotificationKind, Role, User
from geo.notify import add_notifications, status_changed
from geo.visibility import COMMERCIAL_STATUSES, Viewer, lead_visibility


async def notify(
    session: AsyncSession,
    recipients: Iterable[int | None],
    kind: NotificationKind,
    lead_id: int,
    actor_id: int | None,
    data: dict[str, Any] | None = None,
) -> list[int]:
    """Add one notification per distinct recipient, the actor left out (the caller's
    transaction); the recipients notified."""
    return await add_notifications(session, recipients, kind, lead_id, actor_id, data)


async def notify_status_changed(
    session: AsyncSession, lead: Lead, previous: str, actor_id: int | None
) -> None:
    """A lead changed status: its creator and its assignee are told."""
    await status_changed(session, lead, previous, actor_id)


def may_see(user_id: int, role: Role, lead: Lead) -> bool:
    """Whether a user may see this lead (``geo.visibility.lead_visibility`` for one row)."""
    if role in (Role.ADMIN, Role.MANAGER):
        return True
    if role is Role.COMMERCIAL:
        return lead.status in COMMERCIAL_STATUSES
    return bool(lead.is_public) or user_id in (lead.assignee_id, lead.created_by_id)


async def mention_candidates(session: AsyncSession, lead: Lead) -> list[MentionCandidate]:
    """The active users who may see ``lead``: the people a comment on it may mention."""
    rows = await session.execute(
        select(User.id, User.full_name, User.email, User.role)
        .where(User.is_active.is_(True))
        .order_by(func.lower(User.full_name), User.id)
    )
    return [
        MentionCandidate(id=r.id, full_name=r.full_name, email=r.email)
        for r in rows
        if may_see(r.id, r.role, lead)
    ]


_EMAIL_AFTER_AT = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def _fold(text: str) -> str:
    return text.casefold()


def find_mentions(body: str, candidates: list[MentionCandidate]) -> list[int]:
    """The candidates a comment mentions, in order: ``@email`` or ``@Prénom Nom`` (case
    ignored; the longest name wins, and it must end at a word boundary). Unknown names stay
    plain text."""
    folded = _fold(body)
    by_email = {_fold(c.email): c.id for c in candidates}
    names = sorted(
        ((_fold(c.full_name.strip()), c.id) for c in candidates if c.full_name.strip()),
        key=lambda n: -len(n[0]),
    )
    found: list[int] = []
    for at in (m.start() for m in re.finditer("@", body)):
        if at > 0 and (body[at - 1].isalnum() or body[at - 1] in "._%+-"):
            continue  # the @ inside an e-mail address written as such, not a mention
        rest = body[at + 1 :]
        email = _EMAIL_AFTER_AT.match(rest)
        if email and _fold(email.group(0)).rstrip(".") in by_email:
            found.append(by_email[_fold(email.group(0)).rstrip(".")])
            continue
        tail = folded[at + 1 :]
        for name, uid in names:
            if tail.startswith(name) and (len(tail) == len(name) or not tail[len(name)].isalnum()):
                found.append(uid)
                break
    return list(dict.fromkeys(found))


async def notify_mentions(
    session: AsyncSession,
    lead: Lead,
    actor_id: int,
    comment_id: int,
    body: str,
    before: str | None = None,
) -> list[int]:
    """Tell the people a comment mentions (on an edit, only the newly mentioned ones)."""
    candidates = await mention_candidates(session, lead)
    mentioned = find_mentions(body, candidates)
    if before is not None:
        already = set(find_mentions(before, candidates))
        mentioned = [m for m in mentioned if m not in already]
    return await notify(
        session,
        mentioned,
        NotificationKind.MENTIONED,
        lead.id,
        actor_id,
        {"comment_id": comment_id, "excerpt": body[:140]},
    )


def _visible(viewer: Viewer) -> Any:
    """The caller's notifications about leads they may still see (with ``Lead`` joined)."""
    return (Notification.recipient_id == viewer.user_id, lead_visibility(viewer))


async def list_notifications(
    session: AsyncSession, viewer: Viewer, page: int, page_size: int, unread_only: bool
) -> tuple[list[NotificationOut], int, int]:
    """A page of the caller's notifications, newest first; the total and the unread count."""
    where = _visible(viewer)
    unread = Notification.read_at.is_(None)
    counts = (
        await session.execute(
            select(func.count(), func.count().filter(unread))
            .select_from(Notification)
            .join(Lead, Lead.id == Notification.lead_id)
            .where(*where)
        )
    ).one()
    actor = aliased(User)
    rows = await session.execute(
        select(
            Notification,
            func.coalesce(Lead.name, Lead.internal_name).label("lead_name"),
            actor.full_name.label("actor_name"),
        )
        .join(Lead, Lead.id == Notification.lead_id)
        .outerjoin(actor, actor.id == Notification.actor_id)
        .where(*where, *((unread,) if unread_only else ()))
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    items = [
        NotificationOut(
            id=n.id,
            kind=n.kind,
            lead_id=n.lead_id,
            lead_name=lead_name,
            actor_id=n.actor_id,
            actor_name=actor_name,
            data=n.data,
            created_at=n.created_at,
            read_at=n.read_at,
        )
        for n, lead_name, actor_name in rows
    ]
    total = counts[1] if unread_only else counts[0]
    return items, int(total), int(counts[1])


async def mark_read(session: AsyncSession, viewer: Viewer, notification_id: int) -> None:
    """Mark one of the caller's notifications read (404 for anyone else's)."""
    done = await session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.recipient_id == viewer.user_id)
        .values(read_at=func.coalesce(Notification.read_at, func.now()))
        .returning(Notification.id)
    )
    if done.first() is None:
        raise NotFound(f"notification {notification_id} not found")


async def mark_all_read(session: AsyncSession, viewer: Viewer) -> int:
    """Mark every unread notification of the caller read; how many."""
    done = await session.execute(
        update(Notification)
        .where(Notification.recipient_id == viewer.user_id, Notification.read_at.is_(None))
        .values(read_at=func.now())
    )
    return int(getattr(done, "rowcount", 0) or 0)
