-- The nearest postes sources to each lead's centroid: KNN on the GiST index (<-> in degrees) picks
-- :candidates candidates, then the exact distance on the ellipsoid orders them (a degree of
-- longitude is shorter than a degree of latitude, so KNN order alone can be slightly off). Only
-- postes within :radius_m count: a poste 300 km away is not "the nearest", it is no data.
WITH lead AS (
    SELECT id, centroid AS c FROM leads WHERE id = ANY(:lead_ids)
)
SELECT lead.id AS lead_id,
       k.id,
       k.code,
       k.name,
       k.operator,
       k.voltage_kv,
       k.s3renr_region,
       k.capacity_reserved_mw,
       k.capacity_allocated_mw,
       k.capacity_available_mw,
       k.quote_part_eur_kw,
       k.data_date,
       k.distance_m
FROM lead
CROSS JOIN LATERAL (
    SELECT s.*, ST_Distance(s.geom::geography, lead.c::geography) AS distance_m
    FROM (
        SELECT * FROM substations AS s ORDER BY s.geom <-> lead.c LIMIT :candidates
    ) AS s
    WHERE ST_Distance(s.geom::geography, lead.c::geography) <= :radius_m
    ORDER BY distance_m, s.id
    LIMIT :n
) AS k
ORDER BY lead.id, k.distance_m, k.id
