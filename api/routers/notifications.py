"""The caller's in-app notifications, and who a comment on a lead may mention."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import StringConstraints

from api.deps import SessionDep, ViewerDep
from api.schemas.team import MentionCandidate, NotificationPage
from api.schemas.text import SINGLE_LINE
from api.services import notifications as svc
from geo.leads import get_visible_lead

router = APIRouter(tags=["notifications"])

NotificationId = Annotated[int, Path(ge=1, le=2**62, description="Notification id")]
LeadId = Annotated[int, Path(ge=1, le=2**62, description="Lead id")]


@router.get("/notifications", response_model=NotificationPage)
async def list_notifications(
    session: SessionDep,
    viewer: ViewerDep,
    page: Annotated[int, Query(ge=1, le=100_000, description="Page number, from 1")] = 1,
    page_size: Annotated[int, Query(ge=1, le=100, description="Notifications per page")] = 20,
    unread_only: Annotated[bool, Query(description="Only the unread ones")] = False,
) -> NotificationPage:
    """My notifications (assigned to me, a lead I created or am assigned to changed status,
    mentioned in a comment), newest first, with the unread count; only about leads I may still
    see."""
    items, total, unread = await svc.list_notifications(
        session, viewer, page, page_size, unread_only
    )
    return NotificationPage(items=items, total=total, unread=unread, page=page, page_size=page_size)


@router.post(
    "/notifications/read-all", status_code=status.HTTP_204_NO_CONTENT, response_class=Response
)
async def read_all(session: SessionDep, viewer: ViewerDep) -> Response:
    """Mark all my notifications read."""
    await svc.mark_all_read(session, viewer)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/notifications/{notification_id}/read",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
)
async def read_one(
    notification_id: NotificationId, session: SessionDep, viewer: ViewerDep
) -> Response:
    """Mark one of my notifications read (404 for another user's)."""
    await svc.mark_read(session, viewer, notification_id)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/leads/{lead_id}/mentionable", response_model=list[MentionCandidate])
async def mentionable(
    lead_id: LeadId,
    session: SessionDep,
    viewer: ViewerDep,
    q: Annotated[
        Annotated[str, StringConstraints(min_length=1, max_length=100), SINGLE_LINE] | None,
        Query(description="Start of a name or e-mail"),
    ] = None,
) -> list[MentionCandidate]:
    """The people a comment on this lead may mention: active users who may see it (the comment
    box's @ completion)."""
    lead = await get_visible_lead(session, viewer, lead_id)
    people = await svc.mention_candidates(session, lead)
    if q:
        needle = q.casefold()
        people = [
            p
            for p in people
            if p.email.casefold().startswith(needle)
            or any(w.startswith(needle) for w in p.full_name.casefold().split())
            or p.full_name.casefold().startswith(needle)
        ]
    return people[:20]
