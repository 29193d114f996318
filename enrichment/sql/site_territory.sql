-- Site finder, step 1a: the parcels of the territory, at most :max_parcels + 1 (one more than a
-- run accepts: the engine refuses the territory then). A parcel belongs to the territory by its
-- cadastral commune code (communes, départements: the btree index, and right for communes newer
-- than the communes layer, e.g. 69114) or, for a drawn polygon, by a point on its surface (a
-- parcel lies in exactly one of two adjacent polygons). A chunk of a polygon's run (:chunk, its
-- communes) takes the polygon's parcels of those communes only.
CREATE TEMPORARY TABLE sf_picked ON COMMIT DROP AS
WITH territory AS (
    SELECT ST_SetSRID(ST_GeomFromGeoJSON(CAST(:polygon AS text)), 4326) AS g
    WHERE CAST(:polygon AS text) IS NOT NULL
), picked AS (
    SELECT p.id, p.geom, p.area_m2
    FROM parcels AS p
    WHERE p.commune = ANY(CAST(:communes AS text[]))
    UNION
    SELECT p.id, p.geom, p.area_m2
    FROM unnest(CAST(:departements AS text[])) AS d(code)
    JOIN parcels AS p ON p.commune BETWEEN d.code || '000' AND d.code || '999'
    UNION
    SELECT p.id, p.geom, p.area_m2
    FROM territory AS t
    JOIN parcels AS p ON p.geom && t.g AND ST_Intersects(t.g, ST_PointOnSurface(p.geom))
    WHERE CAST(:chunk AS text[]) IS NULL OR p.commune = ANY(CAST(:chunk AS text[]))
)
SELECT picked.*, ST_PointOnSurface(picked.geom) AS pos
FROM picked
LIMIT CAST(:max_parcels AS integer) + 1
