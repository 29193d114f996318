-- Measured surface of each lead and the part of it under hard-exclusion zones (their union, so
-- zones overlapping each other are not counted twice), both in m² on the ellipsoid.
WITH lead AS (
    SELECT id, geom FROM leads WHERE id = ANY(:lead_ids)
)
SELECT lead.id AS lead_id,
       ST_Area(lead.geom::geography) AS surface_m2,
       coalesce(ST_Area(excluded.g::geography), 0) AS excluded_m2
FROM lead
CROSS JOIN LATERAL (
    SELECT ST_Union(ST_Intersection(z.geom, lead.geom)) AS g
    FROM env_zones AS z
    WHERE z.zone_type = ANY(:exclusion_types)
      AND ST_Intersects(z.geom, lead.geom)
) AS excluded
ORDER BY lead.id
