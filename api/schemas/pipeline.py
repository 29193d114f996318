"""Pipeline (Kanban) response models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from geo.models import LeadStatus


class PipelineCard(BaseModel):
    """A lead as a Kanban card."""

    id: int
    internal_name: str
    name: str | None
    commune_insee: str | None
    commune_name: str | None
    quality_score: float | None
    area_m2: float | None
    assignee_id: int | None
    assignee_name: str | None
    status_changed_at: datetime
    days_in_status: float = Field(description="Days since the lead entered its status")
    version: int
    rejection_reason: str | None = Field(None, description="Why the lead was rejected")
    allowed_transitions: list[LeadStatus] = Field(
        default_factory=list,
        description="The moves the caller may make now (the server's rule: role, assignment, "
        "enrichment for ENRICHED, score for QUALIFIED)",
    )


class PipelineColumn(BaseModel):
    """One status: how many leads, and the most recently updated cards."""

    status: LeadStatus
    count: int
    cards: list[PipelineCard]
    area_m2_total: float = Field(0.0, description="Total area of the column's leads (m²)")
    mwc_total: float | None = Field(
        None,
        description="Total installable power (MWc) of the column's enriched leads; null when "
        "none has one (données absentes)",
    )
    mwc_known: int = Field(0, description="How many of the column's leads have a power figure")


class Pipeline(BaseModel):
    """The Kanban: every status the caller may see, in pipeline order."""

    columns: list[PipelineColumn]
    cards_per_status: int
