"""autovacuum the lead tables after ~1 % of their rows changed, not 20 %

Revision ID: 0030_autovacuum_leads
Revises: 0029_lead_exports
Create Date: 2026-12-06

Issue 18's load test: the list's total, the pipeline's totals and the analytics count the
visible leads with index-only scans of the covering lead indexes, which read the table only for
pages the visibility map does not mark all-visible. With PostgreSQL's defaults (vacuum after
20 % of the rows changed, 50 + 20 % inserted) a busy day's ~6,000 changed leads of 100,000
cleared the map on most pages: an OPS user's count read 13,484 heap pages, 22 ms; after a
vacuum 0 pages, 5 ms (and 29 → 12 ms without a status filter). Vacuuming `leads` takes ~0.5 s.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0030_autovacuum_leads"
down_revision: str | None = "0029_lead_exports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("leads", "lead_technical", "lead_stage_facts")
SETTINGS = (
    "autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_insert_scale_factor = 0.01,"
    " autovacuum_analyze_scale_factor = 0.02"
)


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} SET ({SETTINGS})")


def downgrade() -> None:
    for table in TABLES:
        op.execute(
            f"ALTER TABLE {table} RESET (autovacuum_vacuum_scale_factor,"
            " autovacuum_vacuum_insert_scale_factor, autovacuum_analyze_scale_factor)"
        )
