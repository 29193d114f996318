"""lead card: the assignee's name stored in it; a list page as one text

Revision ID: 0016_card_assignee_name
Revises: 0015_status_sort_indexes
Create Date: 2026-12-04

The card (migration 0010) held every ``LeadOut`` field but the assignee's name, which each
list page joined from ``users`` and Python spliced into the 50 cards (``lead_cards`` returned
two arrays). The trigger ``leads_card`` now writes the name too, read from ``users`` on every
write of the lead, and ``users_card_names`` rewrites the cards of a user's leads when their
name changes (a rare administrative edit: one UPDATE of those leads, in the same transaction;
deleting a user sets their leads' assignee to NULL, which rewrites those cards by the same
trigger). A page is then ``lead_page(ids)``: the cards joined by ``, `` in the ids' order, one
text the API wraps in brackets: ~0.1 ms of PostgreSQL and the splice of 50 texts in Python
less per page. ``tests/test_leads_sql.py`` compares every stored card with the live JSON after
writes of every kind, renames and deletions of users included.

The upgrade rewrites every lead (28 s on 100k): the table and its indexes double in size, which
slows writes until ``VACUUM FULL leads`` gives the space back (run it after upgrading a large
database, in a quiet moment: it locks the table; 5 s on 100k leads).
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0016_card_assignee_name"
down_revision: str | None = "0015_status_sort_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _load(name: str):  # noqa: ANN202 - a migration module
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(name + ".py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_M0010 = _load("2026_11_25_0010_leads_list_speed")
_M0012 = _load("2026_11_25_0012_list_functions")

# 0010's card with the assignee's name after the assignee's id (LeadOut's order).
_ASSIGNEE = "'assignee_id', NEW.assignee_id, "
assert _ASSIGNEE in _M0010.CARD
CARD = _M0010.CARD.replace(
    _ASSIGNEE,
    _ASSIGNEE
    + "'assignee_name', (SELECT u.full_name FROM users u WHERE u.id = NEW.assignee_id), ",
)
CARD_FUNCTION = _M0010.FUNCTION.replace(_M0010.CARD, CARD).replace(
    "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1
)

USERS_FUNCTION = """
CREATE FUNCTION users_card_names() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- leads_card (BEFORE UPDATE) writes each card again, with the new name.
    UPDATE leads SET card = card WHERE assignee_id = NEW.id;
    RETURN NULL;
END $$"""
USERS_TRIGGER = """CREATE TRIGGER users_card_names AFTER UPDATE OF full_name ON users
    FOR EACH ROW WHEN (OLD.full_name IS DISTINCT FROM NEW.full_name)
    EXECUTE FUNCTION users_card_names()"""

# PL/pgSQL: its statement is prepared once per connection (a SQL function's is planned again
# at every call).
LEAD_PAGE = """
CREATE FUNCTION lead_page(p_ids bigint[], OUT cards text) LANGUAGE plpgsql STABLE AS $$
BEGIN
    SELECT string_agg(l.card, ', ' ORDER BY i.n) INTO cards
    FROM unnest(p_ids) WITH ORDINALITY AS i (id, n)
    JOIN leads l ON l.id = i.id;
END $$"""


def upgrade() -> None:
    op.execute(CARD_FUNCTION)
    op.execute(USERS_FUNCTION)
    op.execute(USERS_TRIGGER)
    op.execute("UPDATE leads SET card = card")  # the trigger writes every card with the name
    op.execute(LEAD_PAGE)
    op.execute("DROP FUNCTION lead_cards(bigint[])")


def downgrade() -> None:
    op.execute(_M0012.LEAD_CARDS)
    op.execute("DROP FUNCTION lead_page(bigint[])")
    op.execute("DROP TRIGGER users_card_names ON users")
    op.execute("DROP FUNCTION users_card_names()")
    op.execute(_M0010.FUNCTION.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    op.execute("UPDATE leads SET card = card")
