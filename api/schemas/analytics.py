"""Analytics response models."""

from __future__ import annotations

from pydantic import BaseModel, Field

from geo.models import LeadStatus


class FunnelStage(BaseModel):
    """One stage of the main path."""

    status: LeadStatus
    count: int = Field(description="Leads now in this status")
    reached: int = Field(description="Leads now at this stage or beyond on the main path")
    conversion_to_next: float | None = Field(description="reached(next) / reached(this)")


class Funnel(BaseModel):
    """Leads per status and conversion between the stages of the main path."""

    counts: dict[str, int]
    stages: list[FunnelStage]
    rejected: int
    archived: int
    total: int


class WeekPoint(BaseModel):
    """One week (starting Monday)."""

    week: str
    created: int
    qualified: int
    sold: int


class Weekly(BaseModel):
    """Leads created, qualified and sold per week."""

    weeks: list[WeekPoint]


class ScoreBucket(BaseModel):
    """A 10-point score range [from, to)."""

    from_: int = Field(alias="from")
    to: int
    count: int


class Scores(BaseModel):
    """Distribution of quality scores."""

    scored: int
    unscored: int
    average: float | None
    median: float | None
    average_completeness: float | None
    histogram: list[ScoreBucket]


class DepartmentRow(BaseModel):
    """Figures of one department."""

    department: str | None
    leads: int
    sold: int
    client_ready: int
    average_score: float | None
    surface_ha: float


class Departments(BaseModel):
    """Figures per department, most leads first."""

    departments: list[DepartmentRow]


class StageTime(BaseModel):
    """Time spent in one status (days)."""

    status: LeadStatus
    finished: int = Field(description="Finished stays measured")
    median_days: float | None
    p90_days: float | None
    in_progress: int = Field(description="Leads in this status now")


class StageTimes(BaseModel):
    """Time per stage from the status history."""

    stages: list[StageTime]


class OpsThroughput(BaseModel):
    """What one OPS user moved over the period."""

    user_id: int
    full_name: str
    created: int
    enriched: int
    qualified: int
    submitted: int
    rejected: int
    assigned_now: int


class ReviewerRow(BaseModel):
    """The QA decisions of one MANAGER/ADMIN over the period."""

    user_id: int
    full_name: str
    role: str
    decisions: int = Field(description="Moves out of IN_REVIEW made by this person")
    approved: int = Field(description="… to CLIENT_READY")
    sent_back: int = Field(description="… back to QUALIFIED")
    rejected: int = Field(description="… to REJECTED or ARCHIVED")
    approval_rate: float | None = Field(description="approved / decisions (None without any)")
    median_review_days: float | None = Field(
        description="Median time the decided leads spent in IN_REVIEW (days)"
    )


class Throughput(BaseModel):
    """The team over the period (``from``/``to``, else the last ``days`` days)."""

    days: int
    since: str = Field(description="Start of the period (RFC 3339)")
    until: str | None = Field(None, description="End of the period (excluded), None for now")
    users: list[OpsThroughput]
    reviews: list[ReviewerRow] = Field(description="QA decisions per MANAGER/ADMIN")
