"""Enrichment requests and results."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from api.schemas.strict import DateTime, RowId, UserId
from api.schemas.text import SINGLE_LINE
from enrichment.criteria import CRITERIA
from geo.models import LeadStatus

_KEYS = ", ".join(CRITERIA)


class PartOut(BaseModel):
    """One part of an enrichment: partial when some data could not be had, with the reasons."""

    partial: bool = Field(description="True when this part lacks data (see messages).")
    messages: list[str] = Field(description="What could not be known, and why.")
    data: dict[str, Any] = Field(description="The part's figures.")


class PartsOut(BaseModel):
    """Every part of an enrichment."""

    sun: PartOut
    environment: PartOut
    grid: PartOut
    urbanism: PartOut
    surface: PartOut
    economics: PartOut


class CriterionScore(BaseModel):
    """One criterion of a lead's score (``enrichment.criteria``)."""

    value: float = Field(description="0–1.")
    weight: float
    points: float = Field(description="Its share of the 0–100 score.")
    reason: str = Field(description="Why, in French; what is absent when data is missing.")
    data: Literal["real", "estimated", "missing"] = Field(description="Where the value came from.")


class ScoreOut(BaseModel):
    """The explainable score: total, completeness, exclusion and the breakdown per criterion."""

    model_config = ConfigDict(extra="allow")

    score: float = Field(description="0–100; 0 on a hard exclusion.")
    completeness: float = Field(description="Share (0–1) of the weight backed by real data.")
    excluded: bool
    exclusion_reasons: list[str]
    criteria: dict[str, CriterionScore] = Field(
        description=f"Per criterion key ({_KEYS}), in the registry's order."
    )
    weights: dict[str, float] = Field(description="The weights the score was computed with.")


class CriterionInfo(BaseModel):
    """How a criterion is named and weighed (``GET /api/reference/criteria``)."""

    key: str = Field(description=f"The breakdown's key ({_KEYS}).")
    label: str = Field(description="French label, as shown.")
    weight: float = Field(description="The configured weight.")
    section: str = Field(description="The enrichment part it rests on.")
    unit: str = Field(description="Unit of the figure its reason quotes (may be empty).")
    absent: str = Field(description="What its reason says when its data is missing.")
    description: str


class CriterionList(BaseModel):
    """The score's criteria, in display order."""

    items: list[CriterionInfo]


class EnrichmentOut(BaseModel):
    """The result of enriching one lead (also what was written)."""

    lead_id: int
    status: LeadStatus
    quality_score: float = Field(description="0–100; 0 on a hard exclusion.")
    completeness: float = Field(description="Share (0–1) of the score weight backed by real data.")
    enrichment_stale: bool = Field(description="True when something should be re-enriched later.")
    partial: list[str] = Field(description="Names of the partial parts.")
    parts: PartsOut
    score: ScoreOut = Field(description="Breakdown per criterion: value, weight, reason.")


class BatchFilters(BaseModel):
    """The lead list's filters (same meaning as ``GET /api/leads``)."""

    status: list[LeadStatus] = Field(default_factory=list)
    assignee_id: UserId | None = None
    score_min: float | None = None
    score_max: float | None = None
    department: str | None = Field(None, max_length=3)
    commune: str | None = Field(None, max_length=5)
    bbox: tuple[float, float, float, float] | None = Field(
        None, description="minlon, minlat, maxlon, maxlat"
    )
    created_from: DateTime | None = None
    created_to: DateTime | None = None
    q: Annotated[str, StringConstraints(max_length=200), SINGLE_LINE] | None = None


class BatchIn(BaseModel):
    """Which leads to enrich: explicit ids or the list's filters (exactly one)."""

    lead_ids: list[RowId] | None = Field(None, max_length=100_000)
    filters: BatchFilters | None = None

    @model_validator(mode="after")
    def _one_of(self) -> BatchIn:
        if (self.lead_ids is None) == (self.filters is None):
            raise ValueError("give exactly one of lead_ids or filters")
        return self


class BatchOut(BaseModel):
    """A queued batch."""

    job_id: int
    total: int


class JobFailure(BaseModel):
    """A lead the job could not enrich."""

    lead_id: int
    reason: str


class JobOut(BaseModel):
    """Progress of a batch job."""

    id: int
    status: str = Field(description="queued, running or done")
    total: int
    done: int
    failed: int
    failures: list[JobFailure]
    created_at: datetime
    finished_at: datetime | None
