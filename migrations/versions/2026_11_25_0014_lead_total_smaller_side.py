"""lead total: a one-sided score bound sums the smaller side of the buckets

Revision ID: 0014_total_smaller_side
Revises: 0013_geometry_check
Create Date: 2026-12-04

``lead_total`` (migration 0012) answered ``quality_score >= k`` by summing every bucket from k
up: with scores spread over 0-100, ~60 cells per (status, department) for the list's typical
bounds, ~1,500-2,100 cells for all statuses, 0.5-0.6 ms of PostgreSQL time, where a total
without a score bound costs ~0.08 ms. A one-sided bound now sums whichever side has fewer
buckets on the 0-100 scale: ``score >= k`` for k <= 50 is every scored lead (the total cell
minus the NULL cell) minus those below k; ``score <= k`` for k >= 50 is every scored lead minus
those above k (the cells above k, and the non-integer scores of k's own cell). Both bounds
given: the cells between them, as before. The same numbers (``tests/test_lead_counts.py``
checks every shape against ``count(*)``), a half to a third of the cells read.
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0014_total_smaller_side"
down_revision: str | None = "0013_geometry_check"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Buckets (api/services/leads_counts.py): 32767 every lead's total, -32768 a NULL score; scores
# are clamped to [-32766, 32766] (NaN in 32766).
_CELLS = """(SELECT status, department, score_bucket, n, n_int FROM lead_counts
              UNION ALL SELECT status, department, score_bucket, n, n_int FROM lead_count_deltas) c
        WHERE c.status = ANY (p_statuses){dept} AND {buckets}"""


def _sum(value: str, buckets: str, dept: bool) -> str:
    where = _CELLS.format(dept=" AND c.department = p_department" if dept else "", buckets=buckets)
    return f"(SELECT coalesce(sum({value}), 0) FROM {where})"


def _branches(dept: bool) -> str:
    scored = _sum(
        "CASE WHEN c.score_bucket = 32767 THEN c.n ELSE -c.n END",
        "c.score_bucket = ANY ('{32767,-32768}'::smallint[])",
        dept,
    )
    below_low = _sum("c.n", "c.score_bucket BETWEEN -32766 AND p_low - 1", dept)
    above_high = _sum(
        "CASE WHEN c.score_bucket = p_high THEN c.n - c.n_int ELSE c.n END",
        "c.score_bucket BETWEEN p_high AND 32766",
        dept,
    )
    total = _sum("c.n", "c.score_bucket = 32767", dept)
    between = _sum(
        "CASE WHEN c.score_bucket = p_high THEN c.n_int ELSE c.n END",
        "c.score_bucket BETWEEN coalesce(p_low, -32766) AND coalesce(p_high, 32766)",
        dept,
    )
    return f"""
        IF p_low IS NULL AND p_high IS NULL THEN
            RETURN {total};
        ELSIF p_high IS NULL AND p_low <= 50 THEN
            RETURN {scored} - {below_low};
        ELSIF p_low IS NULL AND p_high >= 50 THEN
            RETURN {scored} - {above_high};
        END IF;
        RETURN {between};"""


LEAD_TOTAL = f"""
CREATE OR REPLACE FUNCTION lead_total(
    p_statuses text[], p_department text, p_low integer, p_high integer
) RETURNS bigint LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_department IS NULL THEN{_branches(False)}
    END IF;{_branches(True)}
END
$$
"""


def upgrade() -> None:
    op.execute(LEAD_TOTAL)


def downgrade() -> None:
    path = Path(__file__).with_name("2026_11_25_0012_list_functions.py")
    spec = importlib.util.spec_from_file_location("list_functions_0012", path)
    assert spec is not None and spec.loader is not None
    m0012 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m0012)
    op.execute(m0012.LEAD_TOTAL.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
