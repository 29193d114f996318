-- Site finder, the score's facts of the kept sites :keys (at most max_results), one row per
-- site and fact: 'env' — each protected zone over the site's buildable area (the parcels minus
-- the excluded zones with their buffers), its overlap measured on the ellipsoid; 'plu' — the
-- PLU zone under a point of each parcel's surface (as the PLU criterion judges a parcel),
-- summed by zone over the parcels' areas, 'absent' for the parcels outside the PLU layer's
-- coverage. Each zone is clipped to the site's box before it is projected: a national park is
-- never projected whole.
WITH layer AS (
    SELECT EXISTS (SELECT 1 FROM urban_zones) AS plu_loaded,
           EXISTS (SELECT 1 FROM imports WHERE status = 'succeeded' AND layer = 'urban_zones')
               AS plu_tracked
), site AS (
    SELECT s.site_key, s.parcel_ids,
           CASE WHEN ST_IsValid(b.g93) THEN b.g93
                ELSE ST_CollectionExtract(ST_MakeValid(b.g93), 3) END AS b93
    FROM sf_sites AS s
    CROSS JOIN LATERAL (
        SELECT coalesce(s.buildable_g93, ST_Transform(s.geom, 2154)) AS g93
    ) AS b
    WHERE s.site_key = ANY(CAST(:keys AS text[]))
), boxed AS (
    SELECT site.*, ST_Transform(ST_Envelope(b93), 4326) AS box,
           ST_Area(ST_Transform(b93, 4326)::geography) AS b_m2
    FROM site
    WHERE NOT ST_IsEmpty(b93)
), env AS (
    SELECT b.site_key, CAST(z.zone_type AS text) AS zone_type, z.code, z.name,
           ST_Area(ST_Transform(ST_Intersection(c.g93, b.b93), 4326)::geography) AS m2,
           b.b_m2 AS total_m2
    FROM boxed AS b
    JOIN env_zones AS z ON z.geom && b.box
    CROSS JOIN LATERAL (
        SELECT ST_Transform(ST_Intersection(z.geom, b.box), 2154) AS g93
    ) AS c0
    CROSS JOIN LATERAL (
        SELECT CASE WHEN ST_IsValid(c0.g93) THEN c0.g93
                    ELSE ST_CollectionExtract(ST_MakeValid(c0.g93), 3) END AS g93
    ) AS c
    WHERE ST_Intersects(c.g93, b.b93)
), parcel AS (
    SELECT s.site_key, p.area_m2, ST_PointOnSurface(p.geom) AS pos
    FROM site AS s
    CROSS JOIN LATERAL unnest(s.parcel_ids) AS u(pid)
    JOIN parcels AS p ON p.id = u.pid
), plu AS (
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
