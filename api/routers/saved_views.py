"""Saved views of the lead list / Kanban (per user, optionally shared by MANAGER/ADMIN)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from api.deps import CurrentUser, SessionDep
from api.schemas.team import SavedViewIn, SavedViewOut, SavedViewPatch
from api.services import saved_views as svc

router = APIRouter(prefix="/saved-views", tags=["saved views"])

ViewId = Annotated[int, Path(ge=1, le=2**62, description="Saved view id")]


@router.get("", response_model=list[SavedViewOut])
async def list_views(session: SessionDep, user: CurrentUser) -> list[SavedViewOut]:
    """My saved views, then those shared with the team."""
    return await svc.list_views(session, user)


@router.post("", response_model=SavedViewOut, status_code=status.HTTP_201_CREATED)
async def create_view(
    body: SavedViewIn, session: SessionDep, user: CurrentUser, response: Response
) -> SavedViewOut:
    """Save the list's current filters under a name (409: I have one of that name already; 422:
    filters the list would refuse; 403: sharing is for MANAGER/ADMIN)."""
    out = await svc.create_view(session, user, body)
    await session.commit()
    response.headers["Location"] = f"/api/saved-views/{out.id}"
    return out


@router.patch("/{view_id}", response_model=SavedViewOut)
async def update_view(
    view_id: ViewId, body: SavedViewPatch, session: SessionDep, user: CurrentUser
) -> SavedViewOut:
    """Change one of my views (another's shared view: 403)."""
    out = await svc.update_view(session, user, view_id, body)
    await session.commit()
    return out


@router.delete("/{view_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def delete_view(view_id: ViewId, session: SessionDep, user: CurrentUser) -> Response:
    """Delete one of my views."""
    await svc.delete_view(session, user, view_id)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
