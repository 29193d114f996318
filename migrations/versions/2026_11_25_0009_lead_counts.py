"""lead counts: exact lead-list totals from a count table kept by triggers

Revision ID: 0009_lead_counts
Revises: 0008_analytics
Create Date: 2026-11-25

``lead_counts``: one row per (status, department, score bucket) with the number of leads ``n``
and how many of them have an integer score equal to the bucket (``n_int``, for exact
``quality_score <= k``). The department is '' when NULL; the bucket is floor(quality_score)
clamped to [-32766, 32766] (NaN and +inf in 32766), -32768 when the score is NULL; every lead is
also counted in its (status, department)'s total row, bucket 32767. Statement-level
triggers with transition tables keep it exact in the writing transaction: a statement's grouped
delta (one row per touched cell, so a bulk UPDATE of thousands of scores costs a few writes) is
folded into lead_counts when the fold lock is free without waiting, else appended to
``lead_count_deltas`` (folded by the next writer); readers sum both. Cells that reach 0 are
deleted. api/services/leads_counts.py answers list totals from it. See
docs/decisions.md.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_lead_counts"
down_revision: str | None = "0008_analytics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Keep in step with api/services/leads_counts.py. Each lead is counted twice: in its bucket and
# in its (status, department)'s TOTAL_BUCKET row (totals without a score filter read ~30 rows).
NULL_BUCKET = -32768
TOTAL_BUCKET = 32767


def _bucket(q: str) -> str:
    # NaN >= 32766 is true in PostgreSQL (NaN sorts above every number), as is +inf.
    return (
        f"(CASE WHEN {q} IS NULL THEN {NULL_BUCKET} WHEN {q} >= 32766 THEN 32766 "
        f"WHEN {q} < -32766 THEN -32766 ELSE floor({q}) END)::smallint"
    )


def _is_int(alias: str) -> str:
    """1 when the score equals its bucket (an integer inside the clamp), else 0."""
    q = f"{alias}.quality_score"
    return f"coalesce(({q} = {_bucket(q)})::int, 0)"


def _cells(alias: str) -> str:
    """FROM-list item: the lead's two cells (its bucket, the total) as b.score_bucket."""
    q = f"{alias}.quality_score"
    return f"LATERAL (VALUES ({_bucket(q)}), ({TOTAL_BUCKET}::smallint)) AS b (score_bucket)"


def _delta(sign: str, table: str) -> str:
    return (
        f"SELECT r.status, coalesce(r.department, ''), b.score_bucket, {sign}1 AS dn, "
        f"{sign}{_is_int('r')} AS di FROM {table} r, {_cells('r')}"
    )


# Writers never wait on each other here (a cell lock held to commit would deadlock, e.g. a lead
# creation holding the layer_versions row against an enrichment chunk that moved NEW leads and
# bumps the version last). A statement's grouped delta is folded into lead_counts by whoever gets
# the fold lock without waiting (pg_try_advisory_xact_lock, held to its commit), together with
# every committed pending delta; the others append it to lead_count_deltas. Readers sum both
# tables in one snapshot. Cells that reach 0 are deleted.
FOLD_LOCK = 9_2026_1125
_APPLY = """
    -- The statement's net change per cell (none: e.g. an UPDATE of other columns).
    SELECT array_agg(status), array_agg(department), array_agg(score_bucket), array_agg(dn),
           array_agg(di)
    INTO v_status, v_dept, v_bucket, v_n, v_int
    FROM (
        SELECT d.status, d.department, d.score_bucket, sum(d.dn)::int AS dn,
               sum(d.di)::int AS di
        FROM ({{deltas}}) AS d (status, department, score_bucket, dn, di)
        GROUP BY 1, 2, 3
        HAVING sum(d.dn) <> 0 OR sum(d.di) <> 0
    ) g;
    IF v_status IS NULL THEN
        RETURN NULL;
    END IF;
    IF pg_try_advisory_xact_lock({lock}) THEN
        WITH moved AS (
            DELETE FROM lead_count_deltas
            RETURNING status, department, score_bucket, n, n_int
        ), up AS (
            INSERT INTO lead_counts AS c (status, department, score_bucket, n, n_int)
            SELECT status, department, score_bucket, sum(n)::int, sum(n_int)::int
            FROM (SELECT * FROM unnest(v_status, v_dept, v_bucket, v_n, v_int)
                  UNION ALL SELECT * FROM moved) AS d (status, department, score_bucket, n, n_int)
            GROUP BY 1, 2, 3
            HAVING sum(n) <> 0 OR sum(n_int) <> 0
            ORDER BY 1, 2, 3
            ON CONFLICT (status, department, score_bucket)
            DO UPDATE SET n = c.n + EXCLUDED.n, n_int = c.n_int + EXCLUDED.n_int
            RETURNING c.status, c.department, c.score_bucket, c.n
        )
        SELECT array_agg(status), array_agg(department), array_agg(score_bucket)
        INTO v_status, v_dept, v_bucket FROM up WHERE n = 0;
        IF v_status IS NOT NULL THEN
            DELETE FROM lead_counts c USING unnest(v_status, v_dept, v_bucket) AS z (s, d, b)
            WHERE c.status = z.s AND c.department = z.d AND c.score_bucket = z.b
              AND c.n = 0;
        END IF;
    ELSE
        INSERT INTO lead_count_deltas (status, department, score_bucket, n, n_int)
        SELECT * FROM unnest(v_status, v_dept, v_bucket, v_n, v_int);
    END IF;""".format(lock=FOLD_LOCK)


def _function(name: str, deltas: str) -> str:
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_status text[];
    v_dept text[];
    v_bucket smallint[];
    v_n int[];
    v_int int[];
BEGIN{_APPLY.format(deltas=deltas)}
    RETURN NULL;
END $$"""


FUNCTIONS = [
    _function("lead_counts_ins", _delta("+", "new_rows")),
    _function("lead_counts_del", _delta("-", "old_rows")),
    # Rows whose counted columns did not change cancel out in the grouping: no write.
    _function(
        "lead_counts_upd",
        f"{_delta('-', 'old_rows')} UNION ALL {_delta('+', 'new_rows')}",
    ),
    """
CREATE FUNCTION lead_counts_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM lead_count_deltas;
    DELETE FROM lead_counts;
    RETURN NULL;
END $$""",
]

# Transition tables cannot go with a column list (UPDATE OF ...): the update trigger fires on
# every UPDATE of leads, and unchanged cells cancel out.
TRIGGERS = [
    """CREATE TRIGGER lead_counts_ins AFTER INSERT ON leads
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lead_counts_ins()""",
    """CREATE TRIGGER lead_counts_del AFTER DELETE ON leads
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION lead_counts_del()""",
    """CREATE TRIGGER lead_counts_upd AFTER UPDATE ON leads
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lead_counts_upd()""",
    """CREATE TRIGGER lead_counts_truncate AFTER TRUNCATE ON leads
    FOR EACH STATEMENT EXECUTE FUNCTION lead_counts_truncate()""",
]


def upgrade() -> None:
    # No lead written between the backfill and the triggers (reads go on).
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
    # The totals (score_bucket = TOTAL_BUCKET) and score ranges without scanning every cell.
    op.create_index(
        "ix_lead_counts_score_bucket",
        "lead_counts",
        ["score_bucket", "status", "department"],
        unique=False,
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
    op.execute(
        f"""INSERT INTO lead_counts (status, department, score_bucket, n, n_int)
        SELECT l.status, coalesce(l.department, ''), b.score_bucket, count(*), sum({_is_int("l")})
        FROM leads l, {_cells("l")} GROUP BY 1, 2, 3"""
    )
    for statement in (*FUNCTIONS, *TRIGGERS):
        op.execute(statement)


def downgrade() -> None:
    for trigger in ("truncate", "upd", "del", "ins"):
        op.execute(f"DROP TRIGGER lead_counts_{trigger} ON leads")
        op.execute(f"DROP FUNCTION lead_counts_{trigger}()")
    op.drop_table("lead_count_deltas")
    op.drop_index("ix_lead_counts_score_bucket", table_name="lead_counts")
    op.drop_table("lead_counts")
