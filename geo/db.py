"""Engine and session factories; callers pass the URL (only ``api`` reads settings)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 20) -> AsyncEngine:
    """An asyncpg engine with a pool sized for one API process."""
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        # No pre-ping: it costs a round trip on every checkout (measured on the lead API). A
        # connection broken by a database restart fails one request with a 503 and is discarded.
        pool_pre_ping=False,
        pool_recycle=1800,
        # JIT makes sub-millisecond spatial lookups slower; PostgreSQL's JIT pays off only on
        # long analytical queries we don't run on the request path.
        connect_args={"server_settings": {"jit": "off", "application_name": "leadfactory"}},
    )


# Settings of every connection: JIT off (see make_engine), timestamps rendered in UTC by the
# JSON PostgreSQL builds for the hot read paths.
SERVER_SETTINGS = {"jit": "off", "application_name": "leadfactory", "TimeZone": "UTC"}


async def _keep_session(conn: asyncpg.Connection) -> None:
    """No RESET ALL on release: it costs a round trip, and these paths change no session
    state (asyncpg still rolls back a transaction left open)."""


async def make_pg_pool(url: str, *, size: int = 10) -> asyncpg.Pool:
    """A plain asyncpg pool for the hot paths (lead list, detail, create, authentication).

    SQLAlchemy's session, ORM and statement compilation cost ~1 ms of CPU per query, several
    times the query itself; these paths send hand-written SQL (prepared and cached per
    connection by asyncpg) and let PostgreSQL build the JSON. ``url`` is a SQLAlchemy URL or a
    plain ``postgresql://`` one.
    """
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    pool = await asyncpg.create_pool(
        dsn,
        min_size=0,  # connect on first use: the app starts even while the database is down
        max_size=size,
        server_settings=SERVER_SETTINGS,
        # The list's SQL text varies with the filters given (a few hundred shapes): keep them all
        # prepared rather than re-parsing and re-planning evicted ones.
        statement_cache_size=1024,
        reset=_keep_session,
    )
    assert pool is not None
    return pool


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded attributes after commit (responses are built after it)."""
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session in one transaction: committed on success, rolled back on any error."""
    async with factory() as session, session.begin():
        yield session
