"""lead facts by creator, parcels by cadastral reference, web sessions' refresh tokens

Revision ID: 0027_lead_facts
Revises: 0026_shared_state
Create Date: 2026-12-06

Issue 20.

* ``lead_stage_facts.created_by_id``: the analytics' "person" filter is the lead's assignee or
  its creator; the facts (migration 0008) copied the assignee only, so a filter on the creator
  fell back to joining the history to the leads. Backfilled from the leads, kept by the same
  triggers (their functions now copy it), and included in the facts' two covering indexes.
* ``ix_parcels_section_numero``: a cadastral reference searched without its commune ("AN 63")
  is one probe of this index (0.1-1.5 ms on the 1 M parcels of ``lfs_bench``) instead of a
  probe per commune of ``ix_parcels_commune_section`` (10.7 ms for 324 communes there, about
  100 times more for the 35,000 communes of France). 7.3 MB per million parcels.
* ``refresh_tokens``: the web session's refresh cookie (SHA-256 only, rotated at each use, a
  family revoked when a used token comes back; api/routers/auth.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027_lead_facts"
down_revision: str | None = "0026_shared_state"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The lead columns lead_stage_facts copies (migration 0008's, then created_by_id).
COLS_0008 = (
    "status",
    "assignee_id",
    "is_public",
    "department",
    "commune_insee",
    "quality_score",
    "created_at",
)
COLS = (*COLS_0008, "created_by_id")
DAYS = "extract(epoch FROM {h}.left_at - {h}.entered_at)::float8 / 86400.0"


def _functions(cols: tuple[str, ...]) -> list[str]:
    names = ", ".join(cols)
    from_lead = ", ".join(f"l.{c}" for c in cols)
    return [
        f"""
CREATE OR REPLACE FUNCTION lead_stage_facts_from_history() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO lead_stage_facts
            (id, lead_id, stay_status, entered_at, days, changed_by_id, {names})
        SELECT NEW.id, NEW.lead_id, NEW.status, NEW.entered_at, {DAYS.format(h="NEW")},
               NEW.changed_by_id, {from_lead}
        FROM leads l WHERE l.id = NEW.lead_id;
    ELSE
        UPDATE lead_stage_facts f
        SET lead_id = NEW.lead_id, stay_status = NEW.status, entered_at = NEW.entered_at,
            days = {DAYS.format(h="NEW")}, changed_by_id = NEW.changed_by_id,
            {", ".join(f"{c} = l.{c}" for c in cols)}
        FROM leads l WHERE f.id = NEW.id AND l.id = NEW.lead_id;
    END IF;
    RETURN NULL;
END $$""",
        f"""
CREATE OR REPLACE FUNCTION lead_stage_facts_from_lead() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE lead_stage_facts
    SET {", ".join(f"{c} = NEW.{c}" for c in cols)}
    WHERE lead_id = NEW.id;
    RETURN NULL;
END $$""",
    ]


def _lead_trigger(cols: tuple[str, ...]) -> str:
    return f"""CREATE TRIGGER lead_stage_facts_lead_upd AFTER UPDATE OF {", ".join(cols)} ON leads
    FOR EACH ROW
    WHEN (({", ".join(f"OLD.{c}" for c in cols)})
          IS DISTINCT FROM ({", ".join(f"NEW.{c}" for c in cols)}))
    EXECUTE FUNCTION lead_stage_facts_from_lead()"""


def _fact_indexes(cols: tuple[str, ...]) -> None:
    op.create_index(
        "ix_lead_stage_facts_stay_status_days",
        "lead_stage_facts",
        ["stay_status", "days"],
        unique=False,
        postgresql_include=list(cols),
    )
    op.create_index(
        "ix_lead_stage_facts_stay_status_entered_at",
        "lead_stage_facts",
        ["stay_status", "entered_at"],
        unique=False,
        postgresql_include=["lead_id", "changed_by_id", *cols],
    )


def _drop_fact_indexes() -> None:
    op.drop_index("ix_lead_stage_facts_stay_status_entered_at", table_name="lead_stage_facts")
    op.drop_index("ix_lead_stage_facts_stay_status_days", table_name="lead_stage_facts")


def upgrade() -> None:
    op.add_column("lead_stage_facts", sa.Column("created_by_id", sa.Integer(), nullable=True))
    op.execute(
        """UPDATE lead_stage_facts f SET created_by_id = l.created_by_id
           FROM leads l WHERE l.id = f.lead_id AND l.created_by_id IS NOT NULL"""
    )
    for statement in _functions(COLS):
        op.execute(statement)
    op.execute("DROP TRIGGER lead_stage_facts_lead_upd ON leads")
    op.execute(_lead_trigger(COLS))
    _drop_fact_indexes()
    _fact_indexes(COLS)

    op.create_index("ix_parcels_section_numero", "parcels", ["section", "numero"], unique=False)

    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("family", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_refresh_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_tokens_token_hash")),
    )
    op.create_index(op.f("ix_refresh_tokens_family"), "refresh_tokens", ["family"], unique=False)
    op.create_index(op.f("ix_refresh_tokens_user_id"), "refresh_tokens", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_refresh_tokens_user_id"), table_name="refresh_tokens")
    op.drop_index(op.f("ix_refresh_tokens_family"), table_name="refresh_tokens")
    op.drop_table("refresh_tokens")

    op.drop_index("ix_parcels_section_numero", table_name="parcels")

    _drop_fact_indexes()
    op.execute("DROP TRIGGER lead_stage_facts_lead_upd ON leads")
    for statement in _functions(COLS_0008):
        op.execute(statement)
    op.execute(_lead_trigger(COLS_0008))
    op.drop_column("lead_stage_facts", "created_by_id")
    _fact_indexes(COLS_0008)
