-- Site finder, step 4: the kept sites, largest buildable area first (the bound of a run; the
-- engine then ranks them by score), without their geometry.
SELECT site_key, parcel_ids, parcel_count, area_m2, over_cap, plu_off, plu_absent, plu_unknown,
       buildable_m2, zones, env_coverage, env_layer, lat, lon, need_mw, postes, chosen, grid_status
FROM sf_sites
WHERE removed IS NULL
ORDER BY buildable_m2 DESC NULLS LAST, area_m2 DESC, site_key
LIMIT :max_results
