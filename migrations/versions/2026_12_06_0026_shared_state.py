"""shared state: rate-limit counters and cached answers for every process on the database

Revision ID: 0026_shared_state
Revises: 0025_simpler_core
Create Date: 2026-12-06

Issue 22. The per-IP rate limits and the cache of analytics answers and list totals were per
process: behind a load balancer with N processes a client had N times the limit and N caches.
Without Redis (``LFS_REDIS_URL`` unset) they live in two UNLOGGED tables (no WAL: a crash
empties them, which loses nothing that matters: counters restart, answers are recomputed):

* ``shared_counters``: a fixed-window counter per key (``ratelimit:api:<ip>``…), bumped and
  read in one ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` (geo.shared_state);
* ``shared_cache``: an answer per key with the data version it was computed at and its expiry.

Expired rows are reused in place by the next upsert of their key and swept periodically.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026_shared_state"
down_revision: str | None = "0025_simpler_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shared_counters",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_shared_counters")),
        prefixes=["UNLOGGED"],
        # Room on each page for in-place (HOT) updates: a counter row is rewritten per request.
        postgresql_with={"fillfactor": 70},
    )
    op.create_table(
        "shared_cache",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_shared_cache")),
        prefixes=["UNLOGGED"],
    )


def downgrade() -> None:
    op.drop_table("shared_cache")
    op.drop_table("shared_counters")
