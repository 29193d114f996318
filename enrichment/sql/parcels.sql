-- Cadastral parcels under the lead: their measured area and the part inside the lead (m²).
WITH lead AS (
    SELECT geom FROM leads WHERE id = :lead_id
)
SELECT p.id,
       p.commune,
       p.prefixe,
       p.section,
       p.numero,
       p.contenance,
       p.area_m2,
       ST_Area(ST_Intersection(p.geom, lead.geom)::geography) AS overlap_m2
FROM parcels AS p, lead
WHERE ST_Intersects(p.geom, lead.geom)
ORDER BY p.id
