"""lead geometry check: a PL/pgSQL function with a generic plan

Revision ID: 0013_geometry_check
Revises: 0012_list_functions
Create Date: 2026-11-25

A lead's candidate geometry was checked by one statement (formerly
api/services/sql/lead_geometry.sql) that PostgreSQL planned afresh on every creation: its
choice between a generic and a custom plan kept the custom one, whose planning was 0.25 of the
0.7 ms the check cost it, though the plan does not depend on the values (one polygon, the
communes' spatial index). ``lead_geometry_check`` runs the same query with a plan prepared once
per connection (``plan_cache_mode = force_generic_plan`` for the function only): 0.43-0.47 ms,
the same rows. See docs/decisions.md.

For a GeoJSON text and the bounds of France (min lon, min lat, max lon, max lat) it returns one
row: validity with PostGIS's reason, the repaired polygonal part as a 2D MultiPolygon (EWKB),
its area on the ellipsoid, the bounds test and the commune with the largest overlap (when the
communes layer has rows).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013_geometry_check"
down_revision: str | None = "0012_list_functions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = """
CREATE FUNCTION lead_geometry_check(
    p_geojson text, p_minlon float8, p_minlat float8, p_maxlon float8, p_maxlat float8
) RETURNS TABLE (
    valid boolean, reason text, empty boolean, ewkb bytea, area_m2 float8, in_bounds boolean,
    has_communes boolean, commune_insee text, commune_name text, department text,
    commune_share float8
)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH raw AS (
        SELECT ST_Force2D(ST_SetSRID(ST_GeomFromGeoJSON(p_geojson), 4326)) AS g
    ), checked AS MATERIALIZED (
        SELECT g, ST_IsValid(g) AS valid, ST_IsValidReason(g) AS reason,
               -- ST_MakeValid can return a collection (a bow-tie gives two triangles and a
               -- point): keep only the polygons.
               ST_Multi(ST_CollectionExtract(ST_MakeValid(g), 3)) AS fixed
        FROM raw
    )
    SELECT
        c.valid,
        c.reason,
        ST_IsEmpty(c.fixed),
        ST_AsEWKB(c.fixed),
        CASE WHEN ST_IsEmpty(c.fixed) THEN 0 ELSE ST_Area(c.fixed::geography) END,
        ST_CoveredBy(c.fixed, ST_MakeEnvelope(p_minlon, p_minlat, p_maxlon, p_maxlat, 4326)),
        EXISTS (SELECT 1 FROM communes),
        best.insee::text,
        best.name::text,
        best.department::text,
        COALESCE(best.share, 0)
    FROM checked c
    LEFT JOIN LATERAL (
        SELECT co.insee, co.name, co.department,
               ST_Area(ST_Intersection(co.geom, c.fixed)) / NULLIF(ST_Area(c.fixed), 0) AS share
        FROM communes co
        WHERE ST_Intersects(co.geom, c.fixed)
        ORDER BY ST_Area(ST_Intersection(co.geom, c.fixed)) DESC
        LIMIT 1
    ) best ON NOT ST_IsEmpty(c.fixed);
END
$$
"""


def upgrade() -> None:
    op.execute(FUNCTION)


def downgrade() -> None:
    op.execute("DROP FUNCTION lead_geometry_check(text, float8, float8, float8, float8)")
