import { describe, expect, it } from "vitest";
import { ApiError } from "../../api/client";
import { pollInterval } from "../../api/siteSearches";
import type { Run, Site } from "../../api/siteSearches";
import {
  boundsOf,
  COUNT_LABEL,
  cancelPath,
  criteriaFromForm,
  defaultSearchName,
  exportLinks,
  formFromCriteria,
  isActive,
  leadsOutcome,
  mainReasons,
  parseDecimal,
  posteOf,
  polygonOf,
  progressOf,
  sameCriteria,
  sortSites,
  territoryLabel,
  terrainText,
  VERDICT_CRITERION,
} from "./logic";
import type { SearchCriteria } from "./logic";
import { territoryOptions } from "./TerritoryPicker";

// The server's defaults as GET /api/site-searches/defaults gives them (docs/site-finder.md).
const DEFAULTS: SearchCriteria = {
  gap_m: 5,
  min_buildable_ha: 5,
  max_poste_distance_m: 5000,
  min_capacity_mw: "site",
  excluded_zones: { rnn: 50, appb: 50, zone_humide: 50 },
  plu_allowed_types: ["U", "AU", "AUc", "AUs"],
  plu_allowed_labels: ["Npv", "Nenr", "Aenr", "Ne"],
  plu_unknown_passes: true,
  exclude_active_leads: true,
  max_slope_pct: 15,
  max_north_share: 50,
  min_specific_yield: 1100,
};
const ZONES = ["natura2000_zsc", "rnn", "appb", "zone_humide", "friche"];

function site(rank: number, over: Partial<Site> = {}, poste: number | null = 1000): Site {
  return {
    id: rank,
    rank,
    parcel_ids: ["69114000AB0001"],
    area_m2: 50_000,
    buildable_m2: 50_000,
    score: 80,
    completeness: 1,
    facts: { parcel_count: 1, chosen_poste: poste == null ? null : { id: 1, name: "P", distance_m: poste } },
    lead_id: null,
    geometry: null,
    ...over,
  };
}

function run(status: string, extra: Partial<Run> = {}): Run {
  return {
    id: 1,
    search_id: 1,
    status,
    territory: { communes: ["69114"] },
    criteria: DEFAULTS,
    counts: null,
    coverage: null,
    messages: null,
    error: null,
    started_at: "2026-12-06T02:00:00Z",
    finished_at: null,
    ...extra,
  };
}

describe("French numbers", () => {
  it("reads decimal commas, spaces and empty fields", () => {
    expect(parseDecimal("2,5")).toBe(2.5);
    expect(parseDecimal("1 000")).toBe(1000);
    expect(parseDecimal("5000")).toBe(5000);
    expect(parseDecimal("")).toBeNull();
    expect(parseDecimal("deux")).toBeNaN();
    expect(parseDecimal("2,5,1")).toBeNaN();
  });
});

describe("the criteria form", () => {
  it("gives back the server's defaults untouched", () => {
    const form = formFromCriteria(DEFAULTS, ZONES);
    expect(form.zones.rnn).toEqual({ on: true, buffer: "50" });
    expect(form.zones.natura2000_zsc).toEqual({ on: false, buffer: "50" });
    const { criteria, errors } = criteriaFromForm(form);
    expect(errors).toEqual({});
    expect(sameCriteria(criteria, DEFAULTS)).toBe(true);
    expect(criteria.excluded_zones).toEqual({ rnn: 50, appb: 50, zone_humide: 50 });
  });

  it("switches criteria off as null and reads French decimals", () => {
    const form = formFromCriteria(DEFAULTS, ZONES);
    const { criteria, errors } = criteriaFromForm({
      ...form,
      min_buildable_ha: "2,5",
      max_poste_on: false,
      capacity_mode: "off",
      plu_on: false,
      plu_labels: "Npv; Nenr2",
      zones: { ...form.zones, natura2000_zsc: { on: true, buffer: "100" }, rnn: { on: false, buffer: "50" } },
    });
    expect(errors).toEqual({});
    expect(criteria.min_buildable_ha).toBe(2.5);
    expect(criteria.max_poste_distance_m).toBeNull();
    expect(criteria.min_capacity_mw).toBeNull();
    expect(criteria.plu_allowed_types).toBeNull();
    expect(criteria.plu_allowed_labels).toEqual(["Npv", "Nenr2"]);
    expect(criteria.excluded_zones).toEqual({ natura2000_zsc: 100, appb: 50, zone_humide: 50 });
    expect(sameCriteria(criteria, DEFAULTS)).toBe(false);
  });

  it("says which fields are out of the server's bounds", () => {
    const form = formFromCriteria(DEFAULTS, ZONES);
    const { errors } = criteriaFromForm({
      ...form,
      gap_m: "60",
      max_poste_distance_m: "0",
      capacity_mode: "mw",
      capacity_mw: "abc",
      plu_labels: "Npv, 9x",
      zones: { ...form.zones, rnn: { on: true, buffer: "2000" } },
    });
    expect(Object.keys(errors).sort()).toEqual(["capacity_mw", "gap_m", "max_poste_distance_m", "plu_labels", "zone_rnn"]);
    expect(errors.gap_m).toBe("Entre 0 et 50");
    expect(errors.plu_labels).toContain("9x");
  });

  it("keeps a saved search's own values, and a MW capacity", () => {
    const saved = { ...DEFAULTS, min_capacity_mw: 3.5, min_buildable_ha: null, excluded_zones: { friche: 20 } };
    const form = formFromCriteria(saved, ZONES, DEFAULTS);
    expect(form.capacity_mode).toBe("mw");
    expect(form.capacity_mw).toBe("3,5");
    expect(form.min_buildable_on).toBe(false);
    expect(form.min_buildable_ha).toBe("5");
    expect(form.zones.rnn).toEqual({ on: false, buffer: "50" });
    expect(sameCriteria(criteriaFromForm(form).criteria, saved)).toBe(true);
  });

  it("shows the terrain criteria from the defaults, reads French decimals and switches them off as null", () => {
    const form = formFromCriteria(DEFAULTS, ZONES);
    expect(form).toMatchObject({ slope_on: true, max_slope_pct: "15", north_on: true, max_north_share: "50" });
    expect(criteriaFromForm(form).criteria).toMatchObject({ max_slope_pct: 15, max_north_share: 50 });
    const typed = criteriaFromForm({ ...form, max_slope_pct: "7,5", north_on: false });
    expect(typed.errors).toEqual({});
    expect(typed.criteria.max_slope_pct).toBe(7.5);
    expect(typed.criteria.max_north_share).toBeNull();
    expect(sameCriteria(typed.criteria, DEFAULTS)).toBe(false);
    // Off, the field keeps the value to come back to, and the saved search reads back the same.
    const saved = { ...DEFAULTS, max_slope_pct: null, max_north_share: 30 };
    const back = formFromCriteria(saved, ZONES, DEFAULTS);
    expect(back).toMatchObject({ slope_on: false, max_slope_pct: "15", north_on: true, max_north_share: "30" });
    expect(sameCriteria(criteriaFromForm(back).criteria, saved)).toBe(true);
  });

  it("holds the terrain criteria to the server's bounds (0–100 %)", () => {
    const form = formFromCriteria(DEFAULTS, ZONES);
    const { errors } = criteriaFromForm({ ...form, max_slope_pct: "120", max_north_share: "-1" });
    expect(errors).toEqual({ max_slope_pct: "Entre 0 et 100", max_north_share: "Entre 0 et 100" });
    expect(criteriaFromForm({ ...form, max_slope_pct: "raide" }).errors).toEqual({ max_slope_pct: "Saisir un nombre" });
    expect(criteriaFromForm({ ...form, max_slope_pct: "0", max_north_share: "100" }).errors).toEqual({});
    // Switched off, a bad value is not the search's: no error.
    expect(criteriaFromForm({ ...form, slope_on: false, max_slope_pct: "abc" }).errors).toEqual({});
  });

  it("shows the minimum specific yield in kWh/kWc/an, reads French decimals, 500–2 000, off as null", () => {
    const form = formFromCriteria(DEFAULTS, ZONES);
    expect(form).toMatchObject({ yield_on: true, min_specific_yield: "1100" });
    const typed = criteriaFromForm({ ...form, min_specific_yield: "1150,5" });
    expect(typed.errors).toEqual({});
    expect(typed.criteria.min_specific_yield).toBe(1150.5);
    expect(criteriaFromForm({ ...form, min_specific_yield: "400" }).errors).toEqual({
      min_specific_yield: "Entre 500 et 2\u202f000",
    });
    expect(criteriaFromForm({ ...form, min_specific_yield: "beaucoup" }).errors).toEqual({
      min_specific_yield: "Saisir un nombre",
    });
    const off = criteriaFromForm({ ...form, yield_on: false, min_specific_yield: "abc" });
    expect(off.errors).toEqual({});
    expect(off.criteria.min_specific_yield).toBeNull();
    // A search saved before the criterion gets the server's default.
    const { min_specific_yield: _y, ...old } = DEFAULTS;
    expect(formFromCriteria(old, ZONES, { ...DEFAULTS, min_specific_yield: 1200 })).toMatchObject({
      yield_on: true,
      min_specific_yield: "1200",
    });
  });

  it("applies the server's defaults to a search saved before the terrain criteria", () => {
    const { max_slope_pct: _s, max_north_share: _n, ...old } = DEFAULTS;
    const form = formFromCriteria(old, ZONES, { ...DEFAULTS, max_slope_pct: 12 });
    expect(form).toMatchObject({ slope_on: true, max_slope_pct: "12", north_on: true, max_north_share: "50" });
  });
});

describe("sorting the sites", () => {
  const sites = [
    site(1, { score: 90, buildable_m2: 30_000 }, 4000),
    site(2, { score: 85, buildable_m2: 80_000 }, null),
    site(3, { score: 85, buildable_m2: 50_000 }, 1000),
  ];
  it("sorts by each column, ties by rank, missing poste last both ways", () => {
    expect(sortSites(sites, "buildable_m2", "desc").map((s) => s.rank)).toEqual([2, 3, 1]);
    expect(sortSites(sites, "score", "desc").map((s) => s.rank)).toEqual([1, 2, 3]);
    expect(sortSites(sites, "score", "asc").map((s) => s.rank)).toEqual([2, 3, 1]);
    expect(sortSites(sites, "poste_distance", "asc").map((s) => s.rank)).toEqual([3, 1, 2]);
    expect(sortSites(sites, "poste_distance", "desc").map((s) => s.rank)).toEqual([1, 3, 2]);
    expect(sites.map((s) => s.rank)).toEqual([1, 2, 3]); // not sorted in place
  });
  it("says why a site has no chosen poste", () => {
    const near = { id: 2, name: "JOUX", distance_m: 6000 };
    const far = { id: 3, name: "QUINCIEUX", distance_m: 9000 };
    expect(posteOf(site(1)).poste?.name).toBe("P");
    const off = site(2, {}, null);
    off.facts = { ...off.facts, postes: [far, near], verdicts: { poste: { verdict: "off" } } };
    expect(posteOf(off)).toEqual({ poste: near, note: "le plus proche (critère non appliqué)" });
    const absent = site(3, {}, null);
    absent.facts = { ...absent.facts, verdicts: { poste: { verdict: "absent", reason: "Postes sources : données absentes" } } };
    expect(posteOf(absent)).toEqual({ poste: null, note: "données absentes" });
  });
  it("finds the bounds of the geometries", () => {
    const g = { type: "MultiPolygon", coordinates: [[[[4.6, 45.9], [4.7, 45.9], [4.7, 46.0], [4.6, 45.9]]]] };
    expect(boundsOf([site(1, { geometry: g }), site(2)])).toEqual([4.6, 45.9, 4.7, 46.0]);
    expect(boundsOf([site(2)])).toBeNull();
  });
});

describe("runs", () => {
  it("polls queued and running runs, not finished ones", () => {
    expect(isActive(run("queued"))).toBe(true);
    expect(isActive(run("running"))).toBe(true);
    expect(isActive(run("succeeded"))).toBe(false);
    expect(isActive(run("failed"))).toBe(false);
    expect(isActive(run("cancelled"))).toBe(false);
    expect(isActive(undefined)).toBe(false);
  });
  it("asks a young run often, an old one every second", () => {
    const t0 = Date.parse("2026-12-06T02:00:00Z");
    expect(pollInterval(run("running"), t0 + 2_000)).toBe(300);
    expect(pollInterval(run("running"), t0 + 30_000)).toBe(1_000);
    expect(pollInterval(undefined, t0)).toBe(300);
  });
  it("reads the progress a background run reports, and says nothing it does not know", () => {
    expect(progressOf(run("running", { progress: { percent: 42, parcels_scanned: 2500, sites_found: 7 } }))).toEqual({
      percent: 42,
      parcels: 2500,
      sites: 7,
    });
    expect(progressOf(run("running", { progress: { chunks_done: 1, chunks_total: 4 } })).percent).toBe(25);
    expect(progressOf(run("running", { progress: { fraction: 0.5 } })).percent).toBe(50);
    expect(progressOf(run("queued")).percent).toBeNull(); // an indeterminate bar
    const done = progressOf(run("succeeded", { counts: { parcels_scanned: 6032, sites_found: 35 } }));
    expect(done).toEqual({ percent: 100, parcels: 6032, sites: 35 });
  });
});

describe("a run that kept nothing", () => {
  it("lists what removed the most first, with what to loosen", () => {
    const counts = {
      parcels_scanned: 6032,
      parcels_plu_not_allowed: 3629,
      removed_min_buildable_area: 19,
      removed_poste_distance: 13,
      removed_poste_capacity: 3,
      parcels_in_active_leads: 0,
      sites_kept: 0,
    };
    expect(mainReasons(counts)).toEqual([
      "3\u202f629 parcelles refusées par le PLU : admettre d'autres zones", // fr-FR groups with a narrow space
      "19 sites sous la surface minimale : la baisser",
      "13 sites sans poste source assez proche : allonger la distance",
      "3 sites sans capacité suffisante au poste : « peu importe » ou un seuil en MW",
    ]);
    expect(mainReasons(null)).toEqual([]);
  });

  it("names the terrain's removals, in the run's counts and in what to loosen", () => {
    const counts = { sites_found: 40, removed_min_buildable_area: 2, removed_slope: 5, removed_north_share: 31, sites_kept: 0 };
    expect(mainReasons(counts)).toEqual([
      "31 sites trop exposés au nord : relever la part exposée au nord admise",
      "5 sites trop pentus : relever la pente maximale",
      "2 sites sous la surface minimale : la baisser",
    ]);
    const keys = COUNT_LABEL.map(([k]) => k);
    expect(keys.indexOf("removed_slope")).toBeGreaterThan(keys.indexOf("removed_poste_capacity")); // applied after the poste
    expect(keys.indexOf("removed_north_share")).toBeLessThan(keys.indexOf("sites_kept"));
    expect(Object.fromEntries(COUNT_LABEL).removed_north_share).toBe("sites trop exposés au nord");
  });
});

describe("a site's terrain", () => {
  it("says its slope and north-facing share, or that the data are absent (never 0)", () => {
    expect(terrainText({ mean_slope_pct: 6.24, north_share_pct: 9, cellsize_m: 25 })).toBe(
      "pente moyenne 6,2 %, 9 % exposé au nord (maille 25 m)",
    );
    expect(terrainText(null)).toBe("données absentes");
    expect(VERDICT_CRITERION.slope).toBe("Pente");
    expect(VERDICT_CRITERION.north_share).toBe("Exposition nord");
  });
});

describe("what the API offers", () => {
  const doc = {
    paths: {
      "/api/site-searches/{search_id}/runs/{run_id}/sites": { get: { parameters: [] } },
      "/api/site-searches/{search_id}/runs/{run_id}/export": {
        get: { parameters: [{ name: "format", in: "query", schema: { $ref: "#/components/schemas/ExportFormat" } }] },
      },
      "/api/site-searches/{search_id}/runs/{run_id}/cancel": { post: {} },
    },
    components: { schemas: { ExportFormat: { enum: ["gpkg", "geojson", "kml", "csv"] } } },
  };
  it("lists the export formats of the run's export route", () => {
    expect(exportLinks(doc, 3, 11)).toEqual([
      { format: "gpkg", label: "GeoPackage", href: "/api/site-searches/3/runs/11/export?format=gpkg" },
      { format: "geojson", label: "GeoJSON", href: "/api/site-searches/3/runs/11/export?format=geojson" },
      { format: "kml", label: "KML", href: "/api/site-searches/3/runs/11/export?format=kml" },
      { format: "csv", label: "CSV", href: "/api/site-searches/3/runs/11/export?format=csv" },
    ]);
  });
  it("reads a format in the path, or a file extension", () => {
    const byPath = {
      paths: {
        "/api/site-searches/{id}/runs/{run}/sites.{fmt}": {
          get: { parameters: [{ name: "fmt", in: "path", schema: { anyOf: [{ enum: ["csv"] }, { enum: ["kml"] }] } }] },
        },
        "/api/site-searches/{id}/runs/{run}/sites.gpkg": { get: {} },
      },
    };
    expect(exportLinks(byPath, 1, 2).map((x) => x.href)).toEqual([
      "/api/site-searches/1/runs/2/sites.csv",
      "/api/site-searches/1/runs/2/sites.kml",
      "/api/site-searches/1/runs/2/sites.gpkg",
    ]);
  });
  it("offers nothing the API does not have", () => {
    expect(exportLinks({ paths: { "/api/site-searches/{a}/runs/{b}/sites": { get: {} } } }, 1, 2)).toEqual([]);
    expect(exportLinks(undefined, 1, 2)).toEqual([]);
    expect(cancelPath({ paths: {} }, 1, 2)).toBeNull();
    expect(cancelPath(doc, 3, 11)).toBe("/api/site-searches/3/runs/11/cancel");
  });
});

describe("Créer les leads", () => {
  it("lists the leads made and the sites skipped with their reason", () => {
    const out = leadsOutcome({
      created: [{ rank: 1, lead_id: 812, internal_name: "69-114-0001" }],
      skipped: [
        { rank: 2, reason: "parcels_in_active_lead", detail: "in lead 5", parcel_ids: ["69114000AB0001"] },
        { rank: 3, reason: "already_lead", detail: "site 3 is lead 9", lead_id: 9 },
        { rank: 4, reason: "refused", detail: "geometry is not valid" },
      ],
      enrichment_job_id: 41,
    });
    expect(out.created).toHaveLength(1);
    expect(out.skipped).toEqual([
      { rank: 2, reason: "parcelle déjà dans un lead ouvert : 69114000AB0001" },
      { rank: 3, reason: "site déjà transformé en lead" },
      { rank: 4, reason: "refusé par les règles de création des leads" },
    ]);
    expect(out.refused).toBeNull();
    expect(out.jobId).toBe(41);
  });
  it("explains a 409: nothing made, each site's reason", () => {
    const err = new ApiError(409, {
      title: "Conflict",
      detail: "2 parcels of these sites are now in an open lead",
      conflicts: [{ rank: 4, parcel_ids: ["A", "B", "C", "D"] }],
      ranks: [2],
    });
    const out = leadsOutcome(null, err);
    expect(out.created).toEqual([]);
    expect(out.refused).toBe("Aucun lead créé : le serveur refuse la demande entière (voir les sites ci-dessous).");
    expect(out.skipped).toEqual([
      { rank: 2, reason: "site déjà transformé en lead" },
      { rank: 4, reason: "parcelles déjà dans un lead ouvert : A, B, C…" },
    ]);
  });
});

describe("territory", () => {
  it("offers communes found, their départements and codes typed as is", () => {
    const hits = [{ kind: "commune", id: "69264", label: "Villefranche-sur-Saône (69264)", bbox: [4.6, 45.9, 4.8, 46.0] as [number, number, number, number] }];
    expect(territoryOptions("69114", []).map((o) => o.label)).toEqual(["Commune 69114 (code INSEE)"]);
    expect(territoryOptions("69", hits).map((o) => `${o.kind}:${o.code}`)).toEqual(["departement:69", "commune:69264"]);
    expect(territoryOptions("Villef", hits).map((o) => `${o.kind}:${o.code}`)).toEqual(["commune:69264", "departement:69"]);
    expect(territoryOptions("2A", []).map((o) => o.code)).toEqual(["2A"]);
  });
  it("closes a drawn polygon and names territories", () => {
    expect(polygonOf([[1, 1], [2, 1]])).toBeNull();
    const p = polygonOf([[1, 1], [2, 1], [2, 2]]);
    expect(p?.coordinates[0]).toEqual([[1, 1], [2, 1], [2, 2], [1, 1]]);
    expect(territoryLabel({ polygon: p })).toBe("Polygone dessiné (3 sommets)");
    expect(territoryLabel({ communes: ["69114"] }, { "69114": "Terres-de-Bord" })).toBe("Commune Terres-de-Bord (69114)");
    expect(territoryLabel({ departements: ["69", "01"] })).toBe("Départements 69, 01");
    expect(defaultSearchName({ communes: ["69114"] }, {}, new Date(2026, 11, 6))).toBe("Commune 69114 — 06/12/2026");
  });
});
