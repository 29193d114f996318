"""The cache of analytics answers and list totals, keyed on the leads-layer data version."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from geo.models import LayerVersion

log = logging.getLogger(__name__)
Key = tuple[Any, ...]


@dataclass
class _Entry:
    version: int
    at: float
    value: Any


class AnalyticsCache:
    """An LRU of answers keyed by (endpoint, params, viewer scope), tagged with the data version.

    The ``leads`` layer version is bumped in the same transaction as every lead write and lives
    in the database, so comparing it (one primary-key lookup) tells every instance whether an
    answer predates the last committed write. :meth:`get` is strict: a write invalidates.
    :meth:`get_swr` may serve an answer computed less than ``max_stale_s`` ago while one
    background task per key recomputes it (stale-while-revalidate), so a busy pipeline does not
    pay a full aggregation on every call after each write.
    """

    def __init__(self, ttl_s: float, max_entries: int, max_stale_s: float = 0.0) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.max_stale_s = max_stale_s
        self._data: OrderedDict[Key, _Entry] = OrderedDict()
        self._refreshing: dict[Key, asyncio.Task[None]] = {}
        self.hits = self.misses = self.stale = 0

    def _store(self, key: Key, version: int, at: float, value: Any) -> None:
        if not self.max_entries or self.ttl_s <= 0:
            return
        self._data[key] = _Entry(version, at, value)
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    def _fresh(self, key: Key, version: int, now: float) -> _Entry | None:
        entry = self._data.get(key)
        if entry is not None and entry.version == version and now - entry.at < self.ttl_s:
            self._data.move_to_end(key)
            return entry
        return None

    def peek(self, key: Key) -> tuple[int, Any] | None:
        """(version, answer) stored for ``key`` if younger than the TTL: the caller compares
        the version with the one its own query read (the lead list's total)."""
        entry = self._data.get(key)
        if entry is None or time.monotonic() - entry.at >= self.ttl_s:
            return None
        self._data.move_to_end(key)
        return entry.version, entry.value

    def put(self, key: Key, version: int, value: Any) -> None:
        """Store an answer computed at ``version``."""
        self._store(key, version, time.monotonic(), value)

    async def get(self, key: Key, version: int, compute: Callable[[], Awaitable[Any]]) -> Any:
        """The answer for ``key`` at ``version``: cached while fresh, else computed now."""
        now = time.monotonic()
        entry = self._fresh(key, version, now)
        if entry is not None:
            self.hits += 1
            return entry.value
        self.misses += 1
        value = await compute()
        self._store(key, version, now, value)
        return value

    async def get_swr(
        self, key: Key, version: int, compute: Callable[[], Awaitable[Any]]
    ) -> tuple[Any, bool]:
        """(answer, stale): like :meth:`get`, but a recent older answer is served while refreshed.

        ``compute`` must open its own session: it may run after the request has finished.
        """
        now = time.monotonic()
        entry = self._fresh(key, version, now)
        if entry is not None:
            self.hits += 1
            return entry.value, False
        entry = self._data.get(key)
        if entry is not None and now - entry.at < self.max_stale_s:
            self.stale += 1
            if key not in self._refreshing:
                self._refreshing[key] = asyncio.create_task(self._refresh(key, version, compute))
            return entry.value, True
        self.misses += 1
        value = await compute()
        self._store(key, version, now, value)
        return value, False

    async def _refresh(self, key: Key, version: int, compute: Callable[[], Awaitable[Any]]) -> None:
        started = time.monotonic()
        try:
            self._store(key, version, started, await compute())
        except Exception:  # a failed refresh leaves the previous answer; the next call retries
            log.exception("analytics refresh failed for %s", key[0])
        finally:
            self._refreshing.pop(key, None)

    async def close(self) -> None:
        """Wait for background refreshes (app shutdown)."""
        tasks = list(self._refreshing.values())
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


async def leads_version(session: AsyncSession) -> int:
    """The current data version of the leads layer (0 before any write)."""
    v = await session.scalar(select(LayerVersion.version).where(LayerVersion.layer == "leads"))
    return int(v or 0)
