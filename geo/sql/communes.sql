-- Which commune a geometry lies in: one rule for lead creation, enrichment and exports.
-- Created by migration 0017 (CREATE OR REPLACE: a later migration that changes this file runs it
-- again). Read by lead_geometry_check (api/services/leads_geometry.py) and
-- enrichment/sql/communes.sql.

-- The communes under a geometry, the lead's commune first: the largest overlap measured on the
-- ellipsoid, to the m² (two outlines of one territory from different files differ by float
-- noise, not by square metres); equal overlaps go to the most recent import (a later vintage,
-- e.g. 69114's outline loaded after the 2018 communes it merged), then to the smaller INSEE code.
CREATE OR REPLACE FUNCTION lead_communes(p_geom geometry)
RETURNS TABLE (insee text, name text, department text, overlap_m2 float8)
LANGUAGE sql STABLE AS $$
    SELECT c.insee::text, c.name::text, c.department::text, o.m2
    FROM communes AS c
    CROSS JOIN LATERAL (
        SELECT ST_Area(ST_Intersection(c.geom, p_geom)::geography) AS m2
    ) AS o
    WHERE ST_Intersects(c.geom, p_geom)
    ORDER BY round(o.m2) DESC, c.import_id DESC NULLS LAST, c.insee
$$;

-- When no commune outline lies under a geometry (a commune created after the layer's vintage,
-- a département whose communes are not loaded): the commune code the cadastre itself gives the
-- parcels under it, by the same rule (largest overlap to the m², then the smaller code).
CREATE OR REPLACE FUNCTION parcels_commune(p_geom geometry)
RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT p.commune::text
    FROM parcels AS p
    WHERE ST_Intersects(p.geom, p_geom)
    GROUP BY p.commune
    ORDER BY round(sum(ST_Area(ST_Intersection(p.geom, p_geom)::geography))) DESC, p.commune
    LIMIT 1
$$;

-- A lead's candidate geometry (GeoJSON text) checked in one call: validity with PostGIS's
-- reason, the repaired polygonal part as a 2D MultiPolygon (EWKB), its area on the ellipsoid,
-- the bounds test (min lon, min lat, max lon, max lat), and its commune: lead_communes' first,
-- else parcels_commune (commune_source says which; name and department only from an outline).
-- A generic plan, prepared once per connection: the plan doesn't depend on the values.
CREATE OR REPLACE FUNCTION lead_geometry_check(
    p_geojson text, p_minlon float8, p_minlat float8, p_maxlon float8, p_maxlat float8
) RETURNS TABLE (
    valid boolean, reason text, empty boolean, ewkb bytea, area_m2 float8, in_bounds boolean,
    has_communes boolean, commune_insee text, commune_name text, department text,
    commune_share float8, commune_source text
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
    ), measured AS MATERIALIZED (
        SELECT c.*, ST_IsEmpty(c.fixed) AS is_empty,
               CASE WHEN ST_IsEmpty(c.fixed) THEN 0 ELSE ST_Area(c.fixed::geography) END AS m2
        FROM checked AS c
    )
    SELECT
        r.valid, r.reason, r.is_empty, ST_AsEWKB(r.fixed), r.m2,
        ST_CoveredBy(r.fixed, ST_MakeEnvelope(p_minlon, p_minlat, p_maxlon, p_maxlat, 4326)),
        EXISTS (SELECT 1 FROM communes),
        COALESCE(r.insee, r.parcel_insee),
        r.name,
        r.department,
        COALESCE(r.overlap_m2 / NULLIF(r.m2, 0), 0),
        CASE WHEN r.insee IS NOT NULL THEN 'communes'
             WHEN r.parcel_insee IS NOT NULL THEN 'parcels' END
    FROM (
        SELECT m.*, best.insee, best.name, best.department, best.overlap_m2,
               -- CASE: the parcels are read only when no outline answered.
               CASE WHEN best.insee IS NULL AND NOT m.is_empty
                    THEN parcels_commune(m.fixed) END AS parcel_insee
        FROM measured AS m
        LEFT JOIN LATERAL (
            SELECT * FROM lead_communes(m.fixed) LIMIT 1
        ) AS best ON NOT m.is_empty
    ) AS r;
END
$$;
