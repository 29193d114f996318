"""national communes: one commune rule everywhere, the parcels' code as fallback, folded names

Revision ID: 0017_national_communes
Revises: 0016_card_assignee_name
Create Date: 2026-12-05

The demo now loads every commune of metropolitan France (issue 16). Three changes:

* ``lead_communes(geom)``: the communes under a geometry, the lead's commune first (largest
  overlap on the ellipsoid to the m², then the most recent import, then the INSEE code). Lead
  creation (``lead_geometry_check``) and enrichment (enrichment/sql/communes.sql) both read it,
  so equal overlaps are broken the same way everywhere; before, creation ordered by a planar
  area without a tie-break and enrichment by a geodesic one.
* ``parcels_commune(geom)``: the cadastre's own commune code of the parcels under a geometry,
  by the same rule; ``lead_geometry_check`` falls back to it when no commune outline matches
  (a commune created after the layer's vintage) and says which answered (``commune_source``).
* ``communes.name_folded``: the name with accents, hyphens and apostrophes folded, generated,
  with a trigram index: the reference search finds any of the 35,000 communes by name.

The functions live in geo/sql/communes.sql (CREATE OR REPLACE; ``lead_geometry_check`` gains a
column, so it is dropped first).
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0017_national_communes"
down_revision: str | None = "0016_card_assignee_name"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTIONS = Path(__file__).resolve().parents[2] / "geo" / "sql" / "communes.sql"
# geo.models.reference.NAME_FOLDED (written out: migrations don't import the application).
NAME_FOLDED = (
    "lower(replace(replace(replace(replace(translate(name, "
    "'àâäáãåçéèêëíìîïñóòôöõúùûüýÿÀÂÄÁÃÅÇÉÈÊËÍÌÎÏÑÓÒÔÖÕÚÙÛÜÝŸ-''’', "
    "'aaaaaaceeeeiiiinooooouuuuyyAAAAAACEEEEIIIINOOOOOUUUUYY   '), "
    "'œ', 'oe'), 'Œ', 'OE'), 'æ', 'ae'), 'Æ', 'AE'))"
)
_CHECK_ARGS = "text, float8, float8, float8, float8"


def _m0013():  # noqa: ANN202 - a migration module
    path = Path(__file__).with_name("2026_11_25_0013_geometry_check_function.py")
    spec = importlib.util.spec_from_file_location("m0013", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    op.add_column(
        "communes",
        sa.Column("name_folded", sa.String(length=200), sa.Computed(NAME_FOLDED, persisted=True)),
    )
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index(
        "ix_communes_name_folded_trgm",
        "communes",
        ["name_folded"],
        postgresql_using="gin",
        postgresql_ops={"name_folded": "gin_trgm_ops"},
    )
    op.execute(f"DROP FUNCTION lead_geometry_check({_CHECK_ARGS})")
    # One statement per execute (asyncpg prepares each): every statement of the file is a
    # function ending with "$$;".
    for statement in FUNCTIONS.read_text().split("$$;"):
        if statement.strip():
            op.execute(statement + "$$")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION lead_geometry_check({_CHECK_ARGS})")
    op.execute("DROP FUNCTION parcels_commune(geometry)")
    op.execute("DROP FUNCTION lead_communes(geometry)")
    op.execute(_m0013().FUNCTION)
    op.drop_index("ix_communes_name_folded_trgm", table_name="communes")
    op.drop_column("communes", "name_folded")
