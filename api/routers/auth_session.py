"""The web session: a refresh cookie (httpOnly, Secure, SameSite=Strict, path
``/api/auth/session``) exchanged for a new access token after a reload or in a new tab.

``POST /api/auth/login`` opens the session (sets the cookie) besides answering the access token;
scripts just ignore the cookie and keep the bearer flow. ``POST /api/auth/session`` rotates it;
``DELETE /api/auth/session`` ends it. docs/security.md, "Web sessions".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Cookie, Request, Response, status
from fastapi.responses import JSONResponse
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import SessionDep, SettingsDep, StateDep, authenticate
from api.errors import problem_response
from api.schemas.users import TokenOut, UserOut
from api.security import TokenClaims, create_token
from api.services import sessions as svc
from api.settings import Settings
from geo.errors import NotAuthenticated
from geo.models import RevokedToken, User

router = APIRouter(prefix="/session")

RefreshCookie = Annotated[
    str | None,
    Cookie(
        alias=svc.COOKIE,
        max_length=100,
        description="The refresh token set by the login (httpOnly: the browser sends it)",
    ),
]


def issue_token(user: User, settings: Settings) -> TokenOut:
    """A new access token for ``user`` (the login's and the refresh's answer)."""
    assert settings.auth.jwt_secret is not None
    ttl = timedelta(minutes=settings.auth.token_ttl_minutes)
    token, _ = create_token(
        user.id,
        user.role,
        settings.auth.jwt_secret.get_secret_value(),
        ttl,
        version=user.token_version,
    )
    return TokenOut(
        access_token=token, expires_in=int(ttl.total_seconds()), user=UserOut.model_validate(user)
    )


async def revoke_access(session: AsyncSession, claims: TokenClaims) -> None:
    """Refuse an access token from now on, with the tile tokens minted with it (their ``sid``;
    api.deps.authenticate); the caller commits."""
    await session.execute(
        insert(RevokedToken)
        .values(jti=claims.jti, user_id=claims.user_id, expires_at=claims.expires_at)
        .on_conflict_do_nothing()
    )


async def open_web_session(
    session: AsyncSession, response: Response, user: User, settings: Settings
) -> None:
    """Start a web session for ``user``: a new family's refresh token in the cookie."""
    token, expires = await svc.open_session(session, user, session_ttl(settings))
    set_cookie(response, token, expires, settings)


def session_ttl(settings: Settings) -> timedelta:
    """How long a web session lasts without being used."""
    return timedelta(days=settings.auth.session_ttl_days)


def set_cookie(response: Response, token: str, expires: datetime, settings: Settings) -> None:
    """Give the browser its refresh cookie (never readable by the page's scripts)."""
    response.set_cookie(
        svc.COOKIE,
        token,
        max_age=int(session_ttl(settings).total_seconds()),
        expires=expires,
        path=svc.COOKIE_PATH,
        secure=settings.auth.cookie_secure,
        httponly=True,
        samesite="strict",
    )


def clear_cookie(response: Response, settings: Settings) -> None:
    """Make the browser forget its refresh cookie."""
    response.delete_cookie(
        svc.COOKIE,
        path=svc.COOKIE_PATH,
        secure=settings.auth.cookie_secure,
        httponly=True,
        samesite="strict",
    )


def _refused(request: Request, exc: NotAuthenticated, settings: Settings) -> JSONResponse:
    response = problem_response(
        status.HTTP_401_UNAUTHORIZED,
        exc.detail,
        request,
        title=exc.title,
        slug=exc.slug,
        code=exc.code,
    )
    clear_cookie(response, settings)
    return response


@router.post(
    "",
    response_model=TokenOut,
    responses={401: {"description": "No session, or it ended (the code says why)"}},
)
async def refresh(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    cookie: RefreshCookie = None,
) -> TokenOut | JSONResponse:
    """A new access token for the browser's session (its refresh cookie, rotated: each one is
    used once). A 401's ``code`` says why the session ended: ``auth.session_expired``,
    ``auth.session_revoked`` (logged out, or a used cookie replayed: the session is revoked),
    ``auth.password_changed``, ``auth.account_disabled``; ``auth.required`` without a session."""
    if not cookie:
        return _refused(request, NotAuthenticated("no session cookie"), settings)
    try:
        user, token, expires = await svc.rotate(session, cookie, session_ttl(settings))
    except NotAuthenticated as exc:
        return _refused(request, exc, settings)
    set_cookie(response, token, expires, settings)
    return issue_token(user, settings)


@router.delete("", status_code=status.HTTP_204_NO_CONTENT)
async def end(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    state: StateDep,
    cookie: RefreshCookie = None,
) -> Response:
    """End the browser's session: its refresh cookie's family is revoked and the cookie cleared;
    with an ``Authorization: Bearer`` access token, that token is revoked too (as a logout)."""
    if cookie:
        await svc.end_session(session, cookie)
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer " and header[7:].strip():
        try:
            _, claims = await authenticate(session, state, header[7:].strip())
        except NotAuthenticated:
            pass  # already ended: the cookie is what is left to end
        else:
            await revoke_access(session, claims)
    await session.commit()
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    clear_cookie(response, settings)
    return response
