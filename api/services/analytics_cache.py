"""The cache of analytics answers and list totals, shared by every process and keyed on the
leads-layer data version."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from geo.models import LayerVersion
from geo.shared_state import Cached, SharedState, Throttled

log = logging.getLogger(__name__)
Key = tuple[Any, ...]


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def encode(value: Any) -> bytes:
    """An answer as JSON bytes (what the shared store keeps)."""
    return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS)


def store_key(key: Key) -> str:
    """The store's key of ``key``: its endpoint, then a digest of its parts (their repr is the
    same in every process: strings, numbers, tuples, datetimes, no sets)."""
    digest = hashlib.blake2b(repr(key).encode(), digest_size=16).hexdigest()
    return f"cache:{key[0]}:{digest}"


class AnalyticsCache:
    """Answers keyed by (endpoint, params, viewer scope), tagged with the data version, kept in
    the deployment's shared state (:mod:`geo.shared_state`: PostgreSQL or Redis).

    The ``leads`` layer version is bumped in the same transaction as every lead write and lives
    in the database, so comparing it tells every process whether an answer predates the last
    committed write, whichever process computed it. :meth:`get` is strict: a write invalidates.
    :meth:`get_swr` may serve an answer computed less than ``max_stale_s`` ago while one
    background task recomputes it (stale-while-revalidate; one process of the deployment does,
    the others serve the recent answer meanwhile), so a busy pipeline does not pay a full
    aggregation on every call after each write. When the store does not answer, the answer is
    computed (logged, at most twice a minute).
    """

    def __init__(
        self, store: SharedState, ttl_s: float, max_entries: int, max_stale_s: float = 0.0
    ) -> None:
        self.store = store
        self.ttl_s = ttl_s
        # 0 entries disables the cache; the store bounds its size by the TTL (expired answers
        # are swept or expire), not by a count.
        self.enabled = max_entries > 0 and ttl_s > 0
        self.max_stale_s = max_stale_s
        self._refreshing: dict[str, asyncio.Task[None]] = {}
        self._warn = Throttled(log)
        self.hits = self.misses = self.stale = 0  # this process's, for tests and metrics

    async def _load(self, skey: str) -> Cached | None:
        if not self.enabled:
            return None
        try:
            return await self.store.get(skey)
        except Exception as exc:
            self._warn.warning("analytics cache not read (%s): answers are computed", exc)
            return None

    async def _store(self, skey: str, version: int, value: Any) -> None:
        if not self.enabled:
            return
        try:
            await self.store.set(skey, version, encode(value), self.ttl_s)
        except Exception as exc:
            self._warn.warning("analytics cache not written (%s)", exc)

    async def peek(self, key: Key) -> tuple[int, Any] | None:
        """(version, answer) stored for ``key`` if younger than the TTL: the caller compares
        the version with the one its own query read (the lead list's total)."""
        entry = await self._load(store_key(key))
        if entry is None:
            return None
        return entry.version, orjson.loads(entry.value)

    async def put(self, key: Key, version: int, value: Any) -> None:
        """Store an answer computed at ``version``."""
        await self._store(store_key(key), version, value)

    async def get(self, key: Key, version: int, compute: Callable[[], Awaitable[Any]]) -> Any:
        """The answer for ``key`` at ``version``: cached while fresh, else computed now."""
        skey = store_key(key)
        entry = await self._load(skey)
        if entry is not None and entry.version == version:
            self.hits += 1
            return orjson.loads(entry.value)
        self.misses += 1
        value = await compute()
        await self._store(skey, version, value)
        return value

    async def get_swr(
        self, key: Key, version: int, compute: Callable[[], Awaitable[Any]]
    ) -> tuple[Any, bool]:
        """(answer, stale): like :meth:`get`, but a recent older answer is served while refreshed.

        ``compute`` must open its own session: it may run after the request has finished.
        """
        skey = store_key(key)
        entry = await self._load(skey)
        if entry is not None and entry.version == version:
            self.hits += 1
            return orjson.loads(entry.value), False
        if entry is not None and entry.version < version and entry.age_s < self.max_stale_s:
            self.stale += 1
            if skey not in self._refreshing and await self._first_to_refresh(skey, version):
                self._refreshing[skey] = asyncio.create_task(self._refresh(skey, version, compute))
            return orjson.loads(entry.value), True
        self.misses += 1
        value = await compute()
        await self._store(skey, version, value)
        return value, False

    async def _first_to_refresh(self, skey: str, version: int) -> bool:
        """Whether this process recomputes ``skey`` at ``version`` (the first to ask, in any
        process, within the stale window); True when the store does not answer."""
        try:
            hit = await self.store.hit(f"refresh:{skey}:{version}", max(self.max_stale_s, 1.0))
        except Exception:
            return True
        return hit.count == 1

    async def _refresh(
        self, skey: str, version: int, compute: Callable[[], Awaitable[Any]]
    ) -> None:
        try:
            await self._store(skey, version, await compute())
        except Exception:  # a failed refresh leaves the previous answer; the next call retries
            log.exception("analytics refresh failed for %s", skey)
        finally:
            self._refreshing.pop(skey, None)

    async def close(self) -> None:
        """Wait for background refreshes (app shutdown)."""
        tasks = list(self._refreshing.values())
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


async def leads_version(session: AsyncSession) -> int:
    """The current data version of the leads layer (0 before any write)."""
    v = await session.scalar(select(LayerVersion.version).where(LayerVersion.layer == "leads"))
    return int(v or 0)
