"""layer coverage: where each import made its reference layer complete

Revision ID: 0020_layer_coverage
Revises: 0019_event_times
Create Date: 2026-12-05

One row per import and layer with a MultiPolygon (issue 16): the enrichment says "données
absentes pour cette zone" outside every coverage of a layer instead of "nothing found". Rows go
with their import (ON DELETE CASCADE).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0020_layer_coverage"
down_revision: str | None = "0019_event_times"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_geospatial_table(
        "layer_coverage",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("import_id", sa.BigInteger(), nullable=False),
        sa.Column("layer", sa.String(length=32), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("areas", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "area_km2",
            sa.Float(),
            sa.Computed("ST_Area(geom::geography) / 1e6", persisted=True),
            nullable=True,
        ),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["imports.id"],
            name=op.f("fk_layer_coverage_import_id_imports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_layer_coverage")),
        sa.UniqueConstraint("import_id", name=op.f("uq_layer_coverage_import_id")),
    )
    op.create_geospatial_index(
        "idx_layer_coverage_geom",
        "layer_coverage",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_layer_coverage_layer"), "layer_coverage", ["layer"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_layer_coverage_layer"), table_name="layer_coverage")
    op.drop_geospatial_index(
        "idx_layer_coverage_geom",
        table_name="layer_coverage",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("layer_coverage")
