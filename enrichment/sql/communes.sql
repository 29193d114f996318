-- Communes under each lead (a site may straddle a boundary), the lead's commune first: the order
-- of lead_communes (geo/sql/communes.sql), the rule lead creation uses too.
WITH lead AS (
    SELECT id, geom FROM leads WHERE id = ANY(:lead_ids)
)
SELECT lead.id AS lead_id,
       c.insee,
       c.name,
       c.department,
       c.overlap_m2
FROM lead
CROSS JOIN LATERAL lead_communes(lead.geom)
    WITH ORDINALITY AS c (insee, name, department, overlap_m2, rank)
ORDER BY lead.id, c.rank
