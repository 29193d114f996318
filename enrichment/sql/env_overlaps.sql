-- Protected zones under the lead: overlap measured on the ellipsoid (m²) and the lead's own area,
-- so the share is exact anywhere. The GiST index on env_zones.geom serves ST_Intersects.
WITH lead AS (
    SELECT geom, ST_Area(geom::geography) AS area_m2 FROM leads WHERE id = :lead_id
)
SELECT z.id,
       z.zone_type,
       z.code,
       z.name,
       ST_Area(ST_Intersection(z.geom, lead.geom)::geography) AS overlap_m2,
       lead.area_m2 AS lead_area_m2
FROM env_zones AS z, lead
WHERE ST_Intersects(z.geom, lead.geom)
ORDER BY z.zone_type, z.code, z.id
