"""Declarative base, naming convention and shared column helpers."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import DateTime, Enum, MetaData, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SRID = 4326


class Base(DeclarativeBase):
    """Base class of every table."""

    metadata = MetaData(naming_convention=NAMING)


def str_enum(enum_cls: type[enum.Enum], name: str) -> Enum:
    """A VARCHAR + CHECK enum: adding a value is a plain migration, unlike a PostgreSQL ENUM."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


def multipolygon() -> Any:
    """A MultiPolygon column in EPSG:4326 with a GiST index."""
    return Geometry("MULTIPOLYGON", srid=SRID, spatial_index=True)


def point() -> Any:
    """A Point column in EPSG:4326 with a GiST index."""
    return Geometry("POINT", srid=SRID, spatial_index=True)


def event_time() -> Any:
    """A column that says when something happened, by default the time of the statement that
    writes the row: ``clock_timestamp()``, not ``now()``, which is the start of its transaction.
    A transaction may wait seconds (PVGIS calls, another move's row lock) before it writes the
    event, so ``now()`` would date a job's end before the calls it made and sort a lead's moves
    in another order than they were made."""
    return mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp(), nullable=False
    )


class Timestamps:
    """created_at / updated_at kept by the database."""

    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )
