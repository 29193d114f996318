-- Site finder: where each reference layer has data over the territory. The territory's pieces
-- are its communes' outlines (communes, départements) or the drawn polygon; a piece is covered
-- when one coverage of the layer holds it whole, partly when one touches it. Layers loaded
-- without the importer (no imports: tests, the benchmark) are complete; the engine says so.
WITH pieces AS (
    SELECT geom FROM communes
    WHERE insee = ANY(CAST(:communes AS text[]))
       OR department = ANY(CAST(:departements AS text[]))
    UNION ALL
    SELECT ST_SetSRID(ST_GeomFromGeoJSON(CAST(:polygon AS text)), 4326)
    WHERE CAST(:polygon AS text) IS NOT NULL
), layers(layer) AS (
    VALUES ('parcels'), ('env_zones'), ('substations'), ('urban_zones')
)
SELECT layers.layer,
       count(pieces.geom) AS pieces,
       count(*) FILTER (WHERE cov.whole) AS whole,
       count(*) FILTER (WHERE cov.touched) AS touched
FROM layers
CROSS JOIN pieces
CROSS JOIN LATERAL (
    SELECT coalesce(bool_or(ST_CoveredBy(pieces.geom, c.geom)), false) AS whole,
           count(*) > 0 AS touched
    FROM layer_coverage AS c
    WHERE c.layer = layers.layer AND ST_Intersects(c.geom, pieces.geom)
) AS cov
GROUP BY layers.layer
