-- Site finder, step 3: what a run scanned, found and removed, by reason.
SELECT (SELECT count(*) FROM sf_parcels) AS parcels_scanned,
       (SELECT count(*) FROM sf_parcels WHERE removed = 'active_lead') AS parcels_in_active_leads,
       (SELECT count(*) FROM sf_parcels WHERE removed = 'plu') AS parcels_plu_not_allowed,
       count(*) AS sites_found,
       count(*) FILTER (WHERE removed = 'min_buildable_area') AS removed_min_buildable_area,
       count(*) FILTER (WHERE removed = 'poste_distance') AS removed_poste_distance,
       count(*) FILTER (WHERE removed = 'poste_capacity') AS removed_poste_capacity,
       count(*) FILTER (WHERE removed = 'yield') AS removed_yield,
       count(*) FILTER (WHERE removed IS NULL) AS sites_kept
FROM sf_sites
