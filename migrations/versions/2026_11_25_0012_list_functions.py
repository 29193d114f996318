"""lead list: the token check, the total and the page's cards as PL/pgSQL functions

Revision ID: 0012_list_functions
Revises: 0011_counts_fold
Create Date: 2026-11-25

The list's SQL text varies with its filters, so PostgreSQL plans each page afresh: 0.6 ms of the
1.5 ms a page cost it, of which only 0.1 ms for the part that needs a plan of its own (the page's
ids, whose best index depends on the values). The token check, the total from ``lead_counts`` and
the fetch of the page's cards now run inside functions, whose statements PL/pgSQL prepares once
per connection. They are STABLE: they read the calling statement's snapshot, so a page, its total
and the token check still see one state of the database. See docs/decisions.md.

* ``token_auth(user_id, jti)``: the role of an active user (NULL: unknown or disabled) and whether
  the token is revoked (api.deps.AUTH_SQL).
* ``lead_total(statuses, department, low, high)``: the number of leads with one of ``statuses``,
  in ``department`` (NULL: any), with an integer score bound ``low``/``high`` (NULL: none), from
  ``lead_counts`` and the deltas not folded into it yet (migrations 0009, 0011; the bucket
  arithmetic is explained in api/services/leads_counts.py).
* ``lead_cards(ids)``: the stored cards (migration 0010) of ``ids`` and their assignees' names,
  as two arrays in the order of ``ids``.

``lead_count_deltas`` gets an index on its cells. Every write appends to it and every 16th
empties it, so between vacuums its heap spans hundreds of mostly empty pages (218 pages for 12
rows after the create benchmark): the sequential scan of it that every total did cost 1.4 ms.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012_list_functions"
down_revision: str | None = "0011_counts_fold"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOKEN_AUTH = """
CREATE FUNCTION token_auth(p_user_id bigint, p_jti text, OUT role text, OUT revoked boolean)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    SELECT u.role INTO role FROM users u WHERE u.id = p_user_id AND u.is_active;
    revoked := EXISTS (SELECT 1 FROM revoked_tokens t WHERE t.jti = p_jti);
END
$$
"""

# Buckets (api/services/leads_counts.py): 32767 is every lead's (status, department) total,
# -32768 a NULL score; integer bounds are answered inside [-32765, 32765], so a missing low
# bound is -32766 and a missing high one 32766 (both exclude the NULL and total buckets).
LEAD_TOTAL = """
CREATE FUNCTION lead_total(p_statuses text[], p_department text, p_low integer, p_high integer)
RETURNS bigint LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_total bigint;
BEGIN
    IF p_low IS NULL AND p_high IS NULL THEN
        IF p_department IS NULL THEN
            SELECT sum(c.n) INTO v_total FROM (
                SELECT status, score_bucket, n FROM lead_counts
                UNION ALL SELECT status, score_bucket, n FROM lead_count_deltas) c
            WHERE c.status = ANY (p_statuses) AND c.score_bucket = 32767;
        ELSE
            SELECT sum(c.n) INTO v_total FROM (
                SELECT status, department, score_bucket, n FROM lead_counts
                UNION ALL SELECT status, department, score_bucket, n FROM lead_count_deltas) c
            WHERE c.status = ANY (p_statuses) AND c.department = p_department
              AND c.score_bucket = 32767;
        END IF;
    ELSIF p_department IS NULL THEN
        SELECT sum(CASE WHEN c.score_bucket = p_high THEN c.n_int ELSE c.n END) INTO v_total
        FROM (SELECT status, score_bucket, n, n_int FROM lead_counts
              UNION ALL SELECT status, score_bucket, n, n_int FROM lead_count_deltas) c
        WHERE c.status = ANY (p_statuses)
          AND c.score_bucket BETWEEN coalesce(p_low, -32766) AND coalesce(p_high, 32766);
    ELSE
        SELECT sum(CASE WHEN c.score_bucket = p_high THEN c.n_int ELSE c.n END) INTO v_total
        FROM (SELECT status, department, score_bucket, n, n_int FROM lead_counts
              UNION ALL SELECT status, department, score_bucket, n, n_int FROM lead_count_deltas) c
        WHERE c.status = ANY (p_statuses) AND c.department = p_department
          AND c.score_bucket BETWEEN coalesce(p_low, -32766) AND coalesce(p_high, 32766);
    END IF;
    RETURN coalesce(v_total, 0);
END
$$
"""

LEAD_CARDS = """
CREATE FUNCTION lead_cards(p_ids bigint[], OUT cards text[], OUT names text[])
LANGUAGE plpgsql STABLE AS $$
BEGIN
    SELECT array_agg(l.card ORDER BY i.n), array_agg(a.full_name ORDER BY i.n)
    INTO cards, names
    FROM unnest(p_ids) WITH ORDINALITY AS i (id, n)
    JOIN leads l ON l.id = i.id
    LEFT JOIN users a ON a.id = l.assignee_id;
END
$$
"""


def upgrade() -> None:
    op.create_index(
        "ix_lead_count_deltas_cell",
        "lead_count_deltas",
        ["status", "department", "score_bucket"],
        unique=False,
    )
    op.execute(TOKEN_AUTH)
    op.execute(LEAD_TOTAL)
    op.execute(LEAD_CARDS)


def downgrade() -> None:
    op.execute("DROP FUNCTION lead_cards(bigint[])")
    op.execute("DROP FUNCTION lead_total(text[], text, integer, integer)")
    op.execute("DROP FUNCTION token_auth(bigint, text)")
    op.drop_index("ix_lead_count_deltas_cell", table_name="lead_count_deltas")
