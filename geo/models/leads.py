"""The lead and its one-to-one tables (sourcing, technical, regulatory, network, foncier,
economic) plus the status history used for time-in-stage analytics."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo.models.base import Base, Timestamps, event_time, multipolygon, point, str_enum
from geo.models.enums import AgreementStatus, LeadSource, LeadStatus, Verdict


def _owned_by(column: str) -> ForeignKey:
    """A key to a row that owns this one: deleting the owner deletes it."""
    return ForeignKey(column, ondelete="CASCADE")


# What ?q= searches: name, internal name, commune name and notes, as one text.
SEARCH_EXPR = (
    "coalesce(name, '') || ' ' || internal_name || ' ' || coalesce(commune_name, '') || ' ' "
    "|| coalesce(notes, '')"
)

# The lead columns copied into lead_stage_facts (same names, so filters can be re-targeted).
STAGE_FACT_LEAD_COLUMNS = (
    "status",
    "assignee_id",
    "is_public",
    "department",
    "commune_insee",
    "quality_score",
    "created_at",
    "created_by_id",  # migration 0027: analytics filter by creator too
)
# The columns the lead list filters on, included in each sort index (migration 0010) but the
# sorted one.
LIST_FILTER_COLUMNS = STAGE_FACT_LEAD_COLUMNS


def _include(*keys: str) -> list[str]:
    return [c for c in LIST_FILTER_COLUMNS if c not in keys]


class Lead(Timestamps, Base):
    """A candidate site: one or more adjacent parcels."""

    __tablename__ = "leads"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    internal_name: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[LeadStatus] = mapped_column(
        str_enum(LeadStatus, "lead_status"), nullable=False, server_default=LeadStatus.NEW.value
    )
    status_changed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    is_public: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    commune_insee: Mapped[str | None] = mapped_column(String(5))
    commune_name: Mapped[str | None] = mapped_column(String(200))
    department: Mapped[str | None] = mapped_column(String(3))
    notes: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[Any] = mapped_column(multipolygon(), nullable=False)
    # Derived by PostgreSQL so they can never disagree with the geometry.
    centroid: Mapped[Any] = mapped_column(
        point(), Computed("ST_Centroid(geom)", persisted=True), nullable=True
    )
    area_m2: Mapped[float | None] = mapped_column(
        Float, Computed("ST_Area(geom::geography)", persisted=True)
    )
    quality_score: Mapped[float | None] = mapped_column(Float)
    completeness: Mapped[float | None] = mapped_column(Float)
    score_breakdown: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    enrichment_stale: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("true")
    )
    enriched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    # Optimistic concurrency: every write bumps it; a stale If-Match gets 412.
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("1"))

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("ix_leads_status", "status"),
        Index("ix_leads_assignee_id", "assignee_id"),
        Index("ix_leads_quality_score", "quality_score"),
        Index("ix_leads_department", "department"),
        Index("ix_leads_commune_insee", "commune_insee"),
        # List sorts (ORDER BY … LIMIT must match an index or it sorts the whole table), with
        # the filterable columns included: the page's ids come from an index-only scan that
        # filters on the index tuples. ix_leads_created_at also serves the analytics' created_at
        # ranges (weekly created, throughput created, created filters).
        Index("ix_leads_created_at", "created_at", "id", postgresql_include=_include("created_at")),
        Index("ix_leads_updated_at", "updated_at", "id", postgresql_include=_include("updated_at")),
        Index("ix_leads_area_m2", "area_m2", "id", postgresql_include=_include("area_m2")),
        Index(
            "ix_leads_quality_score_desc",
            text("quality_score DESC NULLS LAST"),
            text("id DESC"),
            postgresql_include=_include("quality_score"),
        ),
        # The Kanban's latest cards of a status.
        Index(
            "ix_leads_status_updated_at",
            "status",
            "updated_at",
            "id",
            postgresql_include=_include("status", "updated_at"),
        ),
        # Free-text search (?q=): trigram index on the searched text (api/services/leads_query.py
        # builds the very same expression, so the planner can match it).
        Index(
            "ix_leads_search_trgm",
            text(f"({SEARCH_EXPR}) gin_trgm_ops"),
            postgresql_using="gin",
        ),
        # Analytics (api/services/analytics.py): index-only scans of the columns they read.
        Index(
            "ix_leads_analytics",
            "status",
            postgresql_include=[
                "id",
                "department",
                "created_at",
                "assignee_id",
                "is_public",
                "quality_score",
                "completeness",
                "area_m2",
                "created_by_id",
                "commune_insee",
            ],
        ),
    )


class LeadStatusHistory(Base):
    """One row per status change: entered at, left at (time in stage)."""

    __tablename__ = "lead_status_history"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    lead_id: Mapped[int] = mapped_column(_owned_by("leads.id"), nullable=False)
    status: Mapped[LeadStatus] = mapped_column(str_enum(LeadStatus, "history_status"))
    entered_at: Mapped[datetime] = event_time()
    left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_lead_status_history_lead_id_entered_at", "lead_id", "entered_at"),
        # Weekly qualified/sold counts and per-OPS throughput scan one status over a period.
        Index("ix_lead_status_history_status_entered_at", "status", "entered_at"),
    )


class LeadStageFact(Base):
    """lead_status_history for analytics: one row per history row (same id), the stay's
    duration and a copy of the lead's filterable columns. Written only by triggers
    (migration 0008) in the transaction that writes the history or the lead."""

    __tablename__ = "lead_stage_facts"

    id: Mapped[int] = mapped_column(
        BigInteger, _owned_by("lead_status_history.id"), primary_key=True
    )
    lead_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    stay_status: Mapped[str] = mapped_column(String(32), nullable=False)
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # extract(epoch FROM left_at - entered_at)::float8 / 86400; NULL while the stay is open.
    days: Mapped[float | None] = mapped_column(Float)
    changed_by_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    assignee_id: Mapped[int | None] = mapped_column(Integer)
    is_public: Mapped[bool] = mapped_column(Boolean, nullable=False)
    department: Mapped[str | None] = mapped_column(String(3))
    commune_insee: Mapped[str | None] = mapped_column(String(5))
    quality_score: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_by_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        Index(
            "ix_lead_stage_facts_stay_status_days",
            "stay_status",
            "days",
            postgresql_include=list(STAGE_FACT_LEAD_COLUMNS),
        ),
        Index(
            "ix_lead_stage_facts_stay_status_entered_at",
            "stay_status",
            "entered_at",
            postgresql_include=["lead_id", "changed_by_id", *STAGE_FACT_LEAD_COLUMNS],
        ),
        Index("ix_lead_stage_facts_lead_id", "lead_id"),
    )


class LeadSourcing(Base):
    """How the lead was found, by whom and when."""

    __tablename__ = "lead_sourcing"

    lead_id: Mapped[int] = mapped_column(_owned_by("leads.id"), primary_key=True)
    source: Mapped[LeadSource] = mapped_column(
        str_enum(LeadSource, "lead_source"), nullable=False, server_default=LeadSource.MAP.value
    )
    found_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    found_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    source_notes: Mapped[str | None] = mapped_column(Text)
    parcel_ids: Mapped[list[str] | None] = mapped_column(JSONB)


class LeadTechnical(Base):
    """Surface and sun: measured areas, PVGIS (or estimated) production."""

    __tablename__ = "lead_technical"

    lead_id: Mapped[int] = mapped_column(_owned_by("leads.id"), primary_key=True)
    surface_m2: Mapped[float | None] = mapped_column(Float)
    usable_surface_m2: Mapped[float | None] = mapped_column(Float)
    slope_pct: Mapped[float | None] = mapped_column(Float)
    irradiation_kwh_m2: Mapped[float | None] = mapped_column(Float)
    specific_yield_kwh_kwc: Mapped[float | None] = mapped_column(Float)
    installable_mwc: Mapped[float | None] = mapped_column(Float)
    annual_production_mwh: Mapped[float | None] = mapped_column(Float)
    optimal_tilt_deg: Mapped[float | None] = mapped_column(Float)
    monthly: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    pvgis_inputs: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    radiation_database: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[str | None] = mapped_column(String(20))  # 'pvgis' or 'estimate'
    computed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LeadRegulatory(Base):
    """Protected zones, PLU zones, constraints and the verdict."""

    __tablename__ = "lead_regulatory"

    lead_id: Mapped[int] = mapped_column(_owned_by("leads.id"), primary_key=True)
    zones: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    nearby_zones: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    plu_zones: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    plu_zone_type: Mapped[str | None] = mapped_column(String(8))
    plu_label: Mapped[str | None] = mapped_column(String(64))
    constraints: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    verdict: Mapped[Verdict | None] = mapped_column(str_enum(Verdict, "verdict"))
    reasons: Mapped[list[str] | None] = mapped_column(JSONB)
    computed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LeadNetwork(Base):
    """Grid: nearest postes sources, chosen poste and connection cost."""

    __tablename__ = "lead_network"

    lead_id: Mapped[int] = mapped_column(_owned_by("leads.id"), primary_key=True)
    nearest: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    chosen_substation_id: Mapped[int | None] = mapped_column(
        ForeignKey("substations.id", ondelete="SET NULL")
    )
    distance_m: Mapped[float | None] = mapped_column(Float)
    capacity_available_mw: Mapped[float | None] = mapped_column(Float)
    capacity_ok: Mapped[bool | None] = mapped_column(Boolean)
    quote_part_eur_kw: Mapped[float | None] = mapped_column(Float)
    connection_cost_eur: Mapped[float | None] = mapped_column(Float)
    connection_voltage: Mapped[str | None] = mapped_column(String(8))  # HTA / HTB
    computed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LeadFoncier(Base):
    """Land: parcels and (encrypted) owners, agreement status."""

    __tablename__ = "lead_foncier"

    lead_id: Mapped[int] = mapped_column(_owned_by("leads.id"), primary_key=True)
    parcels: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    # AES-256-GCM ciphertext of the owners' JSON list (geo.crypto), never plaintext.
    owners_encrypted: Mapped[str | None] = mapped_column(Text)
    owner_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    agreement_status: Mapped[AgreementStatus] = mapped_column(
        str_enum(AgreementStatus, "agreement_status"),
        nullable=False,
        server_default=AgreementStatus.NONE.value,
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


class LeadEconomic(Base):
    """Economics of the site and every assumption used."""

    __tablename__ = "lead_economic"

    lead_id: Mapped[int] = mapped_column(_owned_by("leads.id"), primary_key=True)
    capex_eur: Mapped[float | None] = mapped_column(Float)
    opex_eur_yr: Mapped[float | None] = mapped_column(Float)
    connection_cost_eur: Mapped[float | None] = mapped_column(Float)
    annual_revenue_eur: Mapped[float | None] = mapped_column(Float)
    land_rent_eur_yr: Mapped[float | None] = mapped_column(Float)
    simple_payback_years: Mapped[float | None] = mapped_column(Float)
    lcoe_eur_mwh: Mapped[float | None] = mapped_column(Float)
    tariff_eur_mwh: Mapped[float | None] = mapped_column(Float)
    assumptions: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    computed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LeadNameCounter(Base):
    """The last sequence number used per internal-name prefix (``69-114``): atomic upserts."""

    __tablename__ = "lead_name_counters"

    prefix: Mapped[str] = mapped_column(String(16), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, nullable=False)
