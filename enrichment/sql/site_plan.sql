-- Site finder, a run's plan: the territory's parcels counted per cadastral commune (the chunks
-- of a background run are whole communes), with the same membership as site_territory.sql, and
-- where each commune lies (the mean of its parcels' box centres) to pack neighbours together.
WITH territory AS (
    SELECT ST_SetSRID(ST_GeomFromGeoJSON(CAST(:polygon AS text)), 4326) AS g
    WHERE CAST(:polygon AS text) IS NOT NULL
), picked AS (
    SELECT p.id, p.commune, p.geom::box2d AS box
    FROM parcels AS p
    WHERE p.commune = ANY(CAST(:communes AS text[]))
    UNION ALL
    SELECT p.id, p.commune, p.geom::box2d AS box
    FROM unnest(CAST(:departements AS text[])) AS d(code)
    JOIN parcels AS p ON p.commune BETWEEN d.code || '000' AND d.code || '999'
    UNION ALL
    SELECT p.id, p.commune, p.geom::box2d AS box
    FROM territory AS t
    JOIN parcels AS p ON p.geom && t.g AND ST_Intersects(t.g, ST_PointOnSurface(p.geom))
)
SELECT commune, count(*)::integer AS parcels,
       avg((ST_XMin(box) + ST_XMax(box)) / 2) AS x, avg((ST_YMin(box) + ST_YMax(box)) / 2) AS y
FROM picked
GROUP BY commune
ORDER BY commune
