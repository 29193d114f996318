"""lead list speed: each lead's card JSON kept by a trigger; covering sort indexes

Revision ID: 0010_leads_list
Revises: 0009_lead_counts
Create Date: 2026-11-25

``leads.card``: the lead's list item (``LeadOut`` as JSON text, without ``assignee_name``, which
the list joins from users), set by a BEFORE INSERT OR UPDATE trigger. Building that JSON for 50
rows at read time (json_build_object, three to_char, ST_AsGeoJSON) cost ~0.9 ms of every list
page; splicing stored text costs ~0.05 ms. The trigger computes ``area_m2`` and ``centroid``
from ``geom`` with the very expressions of those generated columns (generated columns are only
computed after BEFORE triggers). Keep the field list in step with
``api.services.leads_sql.LEAD_OUT_FIELDS``: tests/test_leads_sql.py compares the stored card
with that live expression.

The list's sort indexes become (sort key, id) with the filterable columns included: the page's
ids come from an index-only scan that filters on the index tuples (status, department, score,
assignee, public flag, commune, created_at) instead of fetching ~19k heap rows to keep 200 on a
selective filter (24 ms -> ~4 ms). ``ix_leads_created_at`` absorbs
``ix_leads_analytics_created`` (same key and columns, plus the id). See docs/decisions.md.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_leads_list"
down_revision: str | None = "0009_lead_counts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The filterable columns copied into every sort index (the list's WHERE reads only these).
LIST_INCLUDE = [
    "status",
    "assignee_id",
    "is_public",
    "department",
    "commune_insee",
    "quality_score",
    "created_at",
    "created_by_id",
]


def _ts(column: str) -> str:
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


# LeadOut but assignee_name, for the row NEW (api.services.leads_sql.LEAD_OUT_FIELDS).
CARD = f"""json_build_object(
    'id', NEW.id, 'internal_name', NEW.internal_name, 'name', NEW.name, 'status', NEW.status,
    'assignee_id', NEW.assignee_id, 'commune_insee', NEW.commune_insee,
    'commune_name', NEW.commune_name, 'department', NEW.department,
    'area_m2', ST_Area(NEW.geom::geography), 'quality_score', NEW.quality_score,
    'completeness', NEW.completeness, 'is_public', NEW.is_public,
    'enrichment_stale', NEW.enrichment_stale, 'version', NEW.version,
    'created_at', {_ts("NEW.created_at")}, 'updated_at', {_ts("NEW.updated_at")},
    'status_changed_at', {_ts("NEW.status_changed_at")},
    'centroid', CASE WHEN NEW.geom IS NULL THEN NULL ELSE json_build_object(
        'lat', ST_Y(ST_Centroid(NEW.geom)), 'lon', ST_X(ST_Centroid(NEW.geom))) END,
    'geometry', ST_AsGeoJSON(NEW.geom, 6)::json)::text"""

# extra_float_digits pinned: the card's numbers must not depend on the writing session.
FUNCTION = f"""
CREATE FUNCTION leads_card() RETURNS trigger LANGUAGE plpgsql SET extra_float_digits = 1 AS $$
BEGIN
    NEW.card := {CARD};
    RETURN NEW;
END $$"""

TRIGGER = """CREATE TRIGGER leads_card BEFORE INSERT OR UPDATE ON leads
    FOR EACH ROW EXECUTE FUNCTION leads_card()"""

# (name, key columns) of the list's sort indexes, old and new.
OLD_SORT_INDEXES = [
    ("ix_leads_created_at", ["created_at"]),
    ("ix_leads_updated_at", ["updated_at"]),
    ("ix_leads_area_m2", ["area_m2"]),
    ("ix_leads_quality_score_desc", [sa.text("quality_score DESC NULLS LAST")]),
]
NEW_SORT_INDEXES = [  # (name, key columns, the sorted column)
    ("ix_leads_created_at", ["created_at", "id"], "created_at"),
    ("ix_leads_updated_at", ["updated_at", "id"], "updated_at"),
    ("ix_leads_area_m2", ["area_m2", "id"], "area_m2"),
    (
        "ix_leads_quality_score_desc",
        [sa.text("quality_score DESC NULLS LAST"), sa.text("id DESC")],
        "quality_score",
    ),
]
# 0008's ix_leads_analytics_created (restored by the downgrade): the same, but created_at.
ANALYTICS_CREATED_INCLUDE = [c for c in LIST_INCLUDE if c != "created_at"]


def upgrade() -> None:
    # Indexes first: the backfill below rewrites every row, and would update them all.
    op.drop_index("ix_leads_analytics_created", table_name="leads")
    for name, _cols in OLD_SORT_INDEXES:
        op.drop_index(name, table_name="leads")
    op.add_column("leads", sa.Column("card", sa.Text(), nullable=True))
    op.execute(FUNCTION)
    op.execute(TRIGGER)
    # The trigger fills the card of every existing lead (an UPDATE that changes nothing else).
    op.execute("UPDATE leads SET id = id")
    # NOT NULL holds for every write: the constraint is checked after the BEFORE trigger.
    op.alter_column("leads", "card", nullable=False)
    for name, cols, sorted_column in NEW_SORT_INDEXES:
        include = [c for c in LIST_INCLUDE if c != sorted_column]
        op.create_index(name, "leads", cols, unique=False, postgresql_include=include)


def downgrade() -> None:
    for name, _cols, _sorted in NEW_SORT_INDEXES:
        op.drop_index(name, table_name="leads")
    for name, cols in OLD_SORT_INDEXES:
        op.create_index(name, "leads", cols, unique=False)
    op.create_index(
        "ix_leads_analytics_created",
        "leads",
        ["created_at"],
        unique=False,
        postgresql_include=ANALYTICS_CREATED_INCLUDE,
    )
    op.execute("DROP TRIGGER leads_card ON leads")
    op.execute("DROP FUNCTION leads_card()")
    op.drop_column("leads", "card")
