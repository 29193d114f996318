"""Dependency aliases: StateDep, SessionDep, the caller (CurrentUser, ViewerDep,
OptionalViewerDep) and require_role(...).

One authentication path: a bearer token is decoded (signature, expiry, kind), then the user and
the token's revocation are read in one statement at each request (:func:`authenticate_claims`:
no cache, so a logout, a password change or a deactivation takes effect at once). Every route
reaches it through a dependency, so a missing or bad token is a 401 before the query's or the
body's 422; the lead routes, the site finder, tiles and OGC alike.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.security import TokenClaims
from api.settings import Settings
from api.state import AppState
from geo.errors import NotAuthenticated, PermissionDenied
from geo.models import RevokedToken, Role, User
from geo.visibility import Viewer

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)

# Kinds of token each place takes: the Authorization header an access token (tiles and OGC also
# a tile token), the URL only tile tokens (short-lived, read-only, revoked with the session they
# came from), since URLs end up in access logs, browser histories and Referer headers.
ACCESS_KINDS = ("access",)
HEADER_KINDS = ("access", "tile")
QUERY_KINDS = ("tile",)


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
    """One session per request (it connects on its first statement); handlers commit what they
    change."""
    async with state.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def decode_claims(
    state: AppState, token: str, kinds: tuple[str, ...] = ACCESS_KINDS
) -> TokenClaims:
    """The verified claims of a token of one of ``kinds`` (signature, expiry, kind)."""
    assert state.settings.auth.jwt_secret is not None
    secret = state.settings.auth.jwt_secret.get_secret_value()
    first: NotAuthenticated | None = None
    for kind in kinds:
        try:
            return state.claims.decode(token, secret, kind)
        except NotAuthenticated as exc:
            if "not an" not in exc.detail:
                raise
            first = first or exc
    if "access" not in kinds:
        raise NotAuthenticated(
            "?token= takes a tile token (POST /api/auth/tile-token); send an access token in "
            "the Authorization header, never in a URL"
        )
    assert first is not None
    raise first


async def authenticate(
    session: AsyncSession, state: AppState, token: str, kinds: tuple[str, ...] = ACCESS_KINDS
) -> tuple[User, TokenClaims]:
    """Verify a token, refuse revoked ones (a tile token also when the access token it was
    minted with is), tokens issued before the user's last password change and inactive users."""
    claims = decode_claims(state, token, kinds)
    return await authenticate_claims(session, claims), claims


async def authenticate_claims(session: AsyncSession, claims: TokenClaims) -> User:
    """The user of verified ``claims`` once the database said the token is still good."""
    # The user and the revocation in one round trip.
    jtis = [claims.jti] if claims.session is None else [claims.jti, claims.session]
    revoked = select(RevokedToken.jti).where(RevokedToken.jti.in_(jtis)).exists()
    row = (await session.execute(select(User, revoked).where(User.id == claims.user_id))).first()
    # Each refusal names its cause (the web app says it in French on its login page).
    if row is None:
        if await session.scalar(select(revoked)):
            raise NotAuthenticated("token revoked", code="auth.session_revoked")
        raise NotAuthenticated("user unknown or disabled")
    user, is_revoked = row
    if is_revoked:
        raise NotAuthenticated("token revoked", code="auth.session_revoked")
    if not user.is_active:
        raise NotAuthenticated("user unknown or disabled", code="auth.account_disabled")
    if user.token_version != claims.version:
        raise NotAuthenticated("token revoked", code="auth.password_changed")
    return user


def _remember(request: Request, user: User, claims: TokenClaims) -> None:
    request.state.user = user
    request.state.claims = claims
    request.state.user_id = user.id  # for the request's log line (api.observe)


async def get_token_claims(
    request: Request,
    session: SessionDep,
    state: StateDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> TokenClaims:
    """The verified claims of the bearer access token; the user is kept on the request."""
    if not token:
        raise NotAuthenticated("missing bearer token")
    user, claims = await authenticate(session, state, token)
    _remember(request, user, claims)
    return claims


ClaimsDep = Annotated[TokenClaims, Depends(get_token_claims)]


async def get_current_user(request: Request, claims: ClaimsDep) -> User:
    """The authenticated user."""
    user: User = request.state.user
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_viewer(user: CurrentUser) -> Viewer:
    """The visibility identity of the caller (RBAC is applied in SQL: geo.visibility)."""
    return Viewer(user.id, user.role)


ViewerDep = Annotated[Viewer, Depends(get_viewer)]


async def get_optional_viewer(
    request: Request,
    session: SessionDep,
    state: StateDep,
    token: Annotated[
        str | None,
        Query(
            description="A tile token from POST /api/auth/tile-token (an access token goes in "
            "the Authorization header only)."
        ),
    ] = None,
) -> Viewer | None:
    """Tiles and OGC: the viewer from ``Authorization: Bearer`` (an access or tile token) or
    ``?token=`` (a tile token); None when anonymous. Checked like every other route's token.

    A ``?token=`` is always verified, even beside a header: routes copy it into the links they
    return, which must never carry anything but a valid tile token.
    """
    viewer: Viewer | None = None
    if token:
        user, claims = await authenticate(session, state, token, QUERY_KINDS)
        viewer = Viewer(user.id, user.role)
        _remember(request, user, claims)
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer " and header[7:].strip():
        user, claims = await authenticate(session, state, header[7:].strip(), HEADER_KINDS)
        viewer = Viewer(user.id, user.role)
        _remember(request, user, claims)
    if viewer is not None:
        # The check's transaction ends here: its connection goes back to the pool rather than
        # being held while the tile waits for the tile service's own pool.
        await session.commit()
    return viewer


OptionalViewerDep = Annotated[Viewer | None, Depends(get_optional_viewer)]


def check_role(role: Role, allowed: set[Role]) -> None:
    """403 unless ``role`` is one of ``allowed``."""
    if role not in allowed:
        names = ", ".join(sorted(r.value for r in allowed))
        raise PermissionDenied(f"this action needs one of the roles: {names}")


def require_role(*roles: Role) -> Callable[[User], Coroutine[Any, Any, User]]:
    """A dependency that lets only the given roles through (403 otherwise)."""
    allowed = set(roles)

    async def _check(user: CurrentUser) -> User:
        check_role(user.role, allowed)
        return user

    return _check
