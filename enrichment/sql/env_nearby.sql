-- The nearest zone of each type within :radius_m of the lead (not overlapping it), distance in
-- metres on the ellipsoid. The && prefilter on a degree box (:radius_deg, computed from the lead's
-- latitude so it always covers the radius) lets the GiST index do the first cut.
WITH lead AS (
    SELECT geom FROM leads WHERE id = :lead_id
)
SELECT DISTINCT ON (z.zone_type)
       z.id,
       z.zone_type,
       z.code,
       z.name,
       ST_Distance(z.geom::geography, lead.geom::geography) AS distance_m
FROM env_zones AS z, lead
WHERE z.geom && ST_Expand(lead.geom, :radius_deg)
  AND NOT ST_Intersects(z.geom, lead.geom)
  AND ST_DWithin(z.geom::geography, lead.geom::geography, :radius_m)
ORDER BY z.zone_type, distance_m, z.code, z.id
