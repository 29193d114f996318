-- Communes under each lead (a site may straddle a boundary), largest share first.
WITH lead AS (
    SELECT id, geom FROM leads WHERE id = ANY(:lead_ids)
)
SELECT lead.id AS lead_id,
       c.insee,
       c.name,
       c.department,
       ST_Area(ST_Intersection(c.geom, lead.geom)::geography) AS overlap_m2
FROM lead
JOIN communes AS c ON ST_Intersects(c.geom, lead.geom)
ORDER BY lead.id, overlap_m2 DESC, c.insee
