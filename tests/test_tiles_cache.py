"""The tile cache (byte bound, request collapsing, cancellation) and the tile statement timeout."""

from __future__ import annotations

import asyncio

import pytest

from geo.errors import ServiceUnavailable
from tiles.cache import ClientGone, TileCache
from tiles.service import TileService


async def test_lru_is_bounded_in_bytes() -> None:
    cache = TileCache(max_bytes=10)
    cache.put("a", b"12345")
    cache.put("b", b"12345")
    assert cache.get("a") == b"12345"  # a is now the most recent
    cache.put("c", b"123")
    assert cache.size <= 10
    assert cache.get("b") is None and cache.get("a") and cache.get("c")
    cache.put("huge", b"x" * 11)
    assert cache.get("huge") is None


async def test_concurrent_requests_run_one_query() -> None:
    cache = TileCache(max_bytes=1000)
    calls = 0

    async def produce() -> bytes:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return b"tile"

    results = await asyncio.gather(*(cache.fetch(("k", 1), produce) for _ in range(20)))
    assert results == [b"tile"] * 20 and calls == 1
    assert await cache.fetch(("k", 1), produce) == b"tile" and calls == 1


async def test_query_cancelled_when_every_client_is_gone() -> None:
    cache = TileCache(max_bytes=1000)
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def produce() -> bytes:
        started.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return b"never"

    async def gone() -> bool:
        return started.is_set()

    with pytest.raises(ClientGone):
        await cache.fetch("k", produce, gone, poll_s=0.01)
    await asyncio.wait_for(cancelled.wait(), 2)
    assert cache.get("k") is None


async def test_one_client_leaving_does_not_cancel_the_others() -> None:
    cache = TileCache(max_bytes=1000)

    async def produce() -> bytes:
        await asyncio.sleep(0.1)
        return b"tile"

    async def gone() -> bool:
        return True

    async def stays() -> bool:
        return False

    leaver = asyncio.create_task(cache.fetch("k", produce, gone, poll_s=0.01))
    stayer = asyncio.create_task(cache.fetch("k", produce, stays, poll_s=0.01))
    with pytest.raises(ClientGone):
        await leaver
    assert await stayer == b"tile"


async def test_statement_timeout_is_a_503(db_url: str) -> None:
    service = TileService(db_url, pool_size=1, statement_timeout_ms=100)
    try:
        with pytest.raises(ServiceUnavailable):
            await service.fetchval("SELECT pg_sleep(2)", [])
        assert await service.fetchval("SELECT 1", []) == 1  # the connection is still usable
    finally:
        await service.close()
