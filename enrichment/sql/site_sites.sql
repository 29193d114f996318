-- Site finder, step 2: the candidate sites of the parcels kept by step 1 (sf_parcels), with
-- their facts and the first criterion that removes them. Criteria are evaluated in order and a
-- site removed by one is not evaluated further (no exclusion work for a site already too small):
--   1. gross area below the minimum buildable area → 'min_buildable_area' (a fact: exclusions
--      only shrink it);
--   2. buildable area = union of the parcels minus the excluded zones with their buffers (in
--      Lambert-93 metres), remnants narrower than :min_width_m or smaller than :min_part_m2
--      dropped, measured on the ellipsoid → 'min_buildable_area' when below the minimum;
--   3. postes sources within :max_poste_m of the centroid (ellipsoid), the nearest with enough
--      available capacity → 'poste_distance' or 'poste_capacity'.
-- A criterion whose layer has no data there is 'absent' ("données absentes"): never a pass.
CREATE TEMPORARY TABLE sf_sites ON COMMIT DROP AS
WITH layer AS (
    SELECT EXISTS (SELECT 1 FROM env_zones) AS env_loaded,
           EXISTS (SELECT 1 FROM substations) AS grid_loaded,
           ARRAY(SELECT DISTINCT layer FROM imports WHERE status = 'succeeded')::text[] AS tracked
), free AS (
    SELECT id, geom, g93, area_m2, plu_status FROM sf_parcels WHERE removed IS NULL
), touching AS (
    -- Parcels that touch or lie within :gap_m of each other (a path, a ditch) form one site.
    SELECT free.*,
           ST_ClusterDBSCAN(g93, eps := CAST(:gap_m AS float8), minpoints := 1)
               OVER (ORDER BY id) AS cid
    FROM free
), sized AS (
    -- How many pieces a cluster over the caps is cut into (a plain is not one site). The
    -- windows below read their rows in parcel-id order: k-means' result depends on it, and the
    -- same inputs must give the same sites.
    SELECT cid,
           LEAST(count(*), GREATEST(1,
               ceil(count(*) / CAST(:max_site_parcels AS float8)),
               ceil(sum(area_m2) / CAST(:max_site_m2 AS float8))))::integer AS k
    FROM touching
    GROUP BY cid
), split AS (
    SELECT t.*, ST_ClusterKMeans(ST_PointOnSurface(t.g93), s.k)
               OVER (PARTITION BY t.cid ORDER BY t.id) AS kid
    FROM touching AS t
    JOIN sized AS s USING (cid)
), contiguous AS (
    -- A k-means piece may not be connected: its connected groups are the sites.
    SELECT split.*,
           ST_ClusterDBSCAN(g93, eps := CAST(:gap_m AS float8), minpoints := 1)
               OVER (PARTITION BY cid, kid ORDER BY id) AS sub
    FROM split
), grouped AS (
    -- A site is named by its smallest parcel id: DBSCAN's numbers depend on the scan order.
    SELECT min(id) AS site_key,
           array_agg(id ORDER BY id) AS parcel_ids,
           count(*)::integer AS parcel_count,
           sum(area_m2) AS parcels_m2,
           ST_Multi(ST_Union(geom)) AS geom,
           bool_and(plu_status = 'off') AS plu_off,
           bool_or(plu_status = 'absent') AS plu_absent,
           bool_or(plu_status = 'unknown') AS plu_unknown
    FROM contiguous
    GROUP BY cid, kid, sub
), measured AS (
    SELECT g.*, ST_Transform(g.geom, 2154) AS g93, ST_Area(g.geom::geography) AS area_m2,
           ST_Centroid(g.geom) AS centroid
    FROM grouped AS g
), big AS (
    SELECT * FROM measured
    WHERE CAST(:min_buildable_m2 AS float8) IS NULL OR area_m2 >= :min_buildable_m2
), rules AS (
    SELECT * FROM unnest(CAST(:zone_types AS text[]), CAST(:zone_buffers AS float8[]))
        AS r(zone_type, buffer_m)
), hits AS (
    -- Each excluded zone near a site, clipped to the site's box grown by the buffer (+50 m: the
    -- box's edges are straight in degrees) before it is projected and buffered: a national
    -- park is never projected whole.
    SELECT b.site_key, z.zone_type, z.code, z.name, r.buffer_m,
           ST_Buffer(c.g93, r.buffer_m) AS g
    FROM big AS b
    CROSS JOIN rules AS r
    CROSS JOIN LATERAL (
        SELECT ST_Transform(ST_Expand(ST_Envelope(b.g93), r.buffer_m + 50), 4326) AS box
    ) AS w
    JOIN env_zones AS z ON z.zone_type = r.zone_type AND z.geom && w.box
    CROSS JOIN LATERAL (
        SELECT ST_Transform(ST_Intersection(z.geom, w.box), 2154) AS g93
    ) AS c
    WHERE ST_DWithin(c.g93, b.g93, r.buffer_m)
), excluded AS (
    SELECT site_key, ST_Union(g) AS g,
           jsonb_agg(DISTINCT jsonb_build_object('type', zone_type, 'code', code, 'name', name,
                                                 'buffer_m', buffer_m)) AS zones
    FROM hits
    GROUP BY site_key
), cut AS (
    SELECT b.site_key,
           -- A union projected to Lambert-93 can come out invalid (a ring collapsed to too few
           -- points: GEOS refused the difference on the benchmark's 300k-parcel run), so each
           -- side is made valid first when it is not.
           CASE WHEN e.g IS NULL THEN b.g93
                ELSE ST_Difference(
                    CASE WHEN ST_IsValid(b.g93) THEN b.g93
                         ELSE ST_CollectionExtract(ST_MakeValid(b.g93), 3) END,
                    CASE WHEN ST_IsValid(e.g) THEN e.g
                         ELSE ST_CollectionExtract(ST_MakeValid(e.g), 3) END)
           END AS g93,
           coalesce(e.zones, '[]'::jsonb) AS zones
    FROM big AS b
    LEFT JOIN excluded AS e USING (site_key)
), parts AS (
    -- Remnants too small or too narrow to build on are dropped whole (the test on a negative
    -- buffer only decides; the kept parts are measured as they are).
    SELECT cut.site_key, ST_Area(ST_Transform(d.geom, 4326)::geography) AS m2
    FROM cut
    CROSS JOIN LATERAL ST_Dump(cut.g93) AS d
    WHERE ST_Area(ST_Transform(d.geom, 4326)::geography) >= CAST(:min_part_m2 AS float8)
      AND NOT ST_IsEmpty(ST_Buffer(d.geom, -CAST(:min_width_m AS float8) / 2.0))
), buildable AS (
    SELECT cut.site_key, cut.zones, coalesce(sum(parts.m2), 0) AS buildable_m2
    FROM cut
    LEFT JOIN parts USING (site_key)
    GROUP BY cut.site_key, cut.zones
), env AS (
    SELECT b.site_key,
           CASE WHEN cardinality(CAST(:zone_types AS text[])) = 0 THEN 'off'
                WHEN NOT layer.env_loaded THEN 'absent'
                WHEN NOT 'env_zones' = ANY(layer.tracked) THEN 'covered'
                -- As the enrichment: covered from 99.9 % of the site (a coverage drawn from
                -- commune outlines misses the cadastre's edge by a few m²), absent under 0.1 %.
                WHEN cov.share >= 0.999 THEN 'covered'
                WHEN cov.share > 0.001 THEN 'partial'
                ELSE 'absent'
           END AS env_coverage,
           -- The same, whether or not zones are excluded: the score's environment criterion.
           CASE WHEN NOT layer.env_loaded THEN 'absent'
                WHEN NOT 'env_zones' = ANY(layer.tracked) THEN 'covered'
                WHEN cov.share >= 0.999 THEN 'covered'
                WHEN cov.share > 0.001 THEN 'partial'
                ELSE 'absent'
           END AS env_layer,
           CASE WHEN NOT layer.grid_loaded THEN false
                WHEN NOT 'substations' = ANY(layer.tracked) THEN true
                ELSE EXISTS (
                    SELECT 1 FROM layer_coverage AS c
                    WHERE c.layer = 'substations' AND ST_Intersects(c.geom, b.centroid)
                )
           END AS grid_covered
    FROM big AS b
    CROSS JOIN layer
    CROSS JOIN LATERAL (
        SELECT CASE WHEN bool_or(ST_CoveredBy(b.geom, c.geom)) THEN 1.0
                    ELSE coalesce(ST_Area(ST_Intersection(ST_Union(c.geom), b.geom)::geography)
                                  / NULLIF(ST_Area(b.geom::geography), 0), 0)
               END AS share
        FROM layer_coverage AS c
        WHERE c.layer = 'env_zones' AND ST_Intersects(c.geom, b.geom)
    ) AS cov
), area_ok AS (
    SELECT b.site_key, b.centroid, bu.buildable_m2,
           CASE WHEN CAST(:capacity_for_site AS boolean)
                THEN bu.buildable_m2 / 10000.0 / CAST(:ha_per_mwc AS float8)
                ELSE CAST(:min_capacity_mw AS float8)
           END AS need_mw
    FROM big AS b
    JOIN buildable AS bu USING (site_key)
    WHERE CAST(:min_buildable_m2 AS float8) IS NULL OR bu.buildable_m2 >= :min_buildable_m2
), postes AS (
    -- The :poste_candidates nearest postes (KNN on the index), kept within :max_poste_m on the
    -- ellipsoid, nearest first.
    SELECT a.site_key,
           jsonb_agg(jsonb_build_object(
               'id', k.id, 'code', k.code, 'name', k.name,
               'capacity_available_mw', k.capacity_available_mw,
               'quote_part_eur_kw', k.quote_part_eur_kw, 'data_date', k.data_date,
               'distance_m', round(k.distance_m::numeric, 1)
           ) ORDER BY k.distance_m, k.id) AS postes
    FROM area_ok AS a
    CROSS JOIN LATERAL (
        SELECT s.*, ST_Distance(s.geom::geography, a.centroid::geography) AS distance_m
        FROM (
            SELECT * FROM substations AS s
            ORDER BY s.geom <-> a.centroid
            LIMIT CAST(:poste_candidates AS integer)
        ) AS s
        WHERE ST_Distance(s.geom::geography, a.centroid::geography) <= :max_poste_m
    ) AS k
    WHERE CAST(:max_poste_m AS float8) IS NOT NULL
    GROUP BY a.site_key
), grid AS (
    SELECT a.site_key, a.need_mw, p.postes,
           (SELECT v FROM jsonb_array_elements(p.postes) WITH ORDINALITY AS e(v, i)
            WHERE a.need_mw IS NULL OR (v ->> 'capacity_available_mw')::float8 >= a.need_mw
            ORDER BY i LIMIT 1) AS chosen,
           CASE WHEN CAST(:max_poste_m AS float8) IS NULL THEN 'off'
                WHEN NOT env.grid_covered THEN 'absent'
                WHEN p.postes IS NULL THEN 'fail_distance'
                WHEN a.need_mw IS NULL THEN 'pass'
                WHEN EXISTS (
                    SELECT 1 FROM jsonb_array_elements(p.postes) AS e(v)
                    WHERE (v ->> 'capacity_available_mw')::float8 >= a.need_mw
                ) THEN 'pass'
                WHEN EXISTS (
                    SELECT 1 FROM jsonb_array_elements(p.postes) AS e(v)
                    WHERE v ->> 'capacity_available_mw' IS NULL
                ) THEN 'absent_capacity'
                ELSE 'fail_capacity'
           END AS grid_status
    FROM area_ok AS a
    JOIN env USING (site_key)
    LEFT JOIN postes AS p USING (site_key)
)
SELECT m.site_key, m.parcel_ids, m.parcel_count, m.geom, m.area_m2, m.parcels_m2,
       m.parcel_count > CAST(:max_site_parcels AS integer)
           OR m.parcels_m2 > CAST(:max_site_m2 AS float8) AS over_cap,
       m.plu_off, m.plu_absent, m.plu_unknown,
       bu.buildable_m2, bu.zones, env.env_coverage, env.env_layer,
       ST_Y(m.centroid) AS lat, ST_X(m.centroid) AS lon,
       g.need_mw, g.postes, g.chosen, g.grid_status,
       cu.g93 AS buildable_g93,  -- the terrain's zonal statistics read it (enrichment.terrain)
       CASE WHEN bu.site_key IS NULL AND CAST(:min_buildable_m2 AS float8) IS NOT NULL
                THEN 'min_buildable_area'
            WHEN CAST(:min_buildable_m2 AS float8) IS NOT NULL
             AND bu.buildable_m2 < :min_buildable_m2 THEN 'min_buildable_area'
            WHEN g.grid_status = 'fail_distance' THEN 'poste_distance'
            WHEN g.grid_status = 'fail_capacity' THEN 'poste_capacity'
       END AS removed
FROM measured AS m
LEFT JOIN buildable AS bu USING (site_key)
LEFT JOIN env USING (site_key)
LEFT JOIN grid AS g USING (site_key)
LEFT JOIN cut AS cu USING (site_key)
