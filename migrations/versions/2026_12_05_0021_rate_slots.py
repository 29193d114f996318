"""rate slots: one PVGIS budget for every process on the database

Revision ID: 0021_rate_slots
Revises: 0020_layer_coverage
Create Date: 2026-12-05

PVGIS allows 30 calls/s per IP; each process had its own 25/s bucket, so the API, the worker and
more workers together went over (issue 16: 47 calls/s, 243 × 429). A row per budget holds the
next free slot; a call reserves one in a single upsert (enrichment.pvgis.SharedBucket).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_rate_slots"
down_revision: str | None = "0020_layer_coverage"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_slots",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("next_slot", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_rate_slots")),
    )


def downgrade() -> None:
    op.drop_table("rate_slots")
