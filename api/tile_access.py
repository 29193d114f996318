"""Shared plumbing of /tiles and /ogc: the tile service of the app and who is asking."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Query, Request

from api.deps import authenticate
from api.state import AppState
from geo.errors import NotAuthenticated
from geo.visibility import Viewer
from tiles.service import TileService

_AUTH_CACHE_MAX = 10_000


@dataclass
class TileAccess:
    """Per-app tile service plus a short-lived cache of verified tokens."""

    service: TileService
    auth_ttl_s: float
    public_reference: bool
    _tokens: dict[str, tuple[Viewer, float]] = field(default_factory=dict)

    async def viewer_for(self, state: AppState, token: str, first_kind: str) -> Viewer:
        """Verify an access or tile token (either kind is accepted), with a short cache.

        A verified token is trusted for ``auth_ttl_s`` seconds (never past its expiry): a tile
        request then costs no revocation/user lookup. Revocations reach tiles within that delay.
        """
        now = time.monotonic()
        hit = self._tokens.get(token)
        if hit is not None and hit[1] > now:
            return hit[0]
        kinds = [first_kind, "tile" if first_kind == "access" else "access"]
        async with state.sessions() as session:
            try:
                user, claims = await authenticate(session, state, token, kinds[0])
            except NotAuthenticated as first:
                if "not an" not in first.detail:
                    raise
                try:
                    user, claims = await authenticate(session, state, token, kinds[1])
                except NotAuthenticated:
                    raise first from None
        viewer = Viewer(user.id, user.role)
        until = min(now + self.auth_ttl_s, now + (claims.expires_at.timestamp() - time.time()))
        if len(self._tokens) >= _AUTH_CACHE_MAX:
            self._tokens.clear()
        if self.auth_ttl_s > 0:
            self._tokens[token] = (viewer, until)
        return viewer


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
        Query(description="A tile token from POST /api/auth/tile-token (or an access token)."),
    ] = None,
) -> Viewer | None:
    """The viewer from ``Authorization: Bearer`` or ``?token=``; None when anonymous."""
    state: AppState = request.app.state.lfs
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer " and header[7:].strip():
        return await access.viewer_for(state, header[7:].strip(), "access")
    if token:
        return await access.viewer_for(state, token, "tile")
    return None


OptionalViewerDep = Annotated[Viewer | None, Depends(get_optional_viewer)]
