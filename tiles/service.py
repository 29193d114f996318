"""Tile production: an asyncpg pool, layer versions, the tile cache and the per-tile query."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from isal import igzip

from geo.db import FairPool
from geo.errors import ServiceUnavailable
from geo.visibility import Viewer
from tiles.cache import TileCache
from tiles.layers import Layer
from tiles.metrics import TILE_BYTES, TILE_REQUESTS
from tiles.sql import VERSIONS_SQL, extent_sql, tile_sql

PUBLIC_SCOPE = "public"


@dataclass(frozen=True)
class TileRequest:
    """What a tile response depends on: layers in zoom range, z/x/y, versions and scope."""

    layers: tuple[Layer, ...]
    z: int
    x: int
    y: int
    versions: tuple[int, ...]
    scope: str

    @property
    def key(self) -> tuple[Any, ...]:
        """The cache key."""
        return (
            tuple(la.name for la in self.layers),
            self.z,
            self.x,
            self.y,
            self.versions,
            self.scope,
        )

    @property
    def etag(self) -> str:
        """A weak ETag (the same for gzip and identity encodings) from versions and scope."""
        raw = ",".join(f"{la.name}:{v}" for la, v in zip(self.layers, self.versions, strict=True))
        digest = hashlib.blake2s(f"{raw}|{self.scope}".encode(), digest_size=8).hexdigest()
        return f'W/"{digest}"'


class TileService:
    """Renders tiles from PostGIS through its own asyncpg pool (prepared statements, timeouts)."""

    def __init__(
        self,
        dsn: str,
        *,
        pool_size: int = 10,
        statement_timeout_ms: int = 5000,
        cache_bytes: int = 64 * 1024 * 1024,
        gzip_level: int = 1,
    ) -> None:
        self.dsn = dsn
        self.pool_size = pool_size
        self.statement_timeout_ms = statement_timeout_ms
        # ISA-L's gzip (standard gzip output, levels 0-3): a 55 kB z14 tile costs 0.16 ms at level
        # 1 against 1.2-2.0 ms with zlib at level 1-5, for 6 % more bytes (docs/decisions.md).
        self.gzip_level = gzip_level
        self.cache = TileCache(cache_bytes)
        self._extents: dict[tuple[str, int, str], tuple[float, float, float, float] | None] = {}
        # The timeout is set per connection of this pool, which only runs one statement per
        # tile: it is the per-tile timeout, without a SET LOCAL round trip (and a transaction)
        # on every request. Connections open on first use; callers are served in arrival order.
        self.pool = FairPool(
            dsn,
            pool_size,
            server_settings={
                "jit": "off",
                "statement_timeout": str(statement_timeout_ms),
                "application_name": "leadfactory-tiles",
            },
        )

    async def close(self) -> None:
        """Close the pool."""
        await self.pool.close()

    async def versions(self) -> dict[str, int]:
        """Current data version of every layer (one tiny PK-table read, always fresh)."""
        rows = await self.pool.fetch(VERSIONS_SQL)
        return {r["layer"]: int(r["version"]) for r in rows}

    async def fetch(self, sql: str, params: list[Any]) -> list[asyncpg.Record]:
        """Run a read query on the tile pool; a statement timeout becomes a 503."""
        try:
            return await self.pool.fetch(sql, *params)
        except asyncpg.QueryCanceledError as exc:
            raise ServiceUnavailable("the query took too long; zoom in or filter") from exc

    async def fetchval(self, sql: str, params: list[Any]) -> Any:
        """A single value from a read query on the tile pool."""
        try:
            return await self.pool.fetchval(sql, *params)
        except asyncpg.QueryCanceledError as exc:
            raise ServiceUnavailable("the query took too long; zoom in or filter") from exc

    async def render(
        self,
        req: TileRequest,
        viewer: Viewer | None,
        is_gone: Callable[[], Awaitable[bool]] | None = None,
    ) -> bytes:
        """The gzipped MVT of a tile (b"" when empty), from the cache or PostGIS."""

        async def produce() -> bytes:
            sql, params = tile_sql(list(req.layers), req.z, viewer)
            data = await self.fetchval(sql, [req.z, req.x, req.y, *params])
            if not data:
                return b""
            return igzip.compress(bytes(data), compresslevel=self.gzip_level, mtime=0)

        names = ",".join(layer.name for layer in req.layers)
        data = self.cache.get(req.key)
        if data is None:
            TILE_REQUESTS.labels(names, "miss").inc()
            data = await self.cache.fetch(req.key, produce, is_gone)
        else:
            TILE_REQUESTS.labels(names, "hit").inc()
        TILE_BYTES.labels(names).inc(len(data))
        return data

    async def extent(
        self, layer: Layer, version: int, scope: str, viewer: Viewer | None
    ) -> tuple[float, float, float, float] | None:
        """A layer's data extent (EPSG:4326), cached per data version and scope; None if empty."""
        key = (layer.name, version, scope)
        if key not in self._extents:
            if len(self._extents) > 1024:  # old versions and scopes: start again
                self._extents.clear()
            sql, params = extent_sql(layer, viewer)
            box: tuple[float, float, float, float] | None = None
            try:
                row = (await self.fetch(sql, params))[0]
                if row[0] is not None:
                    box = (float(row[0]), float(row[1]), float(row[2]), float(row[3]))
            except asyncpg.PostgresError:  # e.g. no statistics and no rows yet
                pass
            self._extents[key] = box
        return self._extents[key]
