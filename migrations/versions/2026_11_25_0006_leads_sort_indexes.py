"""lead list sort indexes

Revision ID: 0006_leads_sort_indexes
Revises: 0003_leads_workflow
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_leads_sort_indexes"
down_revision: str | None = "0003_leads_workflow"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_leads_updated_at", "leads", ["updated_at"], unique=False)
    op.create_index("ix_leads_area_m2", "leads", ["area_m2"], unique=False)
    op.create_index(
        "ix_leads_quality_score_desc",
        "leads",
        [sa.text("quality_score DESC NULLS LAST")],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_leads_quality_score_desc", table_name="leads")
    op.drop_index("ix_leads_area_m2", table_name="leads")
    op.drop_index("ix_leads_updated_at", table_name="leads")
