-- Site finder, the score's facts of the kept sites :keys (at most max_results), one row per
-- site and fact: 'env' — each protected zone over the site's parcels but the types the run
-- excludes (cut from its buildable area), its overlap measured on the ellipsoid; 'plu' — the
-- PLU zone under a point of each parcel's surface (as the PLU criterion judges a parcel),
-- summed by zone over the parcels' areas, 'absent' for the parcels outside the PLU layer's
-- coverage.
WITH layer AS (
    SELECT EXISTS (SELECT 1 FROM urban_zones) AS plu_loaded,
           EXISTS (SELECT 1 FROM imports WHERE status = 'succeeded' AND layer = 'urban_zones')
               AS plu_tracked
), site AS (
    SELECT s.site_key, s.parcel_ids, s.geom, s.area_m2
    FROM sf_sites AS s
    WHERE s.site_key = ANY(CAST(:keys AS text[]))
), env AS (
    -- As a lead's overlaps (env_overlaps.sql): the intersection with the site's parcels on the
    -- ellipsoid. The excluded types are left out: they were cut from the buildable area with
    -- their buffers (facts.excluded_zones), they don't exclude the rest.
    SELECT s.site_key, CAST(z.zone_type AS text) AS zone_type, z.code, z.name,
           -- A zone around the whole site (the common case: a ZNIEFF II, a PNR) needs no overlay.
           CASE WHEN ST_CoveredBy(s.geom, z.geom) THEN s.area_m2
                ELSE ST_Area(ST_Intersection(z.geom, s.geom)::geography)
           END AS m2,
           s.area_m2 AS total_m2
    FROM site AS s
    JOIN env_zones AS z ON z.geom && s.geom AND ST_Intersects(z.geom, s.geom)
    WHERE NOT CAST(z.zone_type AS text) = ANY(CAST(:excluded AS text[]))
), parcel AS (
    SELECT s.site_key, p.area_m2, ST_PointOnSurface(p.geom) AS pos
    FROM site AS s
    CROSS JOIN LATERAL unnest(s.parcel_ids) AS u(pid)
    JOIN parcels AS p ON p.id = u.pid
), plu AS MATERIALIZED (
    SELECT pa.site_key, pa.area_m2,
           CASE WHEN NOT layer.plu_loaded THEN true
                WHEN layer.plu_tracked AND NOT EXISTS (
                    SELECT 1 FROM layer_coverage AS c
                    WHERE c.layer = 'urban_zones' AND ST_Intersects(c.geom, pa.pos)
                ) THEN true
                ELSE false
           END AS absent,
           z.zone_type, z.label
    FROM parcel AS pa
    CROSS JOIN layer
    LEFT JOIN LATERAL (
        SELECT u.zone_type, u.label FROM urban_zones AS u
        WHERE u.geom && pa.pos AND ST_Intersects(u.geom, pa.pos)
        ORDER BY u.id
        LIMIT 1
    ) AS z ON true
), plu_sums AS (
    SELECT site_key, CASE WHEN absent THEN 'absent' ELSE 'zone' END AS kind,
           CASE WHEN absent THEN NULL ELSE zone_type END AS zone_type,
           CASE WHEN absent THEN NULL ELSE label END AS label,
           sum(area_m2) AS m2
    FROM plu
    GROUP BY 1, 2, 3, 4
)
SELECT site_key, 'env' AS fact, zone_type, code, name, m2, total_m2 FROM env WHERE m2 >= 0.01
UNION ALL
SELECT p.site_key, 'plu_' || p.kind, CAST(p.zone_type AS text), NULL, CAST(p.label AS text), p.m2,
       sum(p.m2) OVER (PARTITION BY p.site_key)
FROM plu_sums AS p
