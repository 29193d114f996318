"""Alembic environment: async engine, GeoAlchemy2 helpers, URL from the caller or DATABASE_URL."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from api.settings import to_async_url
from geo.models import Base

config = context.config
target_metadata = Base.metadata

# Tables owned by other tools (PostGIS, procrastinate) are not ours to diff.
FOREIGN_PREFIXES = ("procrastinate_", "spatial_ref_sys", "geography_columns", "geometry_columns")


def include_object(obj, name, type_, reflected, compare_to):
    """Skip PostGIS and procrastinate objects, then GeoAlchemy2's own rules."""
    if type_ == "table" and name and name.startswith(FOREIGN_PREFIXES):
        return False
    if type_ in ("index", "column") and getattr(obj, "table", None) is not None:
        if obj.table.name.startswith(FOREIGN_PREFIXES):
            return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


def _url() -> str:
    url = config.attributes.get("database_url") or os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("DATABASE_URL is not set")
    return to_async_url(url)


def _configure(connection: Connection | None = None, **kw: object) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        compare_type=True,
        **kw,
    )


def run_migrations_offline() -> None:
    """Emit SQL without a database."""
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _do_run(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_async() -> None:
    """Run the migrations on an asyncpg connection."""
    connectable = config.attributes.get("connection")
    if connectable is not None:
        await connectable.run_sync(_do_run)
        return
    engine = create_async_engine(_url(), poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_do_run)
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_async())
