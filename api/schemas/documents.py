"""Documents of a lead and generated reports."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from geo.models import DocumentCategory


class DocumentOut(BaseModel):
    """A file attached to a lead."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    lead_id: int
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    category: DocumentCategory
    uploaded_by_id: int | None
    created_at: datetime
    download_url: str = Field(description="Relative URL of the download endpoint.")


class DocumentList(BaseModel):
    """The documents of a lead, newest first."""

    items: list[DocumentOut]
    total: int


class DossierOut(BaseModel):
    """A generated PDF dossier, stored as a document of the lead (category ``dossier``)."""

    document_id: int
    download_url: str
    summary_source: Literal["openai", "template"] = Field(
        description="Who wrote the executive summary: the configured chat API or the template."
    )
    audience: Literal["internal", "commercial"] = Field(
        description="commercial: the version without owners' personal data."
    )
    pages: int
    generation_ms: int
    notes: list[str] = Field(description="What the dossier says is missing or was skipped.")
