"""parcels: the geometry in EPSG:3857, stored and indexed, for the vector tiles; large parcels

Revision ID: 0022_parcels_geom_3857
Revises: 0021_rate_slots
Create Date: 2026-12-05

A tile is cut in EPSG:3857: with only the EPSG:4326 geometry, every parcel of every tile is
reprojected (``ST_Transform``) before ``ST_AsMVTGeom``. ``geom_3857`` is generated from ``geom``
(it can never disagree with it) and has its own GiST index, so the tile query tests and clips it
directly. Measured on the 1M-parcel bench database: +16 % tiles/s for the z14 statement alone
(docs/decisions.md, "Tiles like for like"). It costs ~30 % more table size for parcels and one
transform per parcel at import time, once.

Below z13 the tiles carry only the parcels of 2 ha or more (tiles.layers.LARGE_PARCEL_M2): a
partial GiST index on the same predicate finds them without walking the million small ones.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = "0022_parcels_geom_3857"
down_revision: str | None = "0021_rate_slots"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "parcels",
        sa.Column(
            "geom_3857",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=3857,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            sa.Computed("ST_Transform(geom, 3857)", persisted=True),
            nullable=True,
        ),
    )
    op.create_geospatial_index(
        "idx_parcels_geom_3857",
        "parcels",
        ["geom_3857"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        "idx_parcels_geom_3857_large",
        "parcels",
        ["geom_3857"],
        unique=False,
        postgresql_using="gist",
        postgresql_where=sa.text("area_m2 >= 20000"),
    )


def downgrade() -> None:
    op.drop_index("idx_parcels_geom_3857_large", table_name="parcels")
    op.drop_geospatial_index(
        "idx_parcels_geom_3857",
        table_name="parcels",
        postgresql_using="gist",
        column_name="geom_3857",
    )
    op.drop_column("parcels", "geom_3857")
