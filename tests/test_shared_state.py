"""The shared state (geo.shared_state) on both backends, PostgreSQL and a real redis-server:
fixed-window counters, the versioned TTL cache, call slots; what happens when Redis is down."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.services.analytics_cache import AnalyticsCache
from enrichment.config import PvgisConfig
from enrichment.pvgis import PvgisClient, SharedBucket, StateBucket
from geo.db import make_engine
from geo.shared_state import (
    PostgresState,
    RedisState,
    SharedState,
    SharedStateUnavailable,
    make_shared_state,
)
from tests.conftest import assert_problem, make_settings
from tests.redis_server import RedisServer
from tests.server_process import free_port

BACKENDS = ["postgresql", "redis"]


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(Path(tmp_path_factory.mktemp("redis"))).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(db_url.replace("postgresql://", "postgresql+asyncpg://", 1))
    yield eng
    await eng.dispose()


@pytest.fixture(params=BACKENDS)
async def store(
    request: pytest.FixtureRequest, engine: AsyncEngine, redis_server: RedisServer
) -> AsyncIterator[SharedState]:
    # A prefix per test: the keys of one test never meet another's on the shared Redis.
    state: SharedState = (
        RedisState(redis_server.url, f"t{uuid.uuid4().hex[:8]}:")
        if request.param == "redis"
        else PostgresState(engine)
    )
    yield state
    await state.aclose()


def _key(name: str) -> str:
    return f"{name}:{uuid.uuid4().hex[:8]}"


async def test_counter_counts_in_a_fixed_window(store: SharedState) -> None:
    key = _key("ip")
    hits = [await store.hit(key, 0.6) for _ in range(3)]
    assert [h.count for h in hits] == [1, 2, 3]
    assert all(0 < h.reset_s <= 0.6 for h in hits)
    assert hits[2].reset_s <= hits[0].reset_s  # the window is not moved by later hits
    assert (await store.hit(_key("other"), 0.6)).count == 1
    await asyncio.sleep(0.7)
    again = await store.hit(key, 0.6)
    assert again.count == 1 and again.reset_s > 0.4  # a new window


async def test_concurrent_hits_are_counted_once_each(store: SharedState) -> None:
    key = _key("burst")
    hits = await asyncio.gather(*(store.hit(key, 60) for _ in range(40)))
    assert sorted(h.count for h in hits) == list(range(1, 41))


async def test_cache_get_set_expire_invalidate(store: SharedState) -> None:
    key = _key("cache")
    assert await store.get(key) is None
    await store.set(key, 7, b'{"a":1}', 30)
    got = await store.get(key)
    assert got is not None and got.version == 7 and got.value == b'{"a":1}'
    assert 0 <= got.age_s < 5
    await store.set(key, 8, b"2", 30)
    got = await store.get(key)
    assert got is not None and (got.version, got.value) == (8, b"2")
    await store.invalidate(key)
    assert await store.get(key) is None
    short = _key("short")
    await store.set(short, 1, b"x", 0.3)
    assert await store.get(short) is not None
    await asyncio.sleep(0.4)
    assert await store.get(short) is None


async def test_slots_are_spaced_across_callers(store: SharedState) -> None:
    name = _key("budget")[:30]
    waits = sorted(await asyncio.gather(*(store.reserve_slot(name, 0.05) for _ in range(8))))
    assert waits[0] < 0.03
    # Each slot 50 ms after the previous one, whoever asked (each wait counted from its own
    # reservation: a few ms apart, more on a loaded machine).
    for a, b in zip(waits, waits[1:], strict=False):
        assert 0.02 < b - a <= 0.05 + 1e-6, waits
    assert 0.25 < waits[-1] - waits[0] <= 0.35 + 1e-6


async def test_analytics_answers_are_shared_and_versioned(store: SharedState) -> None:
    """Two caches on one store, as two processes: an answer computed by one is served by the
    other; a newer data version makes both compute again."""
    a = AnalyticsCache(store, 300, 1024)
    b = AnalyticsCache(store, 300, 1024)
    calls: list[str] = []

    def compute(who: str, value: Any) -> Any:
        async def run() -> Any:
            calls.append(who)
            return value

        return run

    key = ("funnel", (_key("f"),), (), "all")
    assert await a.get(key, 5, compute("a", {"counts": {"NEW": 1}})) == {"counts": {"NEW": 1}}
    assert await b.get(key, 5, compute("b", {"counts": {"NEW": 99}})) == {"counts": {"NEW": 1}}
    assert calls == ["a"] and b.hits == 1
    assert await b.get(key, 6, compute("b", {"counts": {"NEW": 2}})) == {"counts": {"NEW": 2}}
    assert await a.get(key, 6, compute("a", {"counts": {"NEW": 99}})) == {"counts": {"NEW": 2}}
    assert calls == ["a", "b"]
    # Stale-while-revalidate: after a write, one process refreshes, the others serve meanwhile.
    a.max_stale_s = b.max_stale_s = 30
    gate = asyncio.Event()

    async def slow() -> Any:
        await gate.wait()
        return {"counts": {"NEW": 3}}

    assert await a.get_swr(key, 7, slow) == ({"counts": {"NEW": 2}}, True)
    assert await b.get_swr(key, 7, compute("b", {"x": 0})) == ({"counts": {"NEW": 2}}, True)
    assert not b._refreshing and len(a._refreshing) == 1  # only a recomputes
    gate.set()
    await a.close()
    assert await b.get_swr(key, 7, compute("b", {"x": 0})) == ({"counts": {"NEW": 3}}, False)
    assert calls == ["a", "b"]


async def test_postgresql_tables_are_unlogged_and_swept(engine: AsyncEngine, db_url: str) -> None:
    store = PostgresState(engine)
    with psycopg.connect(db_url) as conn:
        kinds = dict(
            conn.execute(
                "SELECT relname, relpersistence FROM pg_class"
                " WHERE relname IN ('shared_counters', 'shared_cache')"
            ).fetchall()
        )
    assert kinds == {"shared_counters": "u", "shared_cache": "u"}
    await store.hit("sweep:a", 0.1)
    await store.set("sweep:b", 1, b"x", 0.1)
    await store.hit("sweep:c", 60)
    await asyncio.sleep(0.2)
    assert await store.sweep() >= 2
    with psycopg.connect(db_url) as conn:
        left = {r[0] for r in conn.execute("SELECT key FROM shared_counters").fetchall()}
        cached = {r[0] for r in conn.execute("SELECT key FROM shared_cache").fetchall()}
    assert "sweep:c" in left and "sweep:a" not in left and "sweep:b" not in cached


async def test_a_down_redis_fails_fast_then_recovers(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "r")
    store = RedisState(server.url, "down:")
    started = time.monotonic()
    with pytest.raises(SharedStateUnavailable):
        await store.hit("k", 60)
    with pytest.raises(SharedStateUnavailable):  # within RETRY_AFTER_S: no connection tried
        await store.get("k")
    assert time.monotonic() - started < 1.5
    with pytest.raises(SharedStateUnavailable):
        await store.check()
    server.start()
    try:
        await store.check()  # a check always asks, and clears the failure
        assert (await store.hit("k", 60)).count == 1
    finally:
        await store.aclose()
        server.stop()


async def test_pvgis_budget_on_redis_and_its_fallback(
    engine: AsyncEngine, redis_server: RedisServer
) -> None:
    state = make_shared_state(engine, redis_server.url, f"p{uuid.uuid4().hex[:6]}:")
    config = PvgisConfig(base_url="http://127.0.0.1:9/api", max_calls_per_second=20)
    clients = [PvgisClient(config, engine=engine, shared=state) for _ in range(2)]
    assert all(isinstance(c.bucket, StateBucket) for c in clients)
    assert isinstance(PvgisClient(config, engine=engine).bucket, SharedBucket)
    started = time.monotonic()
    await asyncio.gather(*(c.bucket.acquire() for c in clients for _ in range(5)))
    # 10 calls from two clients at 20/s: the 10th waits ~0.45 s (one budget, not two: 0.2 s).
    assert 0.4 < time.monotonic() - started < 3.0
    down = RedisState(f"redis://127.0.0.1:{free_port()}/0", "x:")
    fallback = PvgisClient(config, engine=engine, shared=down)
    started = time.monotonic()
    await asyncio.gather(*(fallback.bucket.acquire() for _ in range(5)))
    assert 0.15 < time.monotonic() - started < 3.0  # paced by the database's slot
    for c in [*clients, fallback]:
        await c.aclose()
    await state.aclose()
    await down.aclose()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_rate_limit_holds_across_two_apps(
    backend: str, db_url: str, tmp_path: Path, redis_server: RedisServer
) -> None:
    """Two app instances (two processes behind a balancer): 100 requests a minute from one
    address in all, the 101st refused whichever instance gets it."""
    extra: dict[str, Any] = {"rate_limit": {"api_per_minute": 100}}
    if backend == "redis":
        extra |= {"redis_url": redis_server.url, "redis_prefix": f"rl{uuid.uuid4().hex[:6]}:"}
    settings = make_settings(db_url, tmp_path, **extra)
    apps = [create_app(settings), create_app(settings)]
    ip = f"10.9.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    async with LifespanManager(apps[0]), LifespanManager(apps[1]):
        clients = [
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=a, client=(ip, 1234)), base_url="http://t"
            )
            for a in apps
        ]
        statuses = [(await clients[i % 2].get("/api/auth/me")).status_code for i in range(100)]
        assert statuses == [401] * 100
        for c in clients:
            r = await c.get("/api/auth/me")
            assert_problem(r, 429)
            assert 1 <= int(r.headers["retry-after"]) <= 60
        for c in clients:
            await c.aclose()


async def test_a_down_redis_lets_requests_through_and_says_so(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis configured but down: rate limits fail open (logged),
    /api/health says "degraded" and /api/ready names the check (still ready)."""
    settings = make_settings(
        db_url,
        tmp_path,
        rate_limit={"api_per_minute": 3},
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        ready={"worker_max_age_s": 0},
    )
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, client=("10.7.7.7", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            with caplog.at_level(logging.WARNING):
                statuses = [(await c.get("/api/auth/me")).status_code for _ in range(6)]
            assert statuses == [401] * 6  # over 3/min, yet not refused
            assert any("rate limits not applied" in r.getMessage() for r in caplog.records)
            health = (await c.get("/api/health")).json()
            assert health["status"] == "degraded"
            r = await c.get("/api/ready")
            assert r.status_code == 200, r.text
            assert r.json()["checks"]["shared_state"].startswith("degraded: redis unreachable")


async def test_a_live_redis_is_ok_in_health_and_ready(
    db_url: str, tmp_path: Path, redis_server: RedisServer
) -> None:
    settings = make_settings(
        db_url, tmp_path, redis_url=redis_server.url, ready={"worker_max_age_s": 0}
    )
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            assert (await c.get("/api/health")).json()["status"] == "ok"
            r = await c.get("/api/ready")
            assert r.status_code == 200 and r.json()["checks"]["shared_state"] == "ok"


async def test_analytics_cache_computes_when_redis_is_down() -> None:
    down = RedisState(f"redis://127.0.0.1:{free_port()}/0", "x:")
    cache = AnalyticsCache(down, 300, 1024, max_stale_s=30)
    calls = 0

    async def compute() -> dict[str, int]:
        nonlocal calls
        calls += 1
        return {"n": calls}

    assert await cache.get(("funnel",), 1, compute) == {"n": 1}
    assert await cache.get_swr(("funnel",), 1, compute) == ({"n": 2}, False)
    assert await cache.peek(("count",)) is None
    await cache.put(("count",), 1, 5)  # not stored, not raised
    assert calls == 2 and cache.misses == 2
    await down.aclose()


async def test_a_cancelled_operation_leaves_the_pool_sound(
    engine: AsyncEngine, db_url: str
) -> None:
    """A request cancelled while its counter waits (a client gone) neither breaks the next
    operations nor leaves a connection mid-statement in the pool."""
    store = PostgresState(engine)
    await store.hit("cancel:k", 60)
    with psycopg.connect(db_url) as locker:
        locker.execute("SELECT 1 FROM shared_counters WHERE key = 'cancel:k' FOR UPDATE")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(store.hit("cancel:k", 60), 0.3)
        locker.rollback()
    # Every connection of the pool serves again (none is left "another operation in progress").
    counts = [(await store.hit("cancel:k", 60)).count for _ in range(engine.pool.size() + 2)]
    assert counts == sorted(set(counts)) and counts[0] >= 2
    # The cancelled statement may still complete on the server once the lock is gone: counted
    # once at most, like any request that reached the limiter.
    assert counts[-1] - 1 in (len(counts), len(counts) + 1)


def test_two_processes_share_the_pvgis_budget_in_redis(
    db_url: str, redis_server: RedisServer
) -> None:
    """Two real processes, the budget in Redis, against a stand-in answering 429 above 30
    calls/s: no 429, every call answered, at 25 calls/s for both together."""
    from tests.pvgis_budget_client import run_two
    from tests.pvgis_standin import PvgisStandin

    standin = PvgisStandin(rate=30).start()
    calls = 50
    prefix = f"b{uuid.uuid4().hex[:6]}:"
    # As deployed: the database too (the fallback while Redis does not answer).
    extra = ["--shared", "--redis", redis_server.url, "--redis-prefix", prefix]
    try:
        started = time.monotonic()
        results = run_two(db_url, standin.url, calls, *extra)
        elapsed = time.monotonic() - started
    finally:
        standin.stop()
    for _, stderr in results:
        assert "budget from the database" not in stderr  # Redis held it throughout
    counts = [figures for figures, _ in results]
    assert standin.too_many == 0
    assert [c["ok"] for c in counts] == [calls, calls]
    assert elapsed >= 2 * calls / 25 - 1.0  # 25 calls/s for both, not each
