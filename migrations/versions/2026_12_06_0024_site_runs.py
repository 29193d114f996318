"""site finder runs as background jobs: progress, chunks, staged sites, chunk-edge parcels

Revision ID: 0024_site_runs
Revises: 0023_site_finder
Create Date: 2026-12-06

Issue 17: a run is a queued job split into chunks of communes that several workers share. A run
keeps its progress (chunks and parcels done, sites found); each chunk its communes, state and
counts; the sites a chunk found are staged until the run's last chunk merges the sites crossing
chunk edges and writes the ranked results in one transaction (a cancelled run writes none).
"""

from collections.abc import Sequence

import geoalchemy2  # noqa: F401
import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0024_site_runs"
down_revision: str | None = "0023_site_finder"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "site_search_runs",
        sa.Column("progress", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.create_table(
        "site_search_chunks",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("communes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("parcels", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("counts", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["site_search_runs.id"],
            name=op.f("fk_site_search_chunks_run_id_site_search_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_search_chunks")),
        sa.UniqueConstraint("run_id", "idx", name=op.f("uq_site_search_chunks_run_id_idx")),
    )
    op.create_table(
        "site_search_edge_parcels",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("parcel_id", sa.String(length=32), nullable=False),
        sa.Column("chunk_idx", sa.Integer(), nullable=False),
        sa.Column("plu_status", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["site_search_runs.id"],
            name=op.f("fk_site_search_edge_parcels_run_id_site_search_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "parcel_id", name=op.f("pk_site_search_edge_parcels")),
    )
    op.create_geospatial_table(
        "site_search_staged",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("chunk_idx", sa.Integer(), nullable=False),
        sa.Column("site_key", sa.String(length=32), nullable=False),
        sa.Column("parcel_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column("buildable_m2", sa.Float(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("completeness", sa.Float(), nullable=False),
        sa.Column("facts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
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
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["site_search_runs.id"],
            name=op.f("fk_site_search_staged_run_id_site_search_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_search_staged")),
    )
    op.create_index(
        op.f("ix_site_search_staged_run_id"), "site_search_staged", ["run_id"], unique=False
    )
    op.create_geospatial_index(
        "idx_site_search_staged_geom",
        "site_search_staged",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )


def downgrade() -> None:
    op.drop_geospatial_index(
        "idx_site_search_staged_geom",
        table_name="site_search_staged",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_index(op.f("ix_site_search_staged_run_id"), table_name="site_search_staged")
    op.drop_geospatial_table("site_search_staged")
    op.drop_table("site_search_edge_parcels")
    op.drop_table("site_search_chunks")
    op.drop_column("site_search_runs", "progress")
