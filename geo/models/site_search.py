"""The site finder: saved searches, their runs and each run's ranked candidate sites."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo.models.base import Base, Timestamps, event_time, multipolygon


class SiteSearch(Timestamps, Base):
    """A named, owned "recherche de sites": a territory and criteria, re-runnable."""

    __tablename__ = "site_searches"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # {"communes": [...]} | {"departements": [...]} | {"polygon": GeoJSON}
    territory: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    # The criteria as sent (defaults filled in at each run and kept on the run).
    criteria: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)


class SiteSearchRun(Base):
    """One execution of a search, with the exact territory and criteria it ran with."""

    __tablename__ = "site_search_runs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    search_id: Mapped[int] = mapped_column(
        ForeignKey("site_searches.id", ondelete="CASCADE"), nullable=False
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # queued | running | succeeded | failed | cancelled
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    territory: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    criteria: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    # parcels scanned, sites found, removed by reason, kept, returned.
    counts: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # Per reference layer over the territory: covered | partial | absent.
    coverage: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    messages: Mapped[list[str] | None] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)
    # chunks_total/done, parcels_total/scanned, sites_found, percent (a queued run's progress).
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    started_at: Mapped[datetime] = event_time()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_site_search_runs_search_id_started_at", "search_id", "started_at"),)


class SiteSearchResult(Base):
    """A candidate site of a run: its parcels, surfaces, poste, verdicts and score."""

    __tablename__ = "site_search_results"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("site_search_runs.id", ondelete="CASCADE"), nullable=False
    )
    rank: Mapped[int] = mapped_column(Integer, nullable=False)
    parcel_ids: Mapped[list[str]] = mapped_column(JSONB, nullable=False)
    area_m2: Mapped[float] = mapped_column(Float, nullable=False)
    buildable_m2: Mapped[float] = mapped_column(Float, nullable=False)
    score: Mapped[float] = mapped_column(Float, nullable=False)
    completeness: Mapped[float] = mapped_column(Float, nullable=False)
    # The verdict of each criterion, the chosen poste, excluded zones and the score breakdown.
    facts: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    geom: Mapped[Any] = mapped_column(multipolygon(), nullable=False)
    # The lead made from this site ("Créer les leads"), once made.
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"))

    __table_args__ = (UniqueConstraint("run_id", "rank"),)


class SiteSearchChunk(Base):
    """A part of a run's territory (whole communes) that one worker runs in one transaction."""

    __tablename__ = "site_search_chunks"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("site_search_runs.id", ondelete="CASCADE"), nullable=False
    )
    idx: Mapped[int] = mapped_column(Integer, nullable=False)
    communes: Mapped[list[str]] = mapped_column(JSONB, nullable=False)
    parcels: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # pending | done | skipped
    counts: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("run_id", "idx"),)


class SiteSearchEdgeParcel(Base):
    """A parcel of a site touching another chunk: assembled again when the run is merged."""

    __tablename__ = "site_search_edge_parcels"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("site_search_runs.id", ondelete="CASCADE"), primary_key=True
    )
    parcel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    chunk_idx: Mapped[int] = mapped_column(Integer, nullable=False)
    plu_status: Mapped[str] = mapped_column(String(16), nullable=False)


class SiteSearchStaged(Base):
    """A site a chunk found, kept until the run's results are written (then deleted)."""

    __tablename__ = "site_search_staged"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("site_search_runs.id", ondelete="CASCADE"), nullable=False, index=True
    )
    chunk_idx: Mapped[int] = mapped_column(Integer, nullable=False)
    site_key: Mapped[str] = mapped_column(String(32), nullable=False)
    parcel_ids: Mapped[list[str]] = mapped_column(JSONB, nullable=False)
    area_m2: Mapped[float] = mapped_column(Float, nullable=False)
    buildable_m2: Mapped[float] = mapped_column(Float, nullable=False)
    score: Mapped[float] = mapped_column(Float, nullable=False)
    completeness: Mapped[float] = mapped_column(Float, nullable=False)
    facts: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    geom: Mapped[Any] = mapped_column(multipolygon(), nullable=False)
