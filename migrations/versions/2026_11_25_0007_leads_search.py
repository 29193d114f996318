"""lead free-text search: pg_trgm and a trigram index

Revision ID: 0007_leads_search
Revises: 0006_leads_sort_indexes
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007_leads_search"
down_revision: str | None = "0006_leads_sort_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCH = (
    "coalesce(name, '') || ' ' || internal_name || ' ' || coalesce(commune_name, '') || ' ' "
    "|| coalesce(notes, '')"
)


def upgrade() -> None:
    # Kept on downgrade, like postgis: other code may use it.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(f"CREATE INDEX ix_leads_search_trgm ON leads USING gin (({SEARCH}) gin_trgm_ops)")


def downgrade() -> None:
    op.drop_index("ix_leads_search_trgm", table_name="leads")
