"""Shared plumbing of /tiles and /ogc: the tile service of the app (who is asking comes from
api.deps.OptionalViewerDep, the same token check as every route)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from api.deps import StateDep
from tiles.service import TileService


@dataclass
class TileAccess:
    """Per-app tile service and whether reference layers are public."""

    service: TileService
    public_reference: bool


async def get_tile_access(state: StateDep) -> TileAccess:
    """The app's TileAccess, built on first use (its pool is closed at shutdown).

    Async on purpose, like every dependency of the tile routes: FastAPI runs sync dependencies
    in a worker thread, and that hand-off cost more than the whole 304 answer.
    """
    if state.tiles is None:
        cfg = state.settings.tiles
        service = TileService(
            state.settings.sync_database_url,
            pool_size=cfg.pool_size,
            statement_timeout_ms=cfg.statement_timeout_ms,
            cache_bytes=int(cfg.cache_mb * 1024 * 1024),
        )
        state.tiles = TileAccess(service, cfg.public_reference)
        state.on_close.append(service.close)
    return state.tiles


TileAccessDep = Annotated[TileAccess, Depends(get_tile_access)]
