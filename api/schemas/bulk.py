"""Bulk actions on the lead list: assign, move, export a selection."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.schemas.strict import RowId, UserId
from api.schemas.text import MULTI_LINE
from api.services.leads_query import SortKey
from geo.models import LeadStatus

MAX_BULK = 500
LeadIds = Annotated[
    list[RowId],
    Field(min_length=1, max_length=MAX_BULK, description=f"Lead ids (1 to {MAX_BULK})"),
]


class BulkAssign(BaseModel):
    """Assign every lead to one user (or unassign them: null)."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["assign"]
    ids: LeadIds
    assignee_id: UserId | None


class BulkTransition(BaseModel):
    """Move every lead to one status (a reason for REJECTED)."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["transition"]
    ids: LeadIds
    status: LeadStatus
    reason: Annotated[str, StringConstraints(max_length=2000), MULTI_LINE] | None = None


BulkIn = Annotated[BulkAssign | BulkTransition, Field(discriminator="action")]


class BulkResult(BaseModel):
    """What happened to one lead: ok, or the refusal's status, code and French message."""

    id: int
    ok: bool
    status: int = Field(description="The HTTP status the single-lead route would have answered")
    code: str | None = Field(None, description="The problem's machine code when refused")
    message: str | None = Field(None, description="Why it was refused, in French")
    extensions: dict[str, Any] | None = Field(
        None, description="The problem's extensions (current_status, allowed_transitions…)"
    )


class BulkOut(BaseModel):
    """One result per lead, in the order of the request's ids."""

    results: list[BulkResult]
    ok: int
    failed: int


class BulkExportIn(BaseModel):
    """The selected leads as a file."""

    model_config = ConfigDict(extra="forbid")

    ids: LeadIds
    format: Literal["xlsx", "csv"] = "xlsx"
    dialect: Literal["standard", "fr"] = "fr"
    sort: SortKey = "-created_at"
