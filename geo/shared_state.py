"""State every API process and worker shares: fixed-window counters, cached answers, call slots.

Two backends behind one small interface (:class:`SharedState`):

* :class:`PostgresState` (default, no new service): the UNLOGGED tables ``shared_counters`` and
  ``shared_cache`` (migration 0026) and ``rate_slots`` (0021), each operation one statement
  outside a transaction (one round trip, no BEGIN/COMMIT);
* :class:`RedisState` when ``LFS_REDIS_URL`` is set: INCR + PEXPIRE in one script, SET PX/GET,
  the slot reservation in one script on Redis' clock.

A Redis that does not answer raises :class:`SharedStateUnavailable` at once for
``RETRY_AFTER_S`` after a failure (no connect timeout paid per request); the callers fail in a
documented way (docs/operations.md): the rate limits let the request through with a log line,
the caches compute the answer, the PVGIS budget falls back to the database's slot.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from geo.db import make_engine

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5.0  # after a Redis failure, how long operations fail without trying
REDIS_TIMEOUT_S = 1.0  # connect and read timeout of one Redis command
REDIS_CONNECTIONS = 16  # per process
SWEEP_EVERY_S = 60.0


class SharedStateUnavailable(Exception):
    """The shared state's backend did not answer (Redis down or unreachable)."""


@dataclass(frozen=True)
class Hit:
    """A counter after one hit: the hits in the current window and the seconds it has left."""

    count: int
    reset_s: float


@dataclass(frozen=True)
class Cached:
    """A cached answer: the data version it was computed at, its age (s) and its bytes."""

    version: int
    age_s: float
    value: bytes


class SharedState(ABC):
    """Counters, a versioned TTL cache and call slots shared by every process."""

    backend: str

    @abstractmethod
    async def hit(self, key: str, window_s: float) -> Hit:
        """Count one hit of ``key`` in a fixed window of ``window_s`` seconds that starts at the
        window's first hit; the count includes this hit."""

    @abstractmethod
    async def get(self, key: str) -> Cached | None:
        """The answer stored under ``key`` if it has not expired."""

    @abstractmethod
    async def set(self, key: str, version: int, value: bytes, ttl_s: float) -> None:
        """Store an answer computed at ``version`` for ``ttl_s`` seconds."""

    @abstractmethod
    async def invalidate(self, key: str) -> None:
        """Forget the answer stored under ``key``."""

    @abstractmethod
    async def reserve_slot(self, name: str, interval_s: float) -> float:
        """Reserve the next free slot of the budget ``name`` (one slot every ``interval_s``);
        the seconds to wait for it (0 when free now)."""

    @abstractmethod
    async def check(self) -> None:
        """Raise :class:`SharedStateUnavailable` when the backend does not answer."""

    async def sweep(self) -> int:
        """Delete expired entries (rows or keys); how many. Redis expires keys itself."""
        return 0

    async def aclose(self) -> None:  # noqa: B027 - PostgreSQL has nothing of its own to close
        """Release the backend's connections."""


class PostgresState(SharedState):
    """The shared state in this deployment's PostgreSQL (UNLOGGED tables).

    Each operation is one statement on a connection of the engine's pool, sent with asyncpg
    itself outside any transaction (autocommit: no BEGIN/COMMIT round trips) and without
    SQLAlchemy's statement and result layers: ~0.11 ms of CPU per operation against ~0.35 ms
    through a SQLAlchemy ``Connection`` (docs/decisions.md, issue 22), paid by every counted
    request.
    """

    backend = "postgresql"

    _HIT = """INSERT INTO shared_counters AS c (key, count, expires_at)
              VALUES ($1, 1, statement_timestamp() + make_interval(secs => $2))
              ON CONFLICT (key) DO UPDATE
              SET count = CASE WHEN c.expires_at <= statement_timestamp() THEN 1
                               ELSE c.count + 1 END,
                  expires_at = CASE WHEN c.expires_at <= statement_timestamp()
                                    THEN excluded.expires_at ELSE c.expires_at END
              RETURNING count,
                        CAST(extract(epoch FROM expires_at - statement_timestamp()) AS float8)"""
    _GET = """SELECT version,
                     CAST(extract(epoch FROM statement_timestamp() - stored_at) AS float8),
                     value
              FROM shared_cache WHERE key = $1 AND expires_at > statement_timestamp()"""
    _SET = """INSERT INTO shared_cache (key, version, value, stored_at, expires_at)
              VALUES ($1, $2, $3, statement_timestamp(),
                      statement_timestamp() + make_interval(secs => $4))
              ON CONFLICT (key) DO UPDATE
              SET version = excluded.version, value = excluded.value,
                  stored_at = excluded.stored_at, expires_at = excluded.expires_at
              -- an answer of an older version (a slow request) never replaces a newer one
              WHERE shared_cache.version <= excluded.version
                 OR shared_cache.expires_at <= statement_timestamp()"""
    _RESERVE = """INSERT INTO rate_slots AS r (name, next_slot)
                  VALUES ($1, clock_timestamp() + make_interval(secs => $2))
                  ON CONFLICT (name) DO UPDATE
                  SET next_slot = greatest(r.next_slot, clock_timestamp())
                                  + make_interval(secs => $2)
                  RETURNING CAST(extract(epoch FROM r.next_slot - clock_timestamp()) AS float8)
                            - $2"""
    _SWEEP = """WITH c AS (DELETE FROM shared_counters WHERE expires_at <= statement_timestamp()
                           RETURNING 1),
                     k AS (DELETE FROM shared_cache WHERE expires_at <= statement_timestamp()
                           RETURNING 1)
                SELECT (SELECT count(*) FROM c) + (SELECT count(*) FROM k)"""

    def __init__(self, engine: AsyncEngine, *, owns_engine: bool = False) -> None:
        self.engine = engine
        self.owns_engine = owns_engine

    async def aclose(self) -> None:
        """Dispose of the engine when it is the shared state's own."""
        if self.owns_engine:
            await self.engine.dispose()

    async def _run(self, method: str, sql: str, *args: Any) -> Any:
        """``method`` (fetchrow, execute) of the asyncpg connection of a pooled connection.

        Checked out and returned through an :class:`AsyncConnection` (SQLAlchemy's documented way
        to the driver connection): the pool's return and invalidation do I/O that must run in
        its greenlet. A bare ``engine.raw_connection()`` closed from plain asyncio code broke the
        pool under cancellations (MissingGreenlet, then QueueFull on every later return).
        """
        async with self.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            try:
                return await getattr(raw.driver_connection, method)(sql, *args)
            except BaseException:
                # Broken, or cancelled mid-statement: never handed to the next request.
                await asyncio.shield(conn.invalidate())
                raise

    async def hit(self, key: str, window_s: float) -> Hit:
        """See :meth:`SharedState.hit`."""
        row = await self._run("fetchrow", self._HIT, key, float(window_s))
        return Hit(int(row[0]), max(0.0, float(row[1])))

    async def get(self, key: str) -> Cached | None:
        """See :meth:`SharedState.get`."""
        row = await self._run("fetchrow", self._GET, key)
        return None if row is None else Cached(int(row[0]), max(0.0, float(row[1])), row[2])

    async def set(self, key: str, version: int, value: bytes, ttl_s: float) -> None:
        """See :meth:`SharedState.set`."""
        await self._run("execute", self._SET, key, version, value, float(ttl_s))

    async def invalidate(self, key: str) -> None:
        """See :meth:`SharedState.invalidate`."""
        await self._run("execute", "DELETE FROM shared_cache WHERE key = $1", key)

    async def reserve_slot(self, name: str, interval_s: float) -> float:
        """See :meth:`SharedState.reserve_slot`."""
        row = await self._run("fetchrow", self._RESERVE, name, float(interval_s))
        return max(0.0, float(row[0]))

    async def check(self) -> None:
        """See :meth:`SharedState.check`."""
        await self._run("fetchrow", "SELECT 1")

    async def sweep(self) -> int:
        """See :meth:`SharedState.sweep`."""
        row = await self._run("fetchrow", self._SWEEP)
        return int(row[0])


# One round trip each, atomic on the server (Lua scripts run alone).
_HIT_LUA = """
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
"""
_RESERVE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(nxt, now)
redis.call('SET', KEYS[1], string.format('%.6f', slot + tonumber(ARGV[1])), 'PX', 3600000)
return string.format('%.6f', slot - now)
"""
_HEADER = struct.Struct(">qd")  # version, stored at (Unix time) before the answer's bytes


class RedisState(SharedState):
    """The shared state in Redis (``LFS_REDIS_URL``); keys under ``prefix``."""

    backend = "redis"

    def __init__(self, url: str, prefix: str = "lfs:") -> None:
        from redis.asyncio import BlockingConnectionPool, Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self.prefix = prefix
        # At most REDIS_CONNECTIONS sockets: a burst of requests waits a fraction of a
        # millisecond for one (each command takes ~0.1 ms) rather than opening one each.
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=REDIS_CONNECTIONS,
            timeout=REDIS_TIMEOUT_S,
            socket_connect_timeout=REDIS_TIMEOUT_S,
            socket_timeout=REDIS_TIMEOUT_S,
        )
        # A down Redis costs one attempt, not three with backoff.
        self.client = Redis(connection_pool=pool, retry=Retry(NoBackoff(), 0))
        self._hit = self.client.register_script(_HIT_LUA)
        self._reserve = self.client.register_script(_RESERVE_LUA)
        self._down_until = 0.0

    async def _call(self, op: Callable[[], Awaitable[Any]]) -> Any:
        from redis.exceptions import RedisError

        if time.monotonic() < self._down_until:
            raise SharedStateUnavailable("redis unreachable (recent failure)")
        try:
            return await op()
        except (TimeoutError, RedisError, OSError) as exc:
            self._down_until = time.monotonic() + RETRY_AFTER_S
            raise SharedStateUnavailable(f"redis unreachable ({type(exc).__name__})") from exc

    async def hit(self, key: str, window_s: float) -> Hit:
        """See :meth:`SharedState.hit`."""
        ms = max(1, int(window_s * 1000))
        n, ttl = await self._call(lambda: self._hit(keys=[self.prefix + key], args=[ms]))
        return Hit(int(n), max(0.0, int(ttl) / 1000))

    async def get(self, key: str) -> Cached | None:
        """See :meth:`SharedState.get`."""
        blob = await self._call(lambda: self.client.get(self.prefix + key))
        if blob is None or len(blob) < _HEADER.size:
            return None
        version, stored_at = _HEADER.unpack_from(blob)
        return Cached(version, max(0.0, time.time() - stored_at), bytes(blob[_HEADER.size :]))

    async def set(self, key: str, version: int, value: bytes, ttl_s: float) -> None:
        """See :meth:`SharedState.set`."""
        blob = _HEADER.pack(version, time.time()) + value
        ms = max(1, int(ttl_s * 1000))
        await self._call(lambda: self.client.set(self.prefix + key, blob, px=ms))

    async def invalidate(self, key: str) -> None:
        """See :meth:`SharedState.invalidate`."""
        await self._call(lambda: self.client.delete(self.prefix + key))

    async def reserve_slot(self, name: str, interval_s: float) -> float:
        """See :meth:`SharedState.reserve_slot`."""
        key = f"{self.prefix}slot:{name}"
        wait = await self._call(lambda: self._reserve(keys=[key], args=[f"{interval_s:.6f}"]))
        return max(0.0, float(wait))

    async def check(self) -> None:
        """See :meth:`SharedState.check`."""
        # Always asks (even within RETRY_AFTER_S): /health and /api/ready say what is now.
        from redis.exceptions import RedisError

        try:
            await self.client.ping()
        except (TimeoutError, RedisError, OSError) as exc:
            self._down_until = time.monotonic() + RETRY_AFTER_S
            raise SharedStateUnavailable(f"redis unreachable ({type(exc).__name__})") from exc
        self._down_until = 0.0

    async def aclose(self) -> None:
        """See :meth:`SharedState.aclose`."""
        await self.client.aclose(close_connection_pool=True)  # the pool is ours


SHARED_POOL_SIZE = 4  # each operation holds a connection ~0.1 ms
SHARED_POOL_OVERFLOW = 8


def make_shared_state(engine: AsyncEngine, redis_url: str | None, prefix: str) -> SharedState:
    """Redis when a URL is configured, else this database through a small pool of its own.

    Its own pool, not the requests': a request holding its session's connection asks the shared
    state (the list total, an analytics answer) for a second one; with one pool, a burst of such
    requests held every connection and waited for another until the pool's timeout (the load
    test at 300 people, where nothing was busy).
    """
    if redis_url:
        return RedisState(redis_url, prefix)
    own = make_engine(
        engine.url.render_as_string(hide_password=False),
        pool_size=SHARED_POOL_SIZE,
        max_overflow=SHARED_POOL_OVERFLOW,
        statement_timeout_ms=2_000,
    )
    return PostgresState(own, owns_engine=True)


class Throttled:
    """A warning logged at most once per ``every_s`` (a down backend fails every request)."""

    def __init__(self, logger: logging.Logger, every_s: float = 30.0) -> None:
        self.logger = logger
        self.every_s = every_s
        self._last = -every_s

    def warning(self, msg: str, *args: Any) -> None:
        """Log ``msg`` unless one was logged less than ``every_s`` ago."""
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            self.logger.warning(msg, *args)


def start_sweeper(
    state: SharedState, every_s: float = SWEEP_EVERY_S
) -> Callable[[], Awaitable[None]]:
    """Sweep expired rows every ``every_s`` in the background; the callable stops it."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                await state.sweep()
            except Exception:  # the next round tries again; rows are reused in place anyway
                log.warning("shared state sweep failed", exc_info=True)

    task = asyncio.create_task(loop())

    async def stop() -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    return stop
