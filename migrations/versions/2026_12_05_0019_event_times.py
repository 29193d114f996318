"""event times: clock_timestamp() instead of now() for the columns saying when something happened

Revision ID: 0019_event_times
Revises: 0018_token_version
Create Date: 2026-12-05

``now()`` is the start of the transaction. The enrichment of a chunk writes its activity
entries and closes its job at the end of a transaction that began before its PVGIS calls, and a
move waits for the lead's row lock after its transaction began: the job's ``finished_at``
preceded the PVGIS answers it recorded, and under concurrent moves the activity log sorted by
``created_at`` disagreed with the lead's final status. ``clock_timestamp()`` is the time the row
is written (``geo.models.base.event_time``). Changing a default rewrites no row.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_event_times"
down_revision: str | None = "0018_token_version"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column) of every event time.
EVENT_TIMES = [
    ("activity_log", "created_at"),
    ("enrichment_jobs", "created_at"),
    ("pvgis_cache", "created_at"),
    ("lead_status_history", "entered_at"),
    ("imports", "started_at"),
    ("layer_versions", "updated_at"),
]


def upgrade() -> None:
    for table, column in EVENT_TIMES:
        op.alter_column(table, column, server_default=sa.text("clock_timestamp()"))


def downgrade() -> None:
    for table, column in EVENT_TIMES:
        op.alter_column(table, column, server_default=sa.text("now()"))
