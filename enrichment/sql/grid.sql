-- The nearest postes sources to the lead's centroid: KNN on the GiST index (<-> in degrees) picks
-- :candidates candidates, then the exact distance on the ellipsoid orders them (a degree of
-- longitude is shorter than a degree of latitude, so KNN order alone can be slightly off).
WITH lead AS (
    SELECT centroid AS c FROM leads WHERE id = :lead_id
),
candidates AS (
    SELECT s.*
    FROM substations AS s
    ORDER BY s.geom <-> (SELECT c FROM lead)
    LIMIT :candidates
)
SELECT k.id,
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
       ST_Distance(k.geom::geography, lead.c::geography) AS distance_m
FROM candidates AS k, lead
ORDER BY distance_m, k.id
LIMIT :n
