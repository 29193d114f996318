"""Lead exports written by a worker: what POST /api/leads/exports answers and its poll returns."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from geo.models import ExportFormat, ExportStatus


class ExportOut(BaseModel):
    """A lead export: queued, running, done (its file downloadable until ``expires_at``) or
    failed (``error`` says why)."""

    id: int
    format: ExportFormat
    dialect: Literal["standard", "fr"] = Field(description="The CSV's dialect (csv only).")
    status: ExportStatus
    rows: int | None = Field(description="Leads written, once done.")
    size_bytes: int | None = Field(description="The file's size, once done.")
    filename: str = Field(description="The file's name (Content-Disposition of the download).")
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None = Field(description="When the file and this record are removed.")
    error: str | None = Field(description="Why it failed (status failed).")
    file_url: str | None = Field(description="Where to download the file, once done.")
