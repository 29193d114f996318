-- Site finder, step 1b: the territory's parcels (sf_picked), each with why it is left out of the
-- sites (in an active lead, or a PLU zone that does not allow PV) and its PLU status.
-- Kept in a temporary table dropped at commit; the geometry never goes to Python.
CREATE TEMPORARY TABLE sf_parcels ON COMMIT DROP AS
WITH layer AS (
    SELECT EXISTS (SELECT 1 FROM urban_zones) AS plu_loaded,
           EXISTS (SELECT 1 FROM imports WHERE status = 'succeeded' AND layer = 'urban_zones')
               AS plu_tracked
), busy AS (
    -- In an open lead: more than 1 m² shared (a lead drawn from neighbouring parcels only
    -- touches this one, up to the float noise of its union).
    SELECT DISTINCT pk.id
    FROM sf_picked AS pk
    JOIN leads AS l
      ON CAST(:exclude_active AS boolean)
     AND l.geom && pk.geom
     AND l.status = ANY(CAST(:open_statuses AS text[]))
     AND ST_Intersects(l.geom, pk.geom)
     AND ST_Area(ST_Intersection(l.geom, pk.geom)::geography) > 1.0
), plu AS (
    -- The PLU zone under a point of each parcel's surface (the zone of most of it, but for a
    -- parcel split between zones), zones outer: each zone's prepared geometry tests its parcels'
    -- points through the index on sf_picked.pos (an area per parcel and zone cost 1–2 s a
    -- commune).
    SELECT DISTINCT ON (pk.id) pk.id, z.zone_type, z.label
    FROM urban_zones AS z
    JOIN sf_picked AS pk
      ON CAST(:plu_on AS boolean) AND pk.pos && z.geom AND ST_Intersects(z.geom, pk.pos)
    ORDER BY pk.id, z.id
), judged AS (
    SELECT pk.id, pk.geom, pk.area_m2, plu.zone_type, plu.label, busy.id IS NOT NULL AS in_lead,
           CASE
               WHEN NOT CAST(:plu_on AS boolean) THEN 'off'
               -- Outside the PLU layer's coverage (or the layer not loaded): unknown, not "RNU".
               -- A parcel is in a coverage by a point of its surface, as in a territory: a
               -- coverage drawn from commune outlines cuts the cadastre's edge parcels by a few
               -- square metres, which must not make them unknown.
               WHEN NOT layer.plu_loaded THEN 'absent'
               WHEN layer.plu_tracked AND NOT EXISTS (
                   SELECT 1 FROM layer_coverage AS c
                   WHERE c.layer = 'urban_zones'
                     AND ST_Intersects(c.geom, pk.pos)
               ) THEN 'absent'
               WHEN plu.id IS NULL THEN
                   CASE WHEN CAST(:plu_unknown_passes AS boolean) THEN 'unknown' ELSE 'fail' END
               WHEN plu.zone_type = ANY(CAST(:plu_types AS text[]))
                 OR lower(btrim(plu.label, '0123456789')) = ANY(CAST(:plu_labels AS text[]))
                   THEN 'pass'
               ELSE 'fail'
           END AS plu_status
    FROM sf_picked AS pk
    CROSS JOIN layer
    LEFT JOIN busy ON busy.id = pk.id
    LEFT JOIN plu ON plu.id = pk.id
)
SELECT id, geom, ST_Transform(geom, 2154) AS g93, area_m2, zone_type AS plu_type,
       label AS plu_label, plu_status,
       CASE WHEN in_lead THEN 'active_lead' WHEN plu_status = 'fail' THEN 'plu' END AS removed
FROM judged
