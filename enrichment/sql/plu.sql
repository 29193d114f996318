-- PLU zones under each lead with the area of each (m², ellipsoid), largest first.
WITH lead AS (
    SELECT id, geom FROM leads WHERE id = ANY(:lead_ids)
)
SELECT lead.id AS lead_id,
       u.zone_type,
       u.label,
       u.commune_insee,
       u.document_id,
       sum(ST_Area(ST_Intersection(u.geom, lead.geom)::geography)) AS overlap_m2
FROM lead
JOIN urban_zones AS u ON ST_Intersects(u.geom, lead.geom)
GROUP BY lead.id, u.zone_type, u.label, u.commune_insee, u.document_id
ORDER BY lead.id, overlap_m2 DESC, u.label, u.commune_insee
