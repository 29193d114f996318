"""Users administration (ADMIN; MANAGER may list users to assign leads)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import func, or_, select

from api.deps import CurrentUser, SessionDep, SettingsDep, require_role
from api.schemas.strict import Page, UserId
from api.schemas.users import UserCreate, UserOut, UserPage, UserUpdate
from api.services import sessions
from api.services import users as svc
from geo.errors import Conflict
from geo.models import Role, User

router = APIRouter(prefix="/users", tags=["users"])

admin_only = [Depends(require_role(Role.ADMIN))]


@router.get(
    "", response_model=UserPage, dependencies=[Depends(require_role(Role.ADMIN, Role.MANAGER))]
)
async def list_users(
    session: SessionDep,
    page: Annotated[Page, Query(description="Page number, from 1")] = 1,
    page_size: Annotated[int, Query(ge=1, le=200, description="Users per page")] = 50,
    role: Annotated[Role | None, Query(description="Only this role")] = None,
    q: Annotated[str | None, Query(max_length=100, description="Search email or name")] = None,
) -> UserPage:
    """List users, filtered by role or text."""
    stmt = select(User)
    if role is not None:
        stmt = stmt.where(User.role == role)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(or_(User.email.ilike(like), User.full_name.ilike(like)))
    total = await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = await session.scalars(
        stmt.order_by(User.id).offset((page - 1) * page_size).limit(page_size)
    )
    return UserPage(
        items=[UserOut.model_validate(u) for u in rows],
        total=total,
        page=page,
        page_size=page_size,
    )


@router.post(
    "", response_model=UserOut, status_code=status.HTTP_201_CREATED, dependencies=admin_only
)
async def create_user(
    body: UserCreate, session: SessionDep, settings: SettingsDep, response: Response
) -> User:
    """Create a user."""
    auth = settings.auth
    user = await svc.create_user(
        session,
        body.email,
        body.password,
        body.role,
        body.full_name,
        auth.bcrypt_rounds,
        auth.password_min_score,
    )
    await session.commit()
    response.headers["Location"] = f"/api/users/{user.id}"
    return user


@router.get("/{user_id}", response_model=UserOut, dependencies=admin_only)
async def get_user(user_id: UserId, session: SessionDep) -> User:
    """One user."""
    return await svc.get_user(session, user_id)


@router.patch("/{user_id}", response_model=UserOut, dependencies=admin_only)
async def update_user(
    user_id: UserId,
    body: UserUpdate,
    session: SessionDep,
    settings: SettingsDep,
    me: CurrentUser,
) -> User:
    """Change a user's name, role, active flag or password (a new password ends their sessions)."""
    user = await svc.get_user(session, user_id)
    if user.id == me.id and (body.role not in (None, Role.ADMIN) or body.is_active is False):
        raise Conflict("an admin can't demote or disable themselves", code="user.self_demotion")
    if body.full_name is not None:
        user.full_name = body.full_name
    if body.role is not None:
        user.role = body.role
    if body.is_active is not None:
        user.is_active = body.is_active
    if body.password is not None:
        await svc.set_password(
            user, body.password, settings.auth.bcrypt_rounds, settings.auth.password_min_score
        )
    if body.password is not None or body.is_active is False:
        # Their web sessions end for good: a reactivation doesn't bring them back.
        await sessions.revoke_user(session, user.id)
    await session.commit()
    return user


class PasswordReset(BaseModel):
    """The password an ADMIN's reset generated: shown once, to pass on to the user."""

    password: str = Field(description="The new password (16 characters); not stored in clear")


@router.post("/{user_id}/password-reset", response_model=PasswordReset, dependencies=admin_only)
async def reset_password(
    user_id: UserId, session: SessionDep, settings: SettingsDep
) -> PasswordReset:
    """Give a user a generated password (the admin passes it on); their sessions end."""
    user = await svc.get_user(session, user_id)
    password = await svc.reset_password(
        user, settings.auth.bcrypt_rounds, settings.auth.password_min_score
    )
    await sessions.revoke_user(session, user.id)
    await session.commit()
    return PasswordReset(password=password)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=admin_only)
async def deactivate_user(user_id: UserId, session: SessionDep, me: CurrentUser) -> Response:
    """Deactivate a user (kept for the history of their leads and activity)."""
    user = await svc.get_user(session, user_id)
    if user.id == me.id:
        raise Conflict("an admin can't disable themselves", code="user.self_demotion")
    user.is_active = False
    await sessions.revoke_user(session, user.id)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
