-- Validate and normalise a candidate lead geometry, and find its commune.
-- Binds: $1 GeoJSON text, then the bounds of France: $2 minlon, $3 minlat, $4 maxlon, $5 maxlat.
-- One round trip: validity (with PostGIS's reason), the repaired polygonal part as a 2D
-- MultiPolygon, its area on the ellipsoid, the France-bounds test and the commune with the
-- largest overlap (when the communes layer has rows).
WITH raw AS (
    SELECT ST_Force2D(ST_SetSRID(ST_GeomFromGeoJSON($1::text), 4326)) AS g
), checked AS MATERIALIZED (
    SELECT g, ST_IsValid(g) AS valid, ST_IsValidReason(g) AS reason,
           -- ST_MakeValid can return a collection (a bow-tie gives two triangles and a point):
           -- keep only the polygons.
           ST_Multi(ST_CollectionExtract(ST_MakeValid(g), 3)) AS fixed
    FROM raw
)
SELECT
    c.valid,
    c.reason,
    ST_IsEmpty(c.fixed) AS empty,
    ST_AsEWKB(c.fixed) AS ewkb,
    CASE WHEN ST_IsEmpty(c.fixed) THEN 0 ELSE ST_Area(c.fixed::geography) END AS area_m2,
    ST_CoveredBy(c.fixed, ST_MakeEnvelope($2, $3, $4, $5, 4326)) AS in_bounds,
    EXISTS (SELECT 1 FROM communes) AS has_communes,
    best.insee AS commune_insee,
    best.name AS commune_name,
    best.department AS department,
    COALESCE(best.share, 0) AS commune_share
FROM checked c
LEFT JOIN LATERAL (
    SELECT co.insee, co.name, co.department,
           ST_Area(ST_Intersection(co.geom, c.fixed)) / NULLIF(ST_Area(c.fixed), 0) AS share
    FROM communes co
    WHERE ST_Intersects(co.geom, c.fixed)
    ORDER BY ST_Area(ST_Intersection(co.geom, c.fixed)) DESC
    LIMIT 1
) best ON NOT ST_IsEmpty(c.fixed);
