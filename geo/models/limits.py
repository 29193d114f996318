"""Rate budgets shared by every process that uses the database (one row per budget)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from geo.models.base import Base


class RateSlot(Base):
    """The next free call slot of a budget (e.g. ``pvgis``): each call reserves one, atomically."""

    __tablename__ = "rate_slots"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    next_slot: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
