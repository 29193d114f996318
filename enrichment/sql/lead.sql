-- The leads' own facts: is there a geometry, where is its centroid, how large is it (m², ellipsoid).
-- Every query here takes the chunk's ids (:lead_ids) and answers one row set for all of them,
-- tagged with lead_id: one statement per part for a whole queued task instead of one per lead.
SELECT l.id,
       l.status,
       ST_IsEmpty(l.geom) AS empty,
       ST_Y(l.centroid) AS lat,
       ST_X(l.centroid) AS lon,
       ST_Area(l.geom::geography) AS area_m2,
       (SELECT f.owner_count FROM lead_foncier AS f WHERE f.lead_id = l.id) AS owner_count
FROM leads AS l
WHERE l.id = ANY(:lead_ids)
ORDER BY l.id
