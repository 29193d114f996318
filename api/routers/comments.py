"""Comments on a lead, and its activity log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from sqlalchemy import func, select

from api.deps import CurrentUser, SessionDep, ViewerDep
from api.schemas.comments import ActivityPage, CommentIn, CommentPage
from api.schemas.leads import CommentOut
from api.services import comments as svc
from api.services.leads_detail import activity_out, activity_select, comment_out
from geo.leads import get_visible_lead
from geo.models import ActivityLog
from geo.visibility import activity_visibility

router = APIRouter(prefix="/leads/{lead_id}", tags=["comments"])

LeadId = Annotated[int, Path(ge=1, le=2**62, description="Lead id")]
CommentId = Annotated[int, Path(ge=1, le=2**62, description="Comment id")]
Page = Annotated[int, Query(ge=1, le=100_000, description="Page number, from 1")]


@router.get("/comments", response_model=CommentPage)
async def list_comments(
    lead_id: LeadId,
    session: SessionDep,
    viewer: ViewerDep,
    page: Page = 1,
    page_size: Annotated[int, Query(ge=1, le=200, description="Comments per page")] = 50,
) -> CommentPage:
    """The lead's comments, newest first."""
    items, total = await svc.list_comments(session, viewer, lead_id, page, page_size)
    return CommentPage(items=items, total=total, page=page, page_size=page_size)


@router.post("/comments", response_model=CommentOut, status_code=status.HTTP_201_CREATED)
async def add_comment(
    lead_id: LeadId, body: CommentIn, session: SessionDep, user: CurrentUser, response: Response
) -> CommentOut:
    """Comment on a lead (anyone who may see it)."""
    comment = await svc.add_comment(session, user, lead_id, body.body)
    await session.commit()
    await session.refresh(comment)
    response.headers["Location"] = f"/api/leads/{lead_id}/comments/{comment.id}"
    return comment_out(comment, user.full_name)


@router.patch("/comments/{comment_id}", response_model=CommentOut)
async def edit_comment(
    lead_id: LeadId, comment_id: CommentId, body: CommentIn, session: SessionDep, user: CurrentUser
) -> CommentOut:
    """Edit one's own comment."""
    comment = await svc.edit_comment(session, user, lead_id, comment_id, body.body)
    await session.commit()
    await session.refresh(comment)
    return comment_out(comment, user.full_name)


@router.delete(
    "/comments/{comment_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response
)
async def delete_comment(
    lead_id: LeadId, comment_id: CommentId, session: SessionDep, user: CurrentUser
) -> Response:
    """Delete one's own comment (MANAGER/ADMIN may delete any: moderation)."""
    await svc.delete_comment(session, user, lead_id, comment_id)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/activity", response_model=ActivityPage)
async def list_activity(
    lead_id: LeadId,
    session: SessionDep,
    viewer: ViewerDep,
    page: Page = 1,
    page_size: Annotated[int, Query(ge=1, le=200, description="Entries per page")] = 100,
) -> ActivityPage:
    """The lead's activity log, newest first (100 per page by default)."""
    await get_visible_lead(session, viewer, lead_id)
    # Entries about documents the viewer may not see are left out (geo.visibility).
    shown = (ActivityLog.lead_id == lead_id, activity_visibility(viewer.sees_owners))
    total = await session.scalar(select(func.count()).select_from(ActivityLog).where(*shown))
    rows = await session.execute(
        activity_select()
        .where(*shown)
        .order_by(ActivityLog.created_at.desc(), ActivityLog.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return ActivityPage(
        items=[activity_out(a, n) for a, n in rows],
        total=total or 0,
        page=page,
        page_size=page_size,
    )
