"""Documents, comments and the activity log attached to leads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo.models.base import Base, Timestamps, event_time, str_enum
from geo.models.enums import DocumentCategory, ExportFormat, ExportStatus, Role


class Document(Base):
    """A file attached to a lead (upload or generated dossier); bytes live in the storage."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    lead_id: Mapped[int] = mapped_column(
        ForeignKey("leads.id", ondelete="CASCADE"), nullable=False, index=True
    )
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    content_type: Mapped[str] = mapped_column(String(127), nullable=False)
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    category: Mapped[DocumentCategory] = mapped_column(
        str_enum(DocumentCategory, "document_category"), nullable=False
    )
    storage_key: Mapped[str] = mapped_column(String(512), nullable=False, unique=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class Comment(Timestamps, Base):
    """A comment on a lead."""

    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), nullable=False)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text, nullable=False)

    __table_args__ = (Index("ix_comments_lead_id_created_at", "lead_id", "created_at"),)


class ActivityLog(Base):
    """Who did what, when, with the values before and after."""

    __tablename__ = "activity_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    entity: Mapped[str] = mapped_column(String(64), nullable=False, server_default="lead")
    entity_id: Mapped[int | None] = mapped_column(BigInteger)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = event_time()

    __table_args__ = (
        Index("ix_activity_log_lead_id_created_at", "lead_id", "created_at"),
        Index("ix_activity_log_user_id_created_at", "user_id", "created_at"),
    )


class EnrichmentJob(Base):
    """A batch enrichment job and its progress."""

    __tablename__ = "enrichment_jobs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="queued")
    total: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    done: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    failed: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    lead_ids: Mapped[list[int] | None] = mapped_column(JSONB)
    failures: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = event_time()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LeadExport(Base):
    """A lead export (CSV or XLSX) asked through the API and written by a worker: the web app
    polls it, then downloads the file from storage. The filters, sort and role are those of the
    request, so the worker selects exactly what the person could see when they asked."""

    __tablename__ = "lead_exports"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    role: Mapped[Role] = mapped_column(str_enum(Role, "lead_export_role"), nullable=False)
    format: Mapped[ExportFormat] = mapped_column(
        str_enum(ExportFormat, "lead_export_format"), nullable=False
    )
    dialect: Mapped[str] = mapped_column(String(16), nullable=False, server_default="standard")
    sort: Mapped[str] = mapped_column(String(32), nullable=False)
    # The list's filters (api.services.leads_query.LeadFilters.to_json).
    filters: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    status: Mapped[ExportStatus] = mapped_column(
        str_enum(ExportStatus, "lead_export_status"), nullable=False, server_default="queued"
    )
    rows: Mapped[int | None] = mapped_column(Integer)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    storage_key: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = event_time()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_lead_exports_user_id_created_at", "user_id", "created_at"),)


class PvgisCache(Base):
    """PVGIS answers keyed by rounded coordinates and parameters (shared by all instances)."""

    __tablename__ = "pvgis_cache"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    response: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = event_time()
