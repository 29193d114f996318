"""analytics speed: a covering index on leads, lead_stage_facts kept by triggers

Revision ID: 0008_analytics
Revises: 0007_leads_search
Create Date: 2026-11-25

``lead_stage_facts``: one row per lead_status_history row (same id) with the stay's duration in
days (NULL while open) and a copy of the lead's filterable columns, so the history analytics
(stage times, weekly qualified/sold, throughput) read one table instead of joining 250k history
rows to 100k leads. Triggers keep it exact in the writing transaction: on history
INSERT/UPDATE (row copied, lead columns read from leads) and on UPDATE of those lead columns
(the lead's rows updated); a history DELETE cascades. See docs/decisions.md.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_analytics"
down_revision: str | None = "0007_leads_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The lead columns the analytics filter on, copied into lead_stage_facts under the same names.
LEAD_COLS = (
    "status",
    "assignee_id",
    "is_public",
    "department",
    "commune_insee",
    "quality_score",
    "created_at",
)
_cols = ", ".join(LEAD_COLS)
_l_cols = ", ".join(f"l.{c}" for c in LEAD_COLS)
# Exactly the expression the analytics used on lead_status_history (same float8 values).
DAYS = "extract(epoch FROM {h}.left_at - {h}.entered_at)::float8 / 86400.0"

FUNCTIONS = [
    f"""
CREATE FUNCTION lead_stage_facts_from_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO lead_stage_facts
            (id, lead_id, stay_status, entered_at, days, changed_by_id, {_cols})
        SELECT NEW.id, NEW.lead_id, NEW.status, NEW.entered_at, {DAYS.format(h="NEW")},
               NEW.changed_by_id, {_l_cols}
        FROM leads l WHERE l.id = NEW.lead_id;
    ELSE
        UPDATE lead_stage_facts f
        SET lead_id = NEW.lead_id, stay_status = NEW.status, entered_at = NEW.entered_at,
            days = {DAYS.format(h="NEW")}, changed_by_id = NEW.changed_by_id,
            {", ".join(f"{c} = l.{c}" for c in LEAD_COLS)}
        FROM leads l WHERE f.id = NEW.id AND l.id = NEW.lead_id;
    END IF;
    RETURN NULL;
END $$""",
    f"""
CREATE FUNCTION lead_stage_facts_from_lead() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE lead_stage_facts
    SET {", ".join(f"{c} = NEW.{c}" for c in LEAD_COLS)}
    WHERE lead_id = NEW.id;
    RETURN NULL;
END $$""",
]

# asyncpg runs one statement per execute.
TRIGGERS = [
    """CREATE TRIGGER lead_stage_facts_history_ins AFTER INSERT ON lead_status_history
    FOR EACH ROW EXECUTE FUNCTION lead_stage_facts_from_history()""",
    """CREATE TRIGGER lead_stage_facts_history_upd
    AFTER UPDATE OF lead_id, status, entered_at, left_at, changed_by_id ON lead_status_history
    FOR EACH ROW
    WHEN ((OLD.lead_id, OLD.status, OLD.entered_at, OLD.left_at, OLD.changed_by_id)
          IS DISTINCT FROM (NEW.lead_id, NEW.status, NEW.entered_at, NEW.left_at,
                            NEW.changed_by_id))
    EXECUTE FUNCTION lead_stage_facts_from_history()""",
    f"""CREATE TRIGGER lead_stage_facts_lead_upd AFTER UPDATE OF {_cols} ON leads
    FOR EACH ROW
    WHEN (({", ".join(f"OLD.{c}" for c in LEAD_COLS)})
          IS DISTINCT FROM ({", ".join(f"NEW.{c}" for c in LEAD_COLS)}))
    EXECUTE FUNCTION lead_stage_facts_from_lead()""",
]

FILTER_INCLUDE = list(LEAD_COLS)


def upgrade() -> None:
    # Funnel, departments, scores, weekly created, throughput: index-only scans of the columns
    # they read, a fifth of the heap's pages (the geometries live there).
    op.create_index(
        "ix_leads_analytics",
        "leads",
        ["status"],
        unique=False,
        postgresql_include=[
            "id",
            "department",
            "created_at",
            "assignee_id",
            "is_public",
            "quality_score",
            "completeness",
            "area_m2",
            "created_by_id",
            "commune_insee",
        ],
    )
    op.create_index(
        "ix_leads_analytics_created",
        "leads",
        ["created_at"],
        unique=False,
        postgresql_include=[
            "status",
            "assignee_id",
            "is_public",
            "department",
            "commune_insee",
            "quality_score",
            "created_by_id",
        ],
    )
    op.create_table(
        "lead_stage_facts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
        sa.Column("stay_status", sa.String(length=32), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("days", sa.Float(), nullable=True),
        sa.Column("changed_by_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("department", sa.String(length=3), nullable=True),
        sa.Column("commune_insee", sa.String(length=5), nullable=True),
        sa.Column("quality_score", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["id"],
            ["lead_status_history.id"],
            name=op.f("fk_lead_stage_facts_id_lead_status_history"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_stage_facts")),
    )
    op.execute(
        f"""INSERT INTO lead_stage_facts
            (id, lead_id, stay_status, entered_at, days, changed_by_id, {_cols})
        SELECT h.id, h.lead_id, h.status, h.entered_at, {DAYS.format(h="h")}, h.changed_by_id,
               {_l_cols}
        FROM lead_status_history h JOIN leads l ON l.id = h.lead_id"""
    )
    op.create_index(
        "ix_lead_stage_facts_stay_status_days",
        "lead_stage_facts",
        ["stay_status", "days"],
        unique=False,
        postgresql_include=FILTER_INCLUDE,
    )
    op.create_index(
        "ix_lead_stage_facts_stay_status_entered_at",
        "lead_stage_facts",
        ["stay_status", "entered_at"],
        unique=False,
        postgresql_include=["lead_id", "changed_by_id", *FILTER_INCLUDE],
    )
    op.create_index("ix_lead_stage_facts_lead_id", "lead_stage_facts", ["lead_id"], unique=False)
    for statement in (*FUNCTIONS, *TRIGGERS):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER lead_stage_facts_lead_upd ON leads")
    op.execute("DROP TRIGGER lead_stage_facts_history_upd ON lead_status_history")
    op.execute("DROP TRIGGER lead_stage_facts_history_ins ON lead_status_history")
    op.execute("DROP FUNCTION lead_stage_facts_from_lead()")
    op.execute("DROP FUNCTION lead_stage_facts_from_history()")
    op.drop_index("ix_lead_stage_facts_lead_id", table_name="lead_stage_facts")
    op.drop_index("ix_lead_stage_facts_stay_status_entered_at", table_name="lead_stage_facts")
    op.drop_index("ix_lead_stage_facts_stay_status_days", table_name="lead_stage_facts")
    op.drop_table("lead_stage_facts")
    op.drop_index("ix_leads_analytics_created", table_name="leads")
    op.drop_index("ix_leads_analytics", table_name="leads")
