"""Saved views of the lead list / Kanban: a name and the page's filter state, per user; a
MANAGER or ADMIN may share theirs with the team. Only the owner changes or deletes a view."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.schemas.team import SavedViewIn, SavedViewOut, SavedViewPatch
from geo.errors import Conflict, NotFound, PermissionDenied
from geo.models import Role, SavedView, User

SHARERS = (Role.ADMIN, Role.MANAGER)


def _out(view: SavedView, owner_name: str, user_id: int) -> SavedViewOut:
    return SavedViewOut(
        id=view.id,
        name=view.name,
        filters=view.filters,
        shared=view.shared,
        owner_id=view.owner_id,
        owner_name=owner_name,
        mine=view.owner_id == user_id,
        created_at=view.created_at,
        updated_at=view.updated_at,
    )


def _check_share(user: User, shared: bool | None) -> None:
    if shared and user.role not in SHARERS:
        raise PermissionDenied(
            "only a MANAGER or an ADMIN shares a view with the team", code="auth.forbidden"
        )


def _filters(model: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = model.model_dump(mode="json", exclude_none=True)
    return dumped


async def list_views(session: AsyncSession, user: User) -> list[SavedViewOut]:
    """My views, then the ones the team shares, by name."""
    rows = await session.execute(
        select(SavedView, User.full_name)
        .join(User, User.id == SavedView.owner_id)
        .where(or_(SavedView.owner_id == user.id, SavedView.shared.is_(True)))
        .order_by((SavedView.owner_id != user.id), func.lower(SavedView.name), SavedView.id)
    )
    return [_out(v, name, user.id) for v, name in rows]


async def _flush_unique(session: AsyncSession, name: str) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        if "uq_saved_views_owner_id_name" not in str(exc.orig):
            raise
        raise Conflict(f"a view named {name!r} already exists", name=name) from exc


async def create_view(session: AsyncSession, user: User, body: SavedViewIn) -> SavedViewOut:
    """Save the current filters under a name (409 when I already have a view of that name)."""
    _check_share(user, body.shared)
    view = SavedView(
        owner_id=user.id, name=body.name, filters=_filters(body.filters), shared=body.shared
    )
    session.add(view)
    await _flush_unique(session, body.name)
    await session.refresh(view)
    return _out(view, user.full_name, user.id)


async def _own(session: AsyncSession, user: User, view_id: int) -> SavedView:
    view = await session.scalar(select(SavedView).where(SavedView.id == view_id))
    if view is None or (view.owner_id != user.id and not view.shared):
        raise NotFound(f"saved view {view_id} not found")
    if view.owner_id != user.id:
        raise PermissionDenied("only its owner changes a saved view")
    return view


async def update_view(
    session: AsyncSession, user: User, view_id: int, body: SavedViewPatch
) -> SavedViewOut:
    """Rename, refilter or (un)share one of my views."""
    view = await _own(session, user, view_id)
    _check_share(user, body.shared)
    if body.name is not None:
        view.name = body.name
    if body.filters is not None:
        view.filters = _filters(body.filters)
    if body.shared is not None:
        view.shared = body.shared
    await _flush_unique(session, view.name)
    await session.refresh(view)
    return _out(view, user.full_name, user.id)


async def delete_view(session: AsyncSession, user: User, view_id: int) -> None:
    """Delete one of my views."""
    view = await _own(session, user, view_id)
    await session.delete(view)
    await session.flush()
