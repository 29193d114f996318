-- Cadastral parcels under each lead: their measured area and the part inside the lead (m²).
WITH lead AS (
    SELECT id, geom FROM leads WHERE id = ANY(:lead_ids)
)
SELECT lead.id AS lead_id,
       p.id,
       p.commune,
       p.prefixe,
       p.section,
       p.numero,
       p.contenance,
       p.area_m2,
       ST_Area(ST_Intersection(p.geom, lead.geom)::geography) AS overlap_m2
FROM lead
JOIN parcels AS p ON ST_Intersects(p.geom, lead.geom)
ORDER BY lead.id, p.id
