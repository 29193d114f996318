-- PLU zones under the lead with the area of each (m², ellipsoid), largest first.
WITH lead AS (
    SELECT geom FROM leads WHERE id = :lead_id
)
SELECT u.zone_type,
       u.label,
       u.commune_insee,
       u.document_id,
       sum(ST_Area(ST_Intersection(u.geom, lead.geom)::geography)) AS overlap_m2
FROM urban_zones AS u, lead
WHERE ST_Intersects(u.geom, lead.geom)
GROUP BY u.zone_type, u.label, u.commune_insee, u.document_id
ORDER BY overlap_m2 DESC, u.label, u.commune_insee
