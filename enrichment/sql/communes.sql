-- Communes under the lead (a site may straddle a boundary), largest share first.
WITH lead AS (
    SELECT geom FROM leads WHERE id = :lead_id
)
SELECT c.insee,
       c.name,
       c.department,
       ST_Area(ST_Intersection(c.geom, lead.geom)::geography) AS overlap_m2
FROM communes AS c, lead
WHERE ST_Intersects(c.geom, lead.geom)
ORDER BY overlap_m2 DESC, c.insee
