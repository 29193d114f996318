"""Comment and activity request/response models."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from api.schemas.leads import ActivityOut, CommentOut
from api.schemas.text import MULTI_LINE

# Several lines, no control characters (api.schemas.text).
Body = Annotated[
    str, StringConstraints(min_length=1, max_length=10_000, strip_whitespace=True), MULTI_LINE
]


class CommentIn(BaseModel):
    """The text of a comment."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"body": "Propriétaire rappelé, RDV le 3 décembre."}]},
    )

    body: Body


class CommentPage(BaseModel):
    """A page of comments, newest first."""

    items: list[CommentOut]
    total: int
    page: int
    page_size: int


class ActivityPage(BaseModel):
    """A page of activity entries, newest first."""

    items: list[ActivityOut]
    total: int
    page: int
    page_size: int
