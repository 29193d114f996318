"""Dependency aliases: SessionDep, CurrentUser, require_role(...)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.security import TokenClaims
from api.settings import Settings
from api.state import AppState
from geo.db import Queryable
from geo.errors import NotAuthenticated, PermissionDenied
from geo.models import RevokedToken, Role, User
from geo.visibility import Viewer

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


# Dependencies are ``async def`` even when they don't await: FastAPI runs plain ``def``
# dependencies in a worker thread, a hand-off that cost more than the work itself.
async def get_state(request: Request) -> AppState:
    """The application state built in the lifespan."""
    state: AppState = request.app.state.lfs
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_settings_dep(state: StateDep) -> Settings:
    """The settings of this app instance."""
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


async def get_session(state: StateDep) -> AsyncIterator[AsyncSession]:
    """One session per request; handlers commit what they change."""
    async with state.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def authenticate(
    session: AsyncSession, state: AppState, token: str, kind: str = "access"
) -> tuple[User, TokenClaims]:
    """Verify a token, refuse revoked ones (a tile token also when the access token it was
    minted with is), tokens issued before the user's last password change and inactive users."""
    assert state.settings.auth.jwt_secret is not None
    claims = state.claims.decode(token, state.settings.auth.jwt_secret.get_secret_value(), kind)
    return await authenticate_claims(session, claims), claims


async def authenticate_claims(session: AsyncSession, claims: TokenClaims) -> User:
    """The user of verified ``claims`` once the database said the token is still good."""
    # The user and the revocation in one round trip, read at each request: no cache, so a
    # revocation or a deactivation takes effect at once.
    jtis = [claims.jti] if claims.session is None else [claims.jti, claims.session]
    revoked = select(RevokedToken.jti).where(RevokedToken.jti.in_(jtis)).exists()
    row = (await session.execute(select(User, revoked).where(User.id == claims.user_id))).first()
    if row is None:
        if await session.scalar(select(revoked)):
            raise NotAuthenticated("token revoked")
        raise NotAuthenticated("user unknown or disabled")
    user, is_revoked = row
    if is_revoked:
        raise NotAuthenticated("token revoked")
    if not user.is_active:
        raise NotAuthenticated("user unknown or disabled")
    if user.token_version != claims.version:
        raise NotAuthenticated("token revoked")
    return user


async def get_token_claims(
    request: Request,
    session: SessionDep,
    state: StateDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> TokenClaims:
    """The verified claims of the bearer token; the user is cached on the request."""
    if not token:
        raise NotAuthenticated("missing bearer token")
    user, claims = await authenticate(session, state, token)
    request.state.user = user
    request.state.user_id = user.id  # for the request's log line (api.observe)
    return claims


ClaimsDep = Annotated[TokenClaims, Depends(get_token_claims)]


async def get_current_user(request: Request, claims: ClaimsDep) -> User:
    """The authenticated user."""
    user: User = request.state.user
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def check_role(role: Role, allowed: set[Role]) -> None:
    """403 unless ``role`` is one of ``allowed``."""
    if role not in allowed:
        names = ", ".join(sorted(r.value for r in allowed))
        raise PermissionDenied(f"this action needs one of the roles: {names}")


async def get_signed_claims(
    request: Request, state: StateDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> TokenClaims:
    """The claims of a bearer token whose signature, expiry and kind are verified, WITHOUT the
    database checks (revocation, inactive user, current role): the lead list, detail and create
    do those in their own statement (``token_auth``), saving a round trip."""
    if not token:
        raise NotAuthenticated("missing bearer token")
    assert state.settings.auth.jwt_secret is not None
    claims = state.claims.decode(token, state.settings.auth.jwt_secret.get_secret_value())
    request.state.user_id = claims.user_id  # signed by us: for the log line (api.observe)
    return claims


SignedClaims = Annotated[TokenClaims, Depends(get_signed_claims)]


def auth_sql(user_id: str = "$1", jti: str = "$2", version: str = "$3") -> str:
    """The role of an active user and whether the token is revoked, in one row (role NULL:
    unknown or disabled user); the placeholders of the token's user id, jti and version (a
    token of another version than the user's is revoked). The check is the function
    ``token_auth`` (migrations 0012, 0018): its statements are prepared once per connection,
    where a sub-select here would be planned again with each variant of the list's SQL."""
    return f"SELECT role, revoked FROM token_auth({user_id}, {jti}, {version})"


def auth_args(claims: TokenClaims) -> list[Any]:
    """The values of :func:`auth_sql`'s placeholders, in order."""
    return [claims.user_id, claims.jti, claims.version]


AUTH_SQL = auth_sql()


def checked_viewer(claims: TokenClaims, role: str | None, revoked: bool) -> Viewer:
    """The viewer, once the database said the token is not revoked and the user active (the
    database's role counts, not the token's)."""
    if revoked:
        raise NotAuthenticated("token revoked")
    if role is None:
        raise NotAuthenticated("user unknown or disabled")
    return Viewer(claims.user_id, Role(role))


async def viewer_from_token(state: AppState, token: str) -> Viewer:
    """Authenticate a bearer token on the plain asyncpg pool: no session, no ORM.

    Same checks and messages as :func:`authenticate` (signature, expiry, revocation, inactive
    user), read at each request.
    """
    assert state.settings.auth.jwt_secret is not None and state.pg is not None
    claims = state.claims.decode(token, state.settings.auth.jwt_secret.get_secret_value())
    return await authenticated_viewer(state.pg, claims)


async def authenticated_viewer(pool: Queryable, claims: TokenClaims) -> Viewer:
    """The viewer of verified ``claims`` once the database said the token is not revoked and
    the user active (AUTH_SQL, one round trip)."""
    row = await pool.fetchrow(AUTH_SQL, *auth_args(claims))
    assert row is not None
    return checked_viewer(claims, row["role"], row["revoked"])


async def get_viewer(
    request: Request,
    state: StateDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Viewer:
    """The visibility identity of the caller (reuses the user when the route also loaded it)."""
    user: User | None = getattr(request.state, "user", None)
    if user is not None:
        return Viewer(user.id, user.role)
    if not token:
        raise NotAuthenticated("missing bearer token")
    viewer = await viewer_from_token(state, token)
    request.state.user_id = viewer.user_id  # for the log line (api.observe)
    return viewer


ViewerDep = Annotated[Viewer, Depends(get_viewer)]


def require_role(*roles: Role) -> Callable[[User], Coroutine[Any, Any, User]]:
    """A dependency that lets only the given roles through (403 otherwise)."""
    allowed = set(roles)

    async def _check(user: CurrentUser) -> User:
        check_role(user.role, allowed)
        return user

    return _check
