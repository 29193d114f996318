"""Authentication: login, logout (revocation), me, own password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import ClaimsDep, CurrentUser, SessionDep, SettingsDep
from api.metrics import LOGIN_FAILURES
from api.routers import auth_session
from api.routers.auth_session import issue_token, open_web_session, revoke_access
from api.schemas.users import LoginIn, Message, PasswordChange, TokenOut, UserOut
from api.services import sessions
from api.services import users as svc
from api.settings import Settings
from geo.errors import NotAuthenticated
from geo.models import User

router = APIRouter(prefix="/auth", tags=["auth"])
router.include_router(auth_session.router)


async def _checked_password(
    session: AsyncSession, email: str, password: str, settings: Settings
) -> User:
    """The user of these credentials; a refusal is counted (``lfs_login_failures``)."""
    try:
        return await svc.authenticate_password(
            session, email, password, settings.auth.bcrypt_rounds
        )
    except NotAuthenticated:
        LOGIN_FAILURES.inc()
        raise


@router.post("/login", response_model=TokenOut)
async def login(
    body: LoginIn, session: SessionDep, settings: SettingsDep, response: Response
) -> TokenOut:
    """Exchange email and password for a JWT (rate-limited per IP). The answer also opens a web
    session: an httpOnly refresh cookie for ``/api/auth/session`` (scripts may ignore it)."""
    user = await _checked_password(session, body.email, body.password, settings)
    await open_web_session(session, response, user, settings)
    await session.commit()
    return issue_token(user, settings)


@router.post("/token", response_model=TokenOut, include_in_schema=True)
async def token_form(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> TokenOut:
    """OAuth2 password flow (form fields username/password), for the /docs Authorize button."""
    user = await _checked_password(session, form.username, form.password, settings)
    await session.commit()
    return issue_token(user, settings)


@router.post("/logout", response_model=Message)
async def logout(claims: ClaimsDep, session: SessionDep) -> Message:
    """Revoke the current token and the tile tokens minted with it: refused from now on."""
    # A tile token names the access token it was minted with (its ``sid``): this one row
    # revokes them too (api.deps.authenticate). The web app ends its cookie session with
    # DELETE /api/auth/session, which does this too.
    await revoke_access(session, claims)
    await session.commit()
    return Message(detail="logged out")


@router.get("/me", response_model=UserOut)
async def me(user: CurrentUser) -> User:
    """The authenticated user."""
    return user


@router.post("/password", response_model=Message)
async def change_password(
    body: PasswordChange,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> Message:
    """Change my own password; every token of mine, this one included, stops working."""
    auth = settings.auth
    await svc.change_password(
        session,
        user,
        body.current_password,
        body.new_password,
        auth.bcrypt_rounds,
        auth.password_min_score,
    )
    await sessions.revoke_user(session, user.id)
    await session.commit()
    return Message(detail="password changed: log in again with the new one")
