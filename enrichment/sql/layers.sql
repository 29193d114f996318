-- Which reference layers hold data at all (an empty layer means "not imported", not "nothing here").
SELECT EXISTS (SELECT 1 FROM env_zones) AS env_zones,
       EXISTS (SELECT 1 FROM substations) AS substations,
       EXISTS (SELECT 1 FROM urban_zones) AS urban_zones,
       EXISTS (SELECT 1 FROM communes) AS communes,
       EXISTS (SELECT 1 FROM parcels) AS parcels
