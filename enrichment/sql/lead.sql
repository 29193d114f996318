-- The lead's own facts: is there a geometry, where is its centroid, how large is it (m², ellipsoid).
SELECT l.id,
       l.status,
       ST_IsEmpty(l.geom) AS empty,
       ST_Y(l.centroid) AS lat,
       ST_X(l.centroid) AS lon,
       ST_Area(l.geom::geography) AS area_m2,
       (SELECT f.owner_count FROM lead_foncier AS f WHERE f.lead_id = l.id) AS owner_count
FROM leads AS l
WHERE l.id = :lead_id
