"""State shared by every process that uses the database: rate budgets, counters, cached answers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from geo.models.base import Base


class RateSlot(Base):
    """The next free call slot of a budget (e.g. ``pvgis``): each call reserves one, atomically."""

    __tablename__ = "rate_slots"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    next_slot: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class SharedCounter(Base):
    """A fixed-window counter shared by every process (``geo.shared_state``; UNLOGGED)."""

    __tablename__ = "shared_counters"
    __table_args__ = {"prefixes": ["UNLOGGED"], "postgresql_with": {"fillfactor": 70}}

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class SharedCacheEntry(Base):
    """An answer cached for every process with the data version it was computed at (UNLOGGED)."""

    __tablename__ = "shared_cache"
    __table_args__ = {"prefixes": ["UNLOGGED"]}

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, nullable=False)
    value: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
