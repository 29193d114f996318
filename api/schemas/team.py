"""The pipeline as a team uses it: notifications, mentions, saved views."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from api.schemas.patch import omittable
from api.schemas.strict import UserId
from api.schemas.text import SINGLE_LINE
from api.services.leads_query import SortKey
from geo.models import LeadStatus
from geo.models.team import NotificationKind


class NotificationOut(BaseModel):
    """One notification of the caller."""

    id: int
    kind: NotificationKind
    lead_id: int
    lead_name: str
    actor_id: int | None
    actor_name: str | None
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


class NotificationPage(BaseModel):
    """A page of the caller's notifications, newest first, with the unread count."""

    items: list[NotificationOut]
    total: int
    unread: int
    page: int
    page_size: int


class MentionCandidate(BaseModel):
    """Someone a comment on this lead may mention (active, and may see the lead)."""

    id: int
    full_name: str
    email: str


ViewName = Annotated[
    str, StringConstraints(min_length=1, max_length=80, strip_whitespace=True), SINGLE_LINE
]


class ViewFilters(BaseModel):
    """The list/Kanban state a saved view keeps: the page's URL query, checked as the list's."""

    model_config = ConfigDict(extra="forbid")

    status: list[LeadStatus] | None = Field(None, max_length=8)
    assignee: UserId | None = None
    department: str | None = Field(None, pattern=r"^(\d{2}|2A|2B|97\d)$")
    score_min: float | None = Field(None, ge=0, le=100)
    score_max: float | None = Field(None, ge=0, le=100)
    q: Annotated[str, StringConstraints(min_length=1, max_length=100), SINGLE_LINE] | None = None
    sort: SortKey | None = None
    view: Literal["board", "list"] | None = None
    archived: bool | None = None
    columns: list[Literal["commune", "area", "score", "assignee", "age", "mwc"]] | None = Field(
        None, max_length=6
    )

    @model_validator(mode="after")
    def _score_range(self) -> ViewFilters:
        if (
            self.score_min is not None
            and self.score_max is not None
            and self.score_min > self.score_max
        ):
            raise ValueError("score_min is above score_max")
        return self


class SavedViewIn(BaseModel):
    """A new saved view."""

    model_config = ConfigDict(extra="forbid")

    name: ViewName
    filters: ViewFilters
    shared: bool = Field(False, description="Shown to the whole team (MANAGER/ADMIN only)")


class SavedViewPatch(BaseModel):
    """A change to one's saved view."""

    model_config = ConfigDict(extra="forbid")

    name: ViewName = omittable()
    filters: ViewFilters = omittable()
    shared: bool = omittable()


class SavedViewOut(BaseModel):
    """A saved view: the caller's own, or one shared by a MANAGER/ADMIN."""

    id: int
    name: str
    filters: dict[str, Any]
    shared: bool
    owner_id: int
    owner_name: str
    mine: bool
    created_at: datetime
    updated_at: datetime
