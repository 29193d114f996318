"""lead exports written by a worker

Revision ID: 0029_lead_exports
Revises: 0028_team_pipeline
Create Date: 2026-12-06

Issue 18: the load test showed the exports (openpyxl ~5 s for 12k leads, the CSV writer ~1 s)
written inside the API process stalling every other request (they hold the interpreter lock).
An export is now a row the API writes and a worker fills: asked, polled, downloaded from storage.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0029_lead_exports"
down_revision: str | None = "0028_team_pipeline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    op.create_table(
        "lead_exports",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            _enum("lead_export_role", "ADMIN", "MANAGER", "OPS", "COMMERCIAL"),
            nullable=False,
        ),
        sa.Column("format", _enum("lead_export_format", "csv", "xlsx"), nullable=False),
        sa.Column("dialect", sa.String(length=16), server_default="standard", nullable=False),
        sa.Column("sort", sa.String(length=32), nullable=False),
        sa.Column("filters", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "status",
            _enum("lead_export_status", "queued", "running", "done", "failed"),
            server_default="queued",
            nullable=False,
        ),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("storage_key", sa.String(length=200), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_lead_exports_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_exports")),
    )
    op.create_index(
        "ix_lead_exports_user_id_created_at", "lead_exports", ["user_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_lead_exports_user_id_created_at", table_name="lead_exports")
    op.drop_table("lead_exports")
