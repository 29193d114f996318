"""Shared plumbing of /tiles and /ogc: the tile service of the app and who is asking."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Query, Request

from api.deps import authenticate_claims
from api.security import TokenClaims
from api.state import AppState
from geo.errors import NotAuthenticated
from geo.visibility import Viewer
from tiles.service import TileService

_AUTH_CACHE_MAX = 10_000
# Kinds of token each place takes: a header either kind, the URL only tile tokens (short-lived,
# read-only, and revoked with the session they came from), since URLs end up in access logs,
# browser histories and Referer headers.
HEADER_KINDS = ("access", "tile")
QUERY_KINDS = ("tile",)


@dataclass
class TileAccess:
    """Per-app tile service plus a short-lived cache of verified tokens."""

    service: TileService
    auth_ttl_s: float
    public_reference: bool
    # token -> (viewer, trusted until (monotonic), kind)
    _tokens: dict[str, tuple[Viewer, float, str]] = field(default_factory=dict)

    async def viewer_for(self, state: AppState, token: str, kinds: tuple[str, ...]) -> Viewer:
        """Verify a token of one of ``kinds``, with a short cache.

        A verified token is trusted for ``auth_ttl_s`` seconds (never past its expiry): a tile
        request then costs no revocation/user lookup. A logout or a password change forgets the
        user's tokens in this process at once (:func:`forget_sessions`); other processes see a
        revocation within that delay.
        """
        now = time.monotonic()
        hit = self._tokens.get(token)
        if hit is not None and hit[1] > now and hit[2] in kinds:
            return hit[0]
        claims = _decode(state, token, kinds)
        async with state.sessions() as session:
            user = await authenticate_claims(session, claims)
        viewer = Viewer(user.id, user.role)
        until = min(now + self.auth_ttl_s, now + (claims.expires_at.timestamp() - time.time()))
        if len(self._tokens) >= _AUTH_CACHE_MAX:
            self._tokens.clear()
        if self.auth_ttl_s > 0:
            self._tokens[token] = (viewer, until, claims.kind)
        return viewer

    def forget(self, user_id: int) -> None:
        """Drop the cached verifications of a user's tokens (logout, password change)."""
        for token in [t for t, hit in self._tokens.items() if hit[0].user_id == user_id]:
            self._tokens.pop(token, None)


def _decode(state: AppState, token: str, kinds: tuple[str, ...]) -> TokenClaims:
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


def forget_sessions(state: AppState, user_id: int) -> None:
    """Forget the tile/OGC verifications of a user's tokens cached by this process."""
    access: TileAccess | None = state.extras.get("tiles")
    if access is not None:
        access.forget(user_id)


async def get_tile_access(request: Request) -> TileAccess:
    """The app's TileAccess, built on first use (its pool is closed at shutdown).

    Async on purpose, like every dependency of the tile routes: FastAPI runs sync dependencies
    in a worker thread, and that hand-off cost more than the whole 304 answer.
    """
    state: AppState = request.app.state.lfs
    access: TileAccess | None = state.extras.get("tiles")
    if access is None:
        cfg = state.settings.tiles
        service = TileService(
            state.settings.sync_database_url,
            pool_size=cfg.pool_size,
            statement_timeout_ms=cfg.statement_timeout_ms,
            cache_bytes=int(cfg.cache_mb * 1024 * 1024),
        )
        access = TileAccess(service, cfg.auth_cache_s, cfg.public_reference)
        state.extras["tiles"] = access
        state.extras.setdefault("on_close", []).append(service.close)
    return access


TileAccessDep = Annotated[TileAccess, Depends(get_tile_access)]


async def get_optional_viewer(
    request: Request,
    access: TileAccessDep,
    token: Annotated[
        str | None,
        Query(
            description="A tile token from POST /api/auth/tile-token (an access token goes in "
            "the Authorization header only)."
        ),
    ] = None,
) -> Viewer | None:
    """The viewer from ``Authorization: Bearer`` or ``?token=``; None when anonymous.

    A ``?token=`` is always verified, even beside a header: routes copy it into the links they
    return, which must never carry anything but a valid tile token.
    """
    state: AppState = request.app.state.lfs
    viewer = await access.viewer_for(state, token, QUERY_KINDS) if token else None
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer " and header[7:].strip():
        viewer = await access.viewer_for(state, header[7:].strip(), HEADER_KINDS)
    if viewer is not None:
        request.state.user_id = viewer.user_id  # for the request's log line (api.observe)
    return viewer


OptionalViewerDep = Annotated[Viewer | None, Depends(get_optional_viewer)]
