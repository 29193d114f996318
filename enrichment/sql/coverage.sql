-- Where each lead lies inside each reference layer's coverage (geo/importers/coverage.py): the
-- share of its area covered and whether its centroid is. A layer without a row here for a lead
-- does not cover it at all. The union of a layer's coverages is only drawn for a lead that
-- straddles an edge (a lead wholly inside one coverage is the common case).
WITH lead AS (
    SELECT id, geom, centroid FROM leads WHERE id = ANY(:lead_ids)
), hits AS (
    SELECT lead.id AS lead_id, lead.geom, c.layer,
           bool_or(ST_CoveredBy(lead.geom, c.geom)) AS whole,
           bool_or(ST_Intersects(c.geom, lead.centroid)) AS centroid_covered,
           array_agg(c.geom) AS geoms
    FROM lead
    JOIN layer_coverage AS c ON ST_Intersects(c.geom, lead.geom)
    GROUP BY lead.id, lead.geom, c.layer
)
SELECT lead_id,
       layer,
       centroid_covered,
       CASE WHEN whole THEN 1.0
            ELSE ST_Area(ST_Intersection(ST_Union(geoms), geom)::geography)
                 / NULLIF(ST_Area(geom::geography), 0)
       END AS share
FROM hits
ORDER BY lead_id, layer
