"""simpler core: drop the lead list's count table, stored cards, list functions and per-status
sort indexes

Revision ID: 0025_simpler_core
Revises: 0024_site_runs
Create Date: 2026-12-06

Issue 18. The lead list, detail and create go through SQLAlchemy's engine and sessions, the
token through one dependency (api.deps), the filters through one definition
(api.services.leads_query.filter_clauses). What only the plain-SQL paths read goes:

* ``lead_counts``, ``lead_count_deltas`` and their statement-level triggers with the fold under
  an advisory lock (migrations 0009, 0011, 0012's index, 0014): the list's total is a
  ``count(*)`` cached per (filters, viewer scope) on the leads-layer version;
* ``leads.card``, the trigger ``leads_card`` and ``users_card_names`` (0010, 0016);
* the functions ``token_auth`` (0012, 0018), ``lead_total`` (0012, 0014) and ``lead_page``
  (0016);
* the per-status sort indexes on created_at, area_m2 and quality_score (0015); the one on
  updated_at stays (the Kanban's latest cards of a status).

The downgrade puts every object back as the migrations that made it left it (their text is
loaded from those files, never copied) and backfills the counts and the cards.
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

revision: str = "0025_simpler_core"
down_revision: str | None = "0024_site_runs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DROPPED_STATUS_INDEXES = (
    "ix_leads_status_created_at",
    "ix_leads_status_area_m2",
    "ix_leads_status_quality_score_desc",
)


def upgrade() -> None:
    for trigger in ("truncate", "upd", "del", "ins"):
        op.execute(f"DROP TRIGGER lead_counts_{trigger} ON leads")
        op.execute(f"DROP FUNCTION lead_counts_{trigger}()")
    op.drop_table("lead_count_deltas")  # with its index ix_lead_count_deltas_cell
    op.drop_table("lead_counts")  # with ix_lead_counts_score_bucket
    op.execute("DROP TRIGGER users_card_names ON users")
    op.execute("DROP FUNCTION users_card_names()")
    op.execute("DROP TRIGGER leads_card ON leads")
    op.execute("DROP FUNCTION leads_card()")
    op.drop_column("leads", "card")
    op.execute("DROP FUNCTION lead_page(bigint[])")
    op.execute("DROP FUNCTION lead_total(text[], text, integer, integer)")
    op.execute("DROP FUNCTION token_auth(bigint, text, integer)")
    for name in DROPPED_STATUS_INDEXES:
        op.drop_index(name, table_name="leads")


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(name + ".py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def downgrade() -> None:
    m0009 = _load("2026_11_25_0009_lead_counts")
    m0010 = _load("2026_11_25_0010_leads_list_speed")
    m0011 = _load("2026_11_25_0011_lead_counts_batched_fold")
    m0014 = _load("2026_11_25_0014_lead_total_smaller_side")
    m0015 = _load("2026_11_25_0015_status_sort_indexes")
    m0016 = _load("2026_12_04_0016_card_assignee_name")
    m0018 = _load("2026_12_05_0018_token_version")
    for name, cols, sorted_column in m0015.INDEXES:
        if name in DROPPED_STATUS_INDEXES:
            include = [c for c in m0015.LIST_FILTER_COLUMNS if c not in ("status", sorted_column)]
            op.create_index(name, "leads", ["status", *cols], postgresql_include=include)
    op.execute(m0018.TOKEN_AUTH)
    op.execute(m0014.LEAD_TOTAL.replace("CREATE OR REPLACE FUNCTION", "CREATE FUNCTION", 1))
    op.execute(m0016.LEAD_PAGE)
    # The cards: the column, 0016's card function, 0010's trigger, every card written.
    op.add_column("leads", sa.Column("card", sa.Text(), nullable=True))
    op.execute(m0016.CARD_FUNCTION)
    op.execute(m0010.TRIGGER)
    op.execute(m0016.USERS_FUNCTION)
    op.execute(m0016.USERS_TRIGGER)
    op.execute("UPDATE leads SET id = id")
    op.alter_column("leads", "card", nullable=False)
    # The counts: 0009's tables and backfill, 0012's index, 0011's functions, 0009's triggers.
    op.execute("LOCK TABLE leads IN SHARE ROW EXCLUSIVE MODE")
    op.create_table(
        "lead_counts",
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("department", sa.String(length=3), nullable=False),
        sa.Column("score_bucket", sa.SmallInteger(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("n_int", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "status", "department", "score_bucket", name=op.f("pk_lead_counts")
        ),
    )
    op.create_index(
        "ix_lead_counts_score_bucket", "lead_counts", ["score_bucket", "status", "department"]
    )
    op.create_table(
        "lead_count_deltas",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("department", sa.String(length=3), nullable=False),
        sa.Column("score_bucket", sa.SmallInteger(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("n_int", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_count_deltas")),
    )
    op.create_index(
        "ix_lead_count_deltas_cell", "lead_count_deltas", ["status", "department", "score_bucket"]
    )
    op.execute(
        f"""INSERT INTO lead_counts (status, department, score_bucket, n, n_int)
        SELECT l.status, coalesce(l.department, ''), b.score_bucket, count(*),
               sum({m0009._is_int("l")})
        FROM leads l, {m0009._cells("l")} GROUP BY 1, 2, 3"""
    )
    for statement in m0011.FUNCTIONS:
        op.execute(statement.replace("CREATE OR REPLACE FUNCTION", "CREATE FUNCTION", 1))
    for statement in m0009.FUNCTIONS:
        if "lead_counts_truncate" in statement:
            op.execute(statement)
    for statement in m0009.TRIGGERS:
        op.execute(statement)
