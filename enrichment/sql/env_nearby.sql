-- The nearest zone of each type within :radius_m of each lead (not overlapping it).
-- Geodesic distances to every candidate cost ~30 ms per lead on the benchmark (a 10 km box holds
-- ~80 zones), so candidates are ranked in Lambert-93 (planar metres, within 0.3 % of the
-- ellipsoid over metropolitan France) and only each type's winner is measured on the ellipsoid.
-- ST_DWithin in degrees (:radii_deg, one per lead, computed from its latitude so it covers the
-- radius in every direction) lets the GiST index make the first cut.
WITH lead AS (
    SELECT l.id, l.geom, ST_Transform(l.geom, 2154) AS geom_l93, p.radius_deg
    FROM unnest(CAST(:lead_ids AS bigint[]), CAST(:radii_deg AS float8[])) AS p(id, radius_deg)
    JOIN leads AS l ON l.id = p.id
),
candidates AS (
    SELECT lead.id AS lead_id, z.id, z.zone_type, z.code, z.name, z.geom,
           ST_Distance(l93.geom, lead.geom_l93) AS distance_l93
    FROM lead
    JOIN env_zones AS z ON ST_DWithin(z.geom, lead.geom, lead.radius_deg)
    CROSS JOIN LATERAL (SELECT ST_Transform(z.geom, 2154) AS geom) AS l93
    WHERE NOT ST_Intersects(z.geom, lead.geom)
),
winners AS (
    SELECT DISTINCT ON (lead_id, zone_type) *
    FROM candidates
    WHERE distance_l93 <= :radius_m * 1.01
    ORDER BY lead_id, zone_type, distance_l93, code, id
)
SELECT w.lead_id,
       w.id,
       w.zone_type,
       w.code,
       w.name,
       ST_Distance(w.geom::geography, lead.geom::geography) AS distance_m
FROM winners AS w
JOIN lead ON lead.id = w.lead_id
WHERE ST_DWithin(w.geom::geography, lead.geom::geography, :radius_m)
ORDER BY w.lead_id, w.zone_type
