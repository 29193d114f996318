"""Engine and session factories; callers pass the URL (only ``api`` reads settings)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from geo.errors import DomainError


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 20,
    pool_timeout_s: float = 10.0,
    statement_timeout_ms: int | None = None,
) -> AsyncEngine:
    """An asyncpg engine with a pool sized for one API process; ``statement_timeout_ms`` caps
    every statement of its connections (a SET LOCAL overrides it, as the tiles do)."""
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        # Waiting longer than this for a connection is a 503 (api.errors), not SQLAlchemy's
        # 30 s then a 500: a client retries sooner than a person gives up.
        pool_timeout=pool_timeout_s,
        # No pre-ping: it costs a round trip on every checkout (measured on the lead API). A
        # connection broken by a database restart fails one request with a 503 and is discarded.
        pool_pre_ping=False,
        pool_recycle=1800,
        # JIT makes sub-millisecond spatial lookups slower; PostgreSQL's JIT pays off only on
        # long analytical queries we don't run on the request path.
        connect_args={"server_settings": _server_settings(statement_timeout_ms)},
    )


def _server_settings(statement_timeout_ms: int | None) -> dict[str, str]:
    # No parallel plans on the request path: a parallel count or aggregate ends ~15 % sooner on
    # idle cores but takes 2-3 times the CPU (the pipeline's totals: 41 ms on 3 processes vs 48
    # ms on one), CPU that the other requests need once the cores are busy (issue 18's load test).
    out = {"jit": "off", "max_parallel_workers_per_gather": "0", "application_name": "leadfactory"}
    if statement_timeout_ms is not None:
        out["statement_timeout"] = str(statement_timeout_ms)
    return out


class FairPool:
    """The tile service's connections to PostgreSQL (tiles.service), handed out in arrival
    order. Everything else goes through SQLAlchemy's engine and sessions (:func:`make_engine`).

    * **In order.** asyncpg's pool queue lets a newcomer take a connection that was just
      released while the caller woken for it has not run yet; that caller then queues again, at
      the back: under a map's burst of tiles most got a connection at once and a few starved.
      A FIFO semaphore of the pool's size (asyncio's is FIFO since Python 3.11.1) serves
      callers in order.
    * **Plain connections.** Connections open on first use (the app starts while the database
      is down), are never reset (tiles change no session state) and are dropped, not reused,
      when closed, left in a transaction, or left by anything but a completed statement (a
      cancelled query may still be running).
    """

    def __init__(self, dsn: str, size: int, **connect: Any) -> None:
        self.dsn = dsn
        self.size = size
        self._connect = connect
        self._gate = asyncio.Semaphore(size)
        self._idle: list[asyncpg.Connection] = []
        self._closed = False

    @property
    def in_use(self) -> int:
        """Connections handed out now (the gate's free slots are the others)."""
        return self.size - self._gate._value

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection, in turn; back to the pool (then the next caller's) on exit."""
        async with self._gate:
            if self._closed:
                raise asyncpg.InterfaceError("the pool is closed")
            conn = self._idle.pop() if self._idle else None
            if conn is None or conn.is_closed():
                conn = await asyncpg.connect(self.dsn, **self._connect)
            reusable = False
            try:
                yield conn
                reusable = True
            except (DomainError, asyncpg.PostgresError):
                reusable = True  # the statement completed: the server said no, or the caller did
                raise
            finally:
                if reusable:
                    reusable = not (self._closed or conn.is_closed() or conn.is_in_transaction())
                if reusable:
                    self._idle.append(conn)
                else:
                    conn.terminate()

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        """The rows of one statement."""
        async with self.acquire() as conn:
            return await conn.fetch(query, *args)

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        """The first row of one statement (None when none)."""
        async with self.acquire() as conn:
            return await conn.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        """The first column of the first row."""
        async with self.acquire() as conn:
            return await conn.fetchval(query, *args)

    async def execute(self, query: str, *args: Any) -> str:
        """Run one statement; its status tag."""
        async with self.acquire() as conn:
            return await conn.execute(query, *args)

    async def close(self) -> None:
        """Close the idle connections; those in use close when released."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded attributes after commit (responses are built after it)."""
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session in one transaction: committed on success, rolled back on any error."""
    async with factory() as session, session.begin():
        yield session
