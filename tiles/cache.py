"""A bounded in-process cache of gzipped tiles that collapses concurrent identical requests."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field


class ClientGone(Exception):
    """Every client waiting for a tile went away: its query was cancelled."""


@dataclass
class _Flight:
    task: asyncio.Task[bytes]
    waiters: int = 0


@dataclass
class TileCache:
    """LRU of tile bytes bounded in total bytes; one query in flight per key.

    Keys carry the layer data versions and the visibility scope, so a write never serves a stale
    tile (the new version is a new key) and a viewer never gets another scope's tile.
    """

    max_bytes: int
    _items: OrderedDict[Hashable, bytes] = field(default_factory=OrderedDict)
    _size: int = 0
    _flights: dict[Hashable, _Flight] = field(default_factory=dict)
    hits: int = 0
    misses: int = 0

    def get(self, key: Hashable) -> bytes | None:
        """The cached bytes of a key, refreshed as most recently used."""
        data = self._items.get(key)
        if data is not None:
            self._items.move_to_end(key)
            self.hits += 1
        return data

    def put(self, key: Hashable, data: bytes) -> None:
        """Store bytes, evicting the least recently used beyond the byte budget."""
        if len(data) > self.max_bytes:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self._size -= len(old)
        self._items[key] = data
        self._size += len(data)
        while self._size > self.max_bytes and self._items:
            _, evicted = self._items.popitem(last=False)
            self._size -= len(evicted)

    @property
    def size(self) -> int:
        """Bytes currently held."""
        return self._size

    async def fetch(
        self,
        key: Hashable,
        produce: Callable[[], Awaitable[bytes]],
        is_gone: Callable[[], Awaitable[bool]] | None = None,
        poll_s: float = 0.05,
    ) -> bytes:
        """Cached bytes, or produce them once for every concurrent caller of the same key.

        ``is_gone`` is polled while waiting; when every waiter is gone the production task (the
        PostgreSQL query) is cancelled and ClientGone raised.
        """
        cached = self.get(key)
        if cached is not None:
            return cached
        flight = self._flights.get(key)
        if flight is None:
            self.misses += 1
            flight = _Flight(asyncio.ensure_future(self._produce(key, produce)))
            self._flights[key] = flight
        flight.waiters += 1
        try:
            while True:
                done, _ = await asyncio.wait({flight.task}, timeout=poll_s if is_gone else None)
                if done:
                    return flight.task.result()
                if is_gone is not None and await is_gone():
                    raise ClientGone
        finally:
            flight.waiters -= 1
            if flight.waiters == 0 and not flight.task.done():
                flight.task.cancel()
                self._flights.pop(key, None)

    async def _produce(self, key: Hashable, produce: Callable[[], Awaitable[bytes]]) -> bytes:
        try:
            data = await produce()
            self.put(key, data)
            return data
        finally:
            self._flights.pop(key, None)
