"""Engine and session factories; callers pass the URL (only ``api`` reads settings)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

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


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded attributes after commit (responses are built after it)."""
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session in one transaction: committed on success, rolled back on any error."""
    async with factory() as session, session.begin():
        yield session
