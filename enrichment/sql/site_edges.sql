-- Site finder, a chunk's edge: the free parcels (sf_parcels, not removed) whose cluster — parcels
-- touching or within :gap_m, as site_sites.sql assembles them — comes within :gap_m of a parcel
-- of the territory in another chunk (:others, their communes; for a polygon's run, the parcels
-- under it) that its chunk keeps free too (not in an open lead, its PLU zone admitted). Such a cluster may continue across the edge: its parcels are set aside (removed =
-- 'edge') and assembled with the other side's when the run's chunks are merged. The search for
-- neighbours goes through the parcels' GiST index in degrees (:deg, more than :gap_m anywhere in
-- metropolitan France), then measures in Lambert-93.
CREATE TEMPORARY TABLE sf_edge ON COMMIT DROP AS
WITH layer AS (
    SELECT EXISTS (SELECT 1 FROM urban_zones) AS plu_loaded,
           EXISTS (SELECT 1 FROM imports WHERE status = 'succeeded' AND layer = 'urban_zones')
               AS plu_tracked
), territory AS (
    SELECT ST_SetSRID(ST_GeomFromGeoJSON(CAST(:polygon AS text)), 4326) AS g
    WHERE CAST(:polygon AS text) IS NOT NULL
), free AS (
    SELECT id, geom, g93 FROM sf_parcels WHERE removed IS NULL
), touching AS (
    SELECT id, ST_ClusterDBSCAN(g93, eps := CAST(:gap_m AS float8), minpoints := 1)
               OVER (ORDER BY id) AS cid
    FROM free
), near AS (
    SELECT DISTINCT t.cid
    FROM touching AS t
    JOIN free AS f USING (id)
    CROSS JOIN layer
    WHERE cardinality(CAST(:others AS text[])) > 0
      AND EXISTS (
          SELECT 1
          FROM parcels AS p
          WHERE p.geom && ST_Expand(f.geom, CAST(:deg AS float8))
            -- Not an index condition: the parcels' GiST index finds the few neighbours (a btree
            -- scan of the other chunks' communes took ~25 s a chunk at 126k parcels).
            AND array_position(CAST(:others AS text[]), p.commune) IS NOT NULL
            AND ST_DWithin(ST_Transform(p.geom, 2154), f.g93, CAST(:gap_m AS float8))
            AND (CAST(:polygon AS text) IS NULL OR EXISTS (
                SELECT 1 FROM territory AS t WHERE ST_Intersects(t.g, ST_PointOnSurface(p.geom))
            ))
            -- Only a neighbour its own chunk keeps free can carry the cluster across: judged
            -- exactly as site_parcels.sql judges it there (an open lead, its PLU zone).
            AND NOT (CAST(:exclude_active AS boolean) AND EXISTS (
                SELECT 1 FROM leads AS l
                WHERE l.geom && p.geom
                  AND l.status = ANY(CAST(:open_statuses AS text[]))
                  AND ST_Intersects(l.geom, p.geom)
                  AND ST_Area(ST_Intersection(l.geom, p.geom)::geography) > 1.0
            ))
            AND (NOT CAST(:plu_on AS boolean) OR NOT layer.plu_loaded OR (
                layer.plu_tracked AND NOT EXISTS (
                    SELECT 1 FROM layer_coverage AS c
                    WHERE c.layer = 'urban_zones' AND ST_Intersects(c.geom, ST_PointOnSurface(p.geom))
                )
            ) OR coalesce((
                SELECT z.zone_type = ANY(CAST(:plu_types AS text[]))
                    OR lower(btrim(z.label, '0123456789')) = ANY(CAST(:plu_labels AS text[]))
                FROM urban_zones AS z
                WHERE z.geom && ST_PointOnSurface(p.geom)
                  AND ST_Intersects(z.geom, ST_PointOnSurface(p.geom))
                ORDER BY z.id
                LIMIT 1
            ), CAST(:plu_unknown_passes AS boolean)))
      )
)
SELECT t.id
FROM touching AS t
JOIN near USING (cid)
