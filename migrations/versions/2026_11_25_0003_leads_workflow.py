"""lead workflow: internal-name counters, Kanban index

Revision ID: 0003_leads_workflow
Revises: 0005_procrastinate
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_leads_workflow"
down_revision: str | None = "0005_procrastinate"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lead_name_counters",
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("prefix", name=op.f("pk_lead_name_counters")),
    )
    op.create_index("ix_leads_status_updated_at", "leads", ["status", "updated_at"], unique=False)
    op.create_index(
        "ix_lead_status_history_status_entered_at",
        "lead_status_history",
        ["status", "entered_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_lead_status_history_status_entered_at", table_name="lead_status_history")
    op.drop_index("ix_leads_status_updated_at", table_name="leads")
    op.drop_table("lead_name_counters")
