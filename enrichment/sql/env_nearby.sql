-- The nearest zone of each type within :radius_m of the lead (not overlapping it).
-- Geodesic distances to every candidate cost ~30 ms per lead on the benchmark (a 10 km box holds
-- ~80 zones), so candidates are ranked in Lambert-93 (planar metres, within 0.3 % of the
-- ellipsoid over metropolitan France) and only each type's winner is measured on the ellipsoid.
-- ST_DWithin in degrees (:radius_deg, computed from the latitude so it covers the radius in
-- every direction) lets the GiST index make the first cut.
WITH lead AS (
    SELECT geom, ST_Transform(geom, 2154) AS geom_l93 FROM leads WHERE id = :lead_id
),
candidates AS (
    SELECT z.id, z.zone_type, z.code, z.name, z.geom,
           ST_Distance(l93.geom, lead.geom_l93) AS distance_l93
    FROM env_zones AS z
    CROSS JOIN lead
    CROSS JOIN LATERAL (SELECT ST_Transform(z.geom, 2154) AS geom) AS l93
    WHERE ST_DWithin(z.geom, lead.geom, :radius_deg)
      AND NOT ST_Intersects(z.geom, lead.geom)
),
winners AS (
    SELECT DISTINCT ON (zone_type) *
    FROM candidates
    WHERE distance_l93 <= :radius_m * 1.01
    ORDER BY zone_type, distance_l93, code, id
)
SELECT w.id,
       w.zone_type,
       w.code,
       w.name,
       ST_Distance(w.geom::geography, lead.geom::geography) AS distance_m
FROM winners AS w, lead
WHERE ST_DWithin(w.geom::geography, lead.geom::geography, :radius_m)
ORDER BY w.zone_type
