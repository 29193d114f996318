-- Which reference layers hold data at all (an empty layer means "not imported", not "nothing
-- here"), and which record their coverage: a layer loaded through the importer has imports,
-- and then only its coverages say where it is complete. Rows written without the importer
-- (tests, the benchmark) are taken as complete everywhere, as before coverage existed.
SELECT EXISTS (SELECT 1 FROM env_zones) AS env_zones,
       EXISTS (SELECT 1 FROM substations) AS substations,
       EXISTS (SELECT 1 FROM urban_zones) AS urban_zones,
       EXISTS (SELECT 1 FROM communes) AS communes,
       EXISTS (SELECT 1 FROM parcels) AS parcels,
       ARRAY(
           SELECT DISTINCT layer FROM imports WHERE status = 'succeeded'
       )::text[] AS tracked
