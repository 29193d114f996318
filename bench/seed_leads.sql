-- 100k leads and their tables, generated in PostgreSQL (statements separated by blank lines).
-- %(n)s = number of leads. Deterministic through setseed().
SELECT setseed(0.42);

CREATE TEMP TABLE cn AS
SELECT row_number() OVER (ORDER BY insee) AS rn, insee, name, department,
       ST_X(ST_PointOnSurface(geom)) AS x, ST_Y(ST_PointOnSurface(geom)) AS y
FROM communes;

CREATE TEMP TABLE ops AS
SELECT row_number() OVER (ORDER BY id) AS rn, id FROM users WHERE role = 'OPS';

CREATE TEMP TABLE gen AS
SELECT g AS id,
       1 + floor(random() * (SELECT count(*) FROM cn))::int AS crn,
       1 + floor(random() * (SELECT count(*) FROM ops))::int AS orn,
       random() AS r_status, random() AS r_age, random() AS r_changed, random() AS r_area,
       random() AS r_x, random() AS r_y, random() AS r_score, random() AS r_public,
       random() AS r_misc
FROM generate_series(1, %(n)s) g;

CREATE TEMP TABLE seeded AS
SELECT gen.*, cn.insee, cn.name AS commune_name, cn.department,
       cn.x + (gen.r_x - 0.5) * 0.02 AS cx, cn.y + (gen.r_y - 0.5) * 0.02 AS cy,
       -- 1 to 20 ha, as a rectangle 1.5 times wider than high.
       sqrt((10000 + gen.r_area * 190000) / 1.5) AS h_m,
       CASE
           WHEN gen.r_status < 0.25 THEN 'NEW'
           WHEN gen.r_status < 0.45 THEN 'ENRICHED'
           WHEN gen.r_status < 0.60 THEN 'QUALIFIED'
           WHEN gen.r_status < 0.68 THEN 'IN_REVIEW'
           WHEN gen.r_status < 0.75 THEN 'CLIENT_READY'
           WHEN gen.r_status < 0.80 THEN 'SOLD'
           WHEN gen.r_status < 0.95 THEN 'REJECTED'
           ELSE 'ARCHIVED'
       END AS status,
       now() - make_interval(secs => gen.r_age * 365 * 86400) AS created_at,
       ops.id AS ops_id
FROM gen JOIN cn ON cn.rn = gen.crn JOIN ops ON ops.rn = gen.orn;

INSERT INTO leads (id, internal_name, name, status, status_changed_at, assignee_id, created_by_id,
                   is_public, commune_insee, commune_name, department, notes, geom,
                   quality_score, completeness, enrichment_stale, enriched_at, created_at,
                   updated_at, version, rejection_reason)
SELECT s.id,
       s.department || '-' || substr(s.insee, 3) || '-'
           || lpad((row_number() OVER (PARTITION BY s.insee ORDER BY s.id))::text, 4, '0'),
       'Site ' || s.commune_name || ' ' || s.id,
       s.status,
       s.created_at + (now() - s.created_at) * s.r_changed,
       CASE WHEN s.r_misc < 0.9 THEN s.ops_id END,
       s.ops_id,
       s.r_public < 0.1,
       s.insee, s.commune_name, s.department,
       CASE WHEN s.r_misc < 0.3 THEN 'friche agricole, accès chemin communal' END,
       ST_Multi(ST_MakeEnvelope(
           s.cx, s.cy,
           s.cx + s.h_m * 1.5 / (111320 * cos(radians(s.cy))), s.cy + s.h_m / 110574, 4326)),
       CASE WHEN s.status <> 'NEW' THEN round((s.r_score * 100)::numeric, 1)::float END,
       CASE WHEN s.status <> 'NEW' THEN round((0.5 + s.r_misc / 2)::numeric, 3)::float END,
       s.status = 'NEW',
       CASE WHEN s.status <> 'NEW' THEN s.created_at + interval '1 hour' END,
       s.created_at,
       s.created_at + (now() - s.created_at) * s.r_changed,
       1,
       CASE WHEN s.status = 'REJECTED' THEN 'zone Natura 2000' END
FROM seeded s;

SELECT setval(pg_get_serial_sequence('leads', 'id'), (SELECT max(id) FROM leads));

INSERT INTO lead_name_counters (prefix, last_seq)
SELECT substr(internal_name, 1, length(internal_name) - 5), max(right(internal_name, 4)::int)
FROM leads GROUP BY 1;

INSERT INTO lead_sourcing (lead_id, source, found_by_id, found_at, source_notes)
SELECT id, (ARRAY['map', 'site_finder', 'import', 'referral'])[1 + floor(r_misc * 4)::int],
       ops_id, created_at, NULL
FROM seeded;

-- Status history: the main path up to the current stage (rejected/archived after a random one).
CREATE TEMP TABLE path AS
SELECT s.id, s.created_at, s.ops_id, s.status, s.r_changed,
       CASE s.status
           WHEN 'NEW' THEN ARRAY['NEW']
           WHEN 'ENRICHED' THEN ARRAY['NEW', 'ENRICHED']
           WHEN 'QUALIFIED' THEN ARRAY['NEW', 'ENRICHED', 'QUALIFIED']
           WHEN 'IN_REVIEW' THEN ARRAY['NEW', 'ENRICHED', 'QUALIFIED', 'IN_REVIEW']
           WHEN 'CLIENT_READY' THEN ARRAY['NEW', 'ENRICHED', 'QUALIFIED', 'IN_REVIEW',
                                          'CLIENT_READY']
           WHEN 'SOLD' THEN ARRAY['NEW', 'ENRICHED', 'QUALIFIED', 'IN_REVIEW', 'CLIENT_READY',
                                  'SOLD']
           WHEN 'REJECTED' THEN (ARRAY['NEW', 'ENRICHED', 'QUALIFIED'])[1:1 + floor(s.r_misc * 3)::int]
                                || ARRAY['REJECTED']
           ELSE ARRAY['NEW', 'ARCHIVED']
       END AS stages
FROM seeded s;

INSERT INTO lead_status_history (lead_id, status, entered_at, left_at, changed_by_id, reason)
SELECT p.id, p.stages[k],
       p.created_at + (now() - p.created_at) * p.r_changed * (k - 1) / greatest(cardinality(p.stages) - 1, 1),
       CASE WHEN k < cardinality(p.stages)
            THEN p.created_at + (now() - p.created_at) * p.r_changed * k / greatest(cardinality(p.stages) - 1, 1)
       END,
       p.ops_id,
       CASE WHEN p.stages[k] = 'REJECTED' THEN 'zone Natura 2000' END
FROM path p, generate_subscripts(p.stages, 1) AS k;

INSERT INTO activity_log (lead_id, user_id, action, entity, entity_id, after, created_at)
SELECT id, ops_id, 'create', 'lead', id, jsonb_build_object('status', 'NEW'), created_at
FROM seeded;

INSERT INTO activity_log (lead_id, user_id, action, entity, entity_id, before, after, created_at)
SELECT h.lead_id, h.changed_by_id, 'transition', 'lead', h.lead_id,
       jsonb_build_object('status', lag(h.status) OVER w), jsonb_build_object('status', h.status),
       h.entered_at
FROM lead_status_history h
WINDOW w AS (PARTITION BY h.lead_id ORDER BY h.entered_at, h.id);

DELETE FROM activity_log WHERE action = 'transition' AND before->>'status' IS NULL;

INSERT INTO comments (lead_id, author_id, body, created_at, updated_at)
SELECT s.id, s.ops_id, 'Appel propriétaire n°' || k, s.created_at + make_interval(days => k),
       s.created_at + make_interval(days => k)
FROM seeded s, generate_series(1, 1 + floor(s.r_misc * 3)::int) k
WHERE s.r_public < 0.3;

INSERT INTO lead_technical (lead_id, surface_m2, usable_surface_m2, irradiation_kwh_m2,
                            specific_yield_kwh_kwc, installable_mwc, annual_production_mwh,
                            optimal_tilt_deg, source, computed_at)
SELECT l.id, l.area_m2, l.area_m2 * 0.85, 1500 + s.r_y * 300, 1050 + s.r_y * 350,
       l.area_m2 * 0.85 / 15000, l.area_m2 * 0.85 / 15000 * (1050 + s.r_y * 350),
       35, 'estimate', l.enriched_at
FROM leads l JOIN seeded s ON s.id = l.id WHERE l.status <> 'NEW';

INSERT INTO lead_regulatory (lead_id, verdict, plu_zone_type, plu_label, reasons, computed_at)
SELECT l.id, CASE WHEN s.r_score < 0.1 THEN 'exclusion' WHEN s.r_score < 0.4 THEN 'penalty'
                  ELSE 'ok' END,
       (ARRAY['A', 'N', 'U', 'AU'])[1 + floor(s.r_x * 4)::int], 'Npv', '[]'::jsonb, l.enriched_at
FROM leads l JOIN seeded s ON s.id = l.id WHERE l.status <> 'NEW';

INSERT INTO lead_network (lead_id, distance_m, capacity_available_mw, capacity_ok,
                          quote_part_eur_kw, connection_cost_eur, connection_voltage, computed_at)
SELECT l.id, 500 + s.r_x * 14500, s.r_y * 40, s.r_y > 0.2, 10 + s.r_misc * 80,
       (500 + s.r_x * 14500) / 1000 * 150000, 'HTA', l.enriched_at
FROM leads l JOIN seeded s ON s.id = l.id WHERE l.status <> 'NEW';

INSERT INTO lead_economic (lead_id, capex_eur, opex_eur_yr, connection_cost_eur,
                           annual_revenue_eur, land_rent_eur_yr, simple_payback_years,
                           lcoe_eur_mwh, tariff_eur_mwh, computed_at)
SELECT t.lead_id, t.installable_mwc * 700000, t.installable_mwc * 17500, n.connection_cost_eur,
       t.annual_production_mwh * 79, t.usable_surface_m2 / 10000 * 3000,
       (t.installable_mwc * 700000) / greatest(t.annual_production_mwh * 79, 1), 55, 79,
       t.computed_at
FROM lead_technical t JOIN lead_network n ON n.lead_id = t.lead_id;

INSERT INTO lead_foncier (lead_id, owner_count, agreement_status)
SELECT id, 1 + floor(r_misc * 4)::int,
       (ARRAY['none', 'contacted', 'promise_signed', 'lease_signed'])[1 + floor(r_x * 4)::int]
FROM seeded;

INSERT INTO layer_versions (layer, version) VALUES ('leads', 1)
ON CONFLICT (layer) DO UPDATE SET version = layer_versions.version + 1;

VACUUM ANALYZE
