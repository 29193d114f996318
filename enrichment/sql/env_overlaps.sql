-- Protected zones under each lead: overlap measured on the ellipsoid (m²) and the lead's own area,
-- so the share is exact anywhere. The GiST index on env_zones.geom serves ST_Intersects.
WITH lead AS (
    SELECT id, geom, ST_Area(geom::geography) AS area_m2 FROM leads WHERE id = ANY(:lead_ids)
)
SELECT lead.id AS lead_id,
       z.id,
       z.zone_type,
       z.code,
       z.name,
       ST_Area(ST_Intersection(z.geom, lead.geom)::geography) AS overlap_m2,
       lead.area_m2 AS lead_area_m2
FROM lead
JOIN env_zones AS z ON ST_Intersects(z.geom, lead.geom)
ORDER BY lead.id, z.zone_type, z.code, z.id
