// The Prospection page's logic, free of React: the criteria form, sorting, run progress, exports,
// the answer of "Créer les leads", territory labels. Tested in logic.test.ts.
import { ApiError } from "../../api/client";
import type { Criteria, LeadFromSite, LeadsFromSitesOut, Poste, Run, Site, Territory } from "../../api/siteSearches";
import { num } from "../../lib/format";

// ---------------------------------------------------------------- numbers typed the French way

/** A number typed in French ("2,5", "1 000", "5000") → 2.5, 1000, 5000; NaN when not a number,
 * null when empty. */
export function parseDecimal(text: string): number | null {
  const t = text.replace(/[\s\u00a0\u202f]/g, "").replace(",", ".");
  if (t === "") return null;
  if (!/^-?(\d+\.?\d*|\.\d+)$/.test(t)) return Number.NaN;
  return Number(t);
}

/** A number as the form shows it ("2,5"; no grouping, so it reads back). */
export function formatDecimal(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "";
  return String(n).replace(".", ",");
}

// ---------------------------------------------------------------- the criteria form

/** The criteria with the terrain and yield ones (docs/site-finder.md); optional: a search saved
 * before them has none, and the server's defaults then apply. */
export type SearchCriteria = Criteria & {
  max_slope_pct?: number | null;
  max_north_share?: number | null;
  min_specific_yield?: number | null;
};

export interface CriteriaForm {
  gap_m: string;
  min_buildable_on: boolean;
  min_buildable_ha: string;
  max_poste_on: boolean;
  max_poste_distance_m: string;
  capacity_mode: "site" | "mw" | "off";
  capacity_mw: string;
  zones: Record<string, { on: boolean; buffer: string }>;
  plu_on: boolean;
  plu_types: string[];
  plu_labels: string;
  plu_unknown_passes: boolean;
  exclude_active_leads: boolean;
  slope_on: boolean;
  max_slope_pct: string;
  north_on: boolean;
  max_north_share: string;
  yield_on: boolean;
  min_specific_yield: string;
}

/** The buffer a zone type gets when ticked without one of its own (the default of the others). */
function defaultBuffer(c: Criteria): number {
  const values = Object.values(c.excluded_zones ?? {});
  return values.length ? values[0] : 50;
}

/** The form showing some criteria (the server's defaults, or a saved search's). */
export function formFromCriteria(c: SearchCriteria, zoneTypes: string[], defaults?: SearchCriteria): CriteriaForm {
  const fallback = defaults ?? c;
  const zones: CriteriaForm["zones"] = {};
  const types = [...new Set([...zoneTypes, ...Object.keys(c.excluded_zones ?? {})])];
  for (const t of types) {
    const on = c.excluded_zones != null && t in c.excluded_zones;
    const buffer = on ? c.excluded_zones![t] : (fallback.excluded_zones?.[t] ?? defaultBuffer(fallback));
    zones[t] = { on, buffer: formatDecimal(buffer) };
  }
  return {
    gap_m: formatDecimal(c.gap_m),
    min_buildable_on: c.min_buildable_ha != null,
    min_buildable_ha: formatDecimal(c.min_buildable_ha ?? fallback.min_buildable_ha ?? 5),
    max_poste_on: c.max_poste_distance_m != null,
    max_poste_distance_m: formatDecimal(c.max_poste_distance_m ?? fallback.max_poste_distance_m ?? 5000),
    capacity_mode: c.min_capacity_mw === "site" ? "site" : c.min_capacity_mw == null ? "off" : "mw",
    capacity_mw: typeof c.min_capacity_mw === "number" ? formatDecimal(c.min_capacity_mw) : "",
    zones,
    plu_on: c.plu_allowed_types != null,
    plu_types: c.plu_allowed_types ?? fallback.plu_allowed_types ?? [],
    plu_labels: (c.plu_allowed_labels ?? []).join(", "),
    plu_unknown_passes: c.plu_unknown_passes,
    exclude_active_leads: c.exclude_active_leads,
    // Absent (a search saved before the terrain criteria): the server applies its default.
    slope_on: c.max_slope_pct !== null,
    max_slope_pct: formatDecimal(c.max_slope_pct ?? fallback.max_slope_pct ?? 15),
    north_on: c.max_north_share !== null,
    max_north_share: formatDecimal(c.max_north_share ?? fallback.max_north_share ?? 50),
    yield_on: c.min_specific_yield !== null,
    min_specific_yield: formatDecimal(c.min_specific_yield ?? fallback.min_specific_yield ?? 1100),
  };
}

export type FormErrors = Partial<Record<string, string>>;

function bounded(
  errors: FormErrors,
  key: string,
  text: string,
  lo: number,
  hi: number,
  opts: { exclusiveLo?: boolean } = {},
): number {
  const n = parseDecimal(text);
  if (n === null || Number.isNaN(n)) {
    errors[key] = "Saisir un nombre";
    return 0;
  }
  const tooLow = opts.exclusiveLo ? n <= lo : n < lo;
  if (tooLow || n > hi) errors[key] = `Entre ${num(lo)} et ${num(hi)}`;
  return n;
}

/** The criteria the form says, or the errors to show beside its fields (the server's bounds). */
export function criteriaFromForm(f: CriteriaForm): { criteria: SearchCriteria; errors: FormErrors } {
  const errors: FormErrors = {};
  const gap = bounded(errors, "gap_m", f.gap_m, 0, 50);
  const minHa = f.min_buildable_on ? bounded(errors, "min_buildable_ha", f.min_buildable_ha, 0, 10_000) : null;
  const maxPoste = f.max_poste_on
    ? bounded(errors, "max_poste_distance_m", f.max_poste_distance_m, 0, 30_000, { exclusiveLo: true })
    : null;
  let capacity: Criteria["min_capacity_mw"] = null;
  if (f.capacity_mode === "site") capacity = "site";
  else if (f.capacity_mode === "mw") capacity = bounded(errors, "capacity_mw", f.capacity_mw, 0, 10_000);
  const zones: Record<string, number> = {};
  for (const [t, z] of Object.entries(f.zones)) {
    if (z.on) zones[t] = bounded(errors, `zone_${t}`, z.buffer, 0, 1000);
  }
  const maxSlope = f.slope_on ? bounded(errors, "max_slope_pct", f.max_slope_pct, 0, 100) : null;
  const maxNorth = f.north_on ? bounded(errors, "max_north_share", f.max_north_share, 0, 100) : null;
  const minYield = f.yield_on ? bounded(errors, "min_specific_yield", f.min_specific_yield, 500, 2000) : null;
  const labels = f.plu_labels
    .split(/[\s,;]+/)
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = labels.filter((l) => !/^[A-Za-z][A-Za-z0-9]{0,15}$/.test(l));
  if (bad.length) errors.plu_labels = `Secteur invalide : ${bad.join(", ")}`;
  if (f.plu_on && f.plu_types.length === 0 && labels.length === 0)
    errors.plu_types = "Cocher au moins un type de zone, ou ne pas vérifier le PLU";
  return {
    criteria: {
      gap_m: gap,
      min_buildable_ha: minHa,
      max_poste_distance_m: maxPoste,
      min_capacity_mw: capacity,
      excluded_zones: zones,
      plu_allowed_types: f.plu_on ? f.plu_types : null,
      plu_allowed_labels: labels,
      plu_unknown_passes: f.plu_unknown_passes,
      exclude_active_leads: f.exclude_active_leads,
      max_slope_pct: maxSlope,
      max_north_share: maxNorth,
      min_specific_yield: minYield,
    },
    errors,
  };
}

/** JSON with object keys sorted at every level (lists kept in order). */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object")
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(v ?? null);
}

/** Whether two criteria are the same search (key order and the order of type lists aside). */
export function sameCriteria(a: SearchCriteria, b: SearchCriteria): boolean {
  const norm = (c: SearchCriteria) =>
    canonical({
      ...c,
      plu_allowed_types: c.plu_allowed_types ? [...c.plu_allowed_types].sort() : null,
      plu_allowed_labels: [...(c.plu_allowed_labels ?? [])].sort(),
    });
  return norm(a) === norm(b);
}

// ---------------------------------------------------------------- territory

const INSEE = /^(\d{5}|2[AB]\d{3})$/;
const DEPARTEMENT = /^(\d{2}|2A|2B)$/;

/** An INSEE code typed as is ("69114"), or null. */
export function inseeOf(text: string): string | null {
  const t = text.trim().toUpperCase();
  return INSEE.test(t) ? t : null;
}

/** A département code typed as is ("69", "2A"), or null. */
export function departementOf(text: string): string | null {
  const t = text.trim().toUpperCase();
  return DEPARTEMENT.test(t) ? t : null;
}

/** The département of a metropolitan commune code. */
export function departementOfInsee(insee: string): string {
  return insee.slice(0, 2);
}

/** A GeoJSON Polygon from the points clicked (closed), or null under three points. */
export function polygonOf(points: [number, number][]): { type: "Polygon"; coordinates: [number, number][][] } | null {
  if (points.length < 3) return null;
  return { type: "Polygon", coordinates: [[...points, points[0]]] };
}

/** A territory in words. */
export function territoryLabel(t: Territory, names: Record<string, string> = {}): string {
  if (t.communes?.length) {
    const list = t.communes.map((c) => (names[c] ? `${names[c]} (${c})` : c));
    return `${t.communes.length > 1 ? "Communes" : "Commune"} ${list.join(", ")}`;
  }
  if (t.departements?.length)
    return `${t.departements.length > 1 ? "Départements" : "Département"} ${t.departements.join(", ")}`;
  if (t.polygon) {
    const ring = ((t.polygon.coordinates as number[][][]) ?? [[]])[0] ?? [];
    return t.polygon.type === "Polygon" ? `Polygone dessiné (${Math.max(ring.length - 1, 0)} sommets)` : "Polygone dessiné";
  }
  return "Aucun territoire";
}

/** A search's default name: its territory and the day. */
export function defaultSearchName(t: Territory, names: Record<string, string>, now = new Date()): string {
  return `${territoryLabel(t, names)} — ${now.toLocaleDateString("fr-FR")}`.slice(0, 200);
}

// ---------------------------------------------------------------- sites: sorting and labels

export type SortKey = "rank" | "score" | "buildable_m2" | "area_m2" | "parcels" | "poste_distance" | "completeness";
export type SortDir = "asc" | "desc";

/** The direction a column sorts first: best first (rank and distance ascending, the rest descending). */
export function firstDir(key: SortKey): SortDir {
  return key === "rank" || key === "poste_distance" ? "asc" : "desc";
}

function sortValue(s: Site, key: SortKey): number | null {
  switch (key) {
    case "rank":
      return s.rank;
    case "score":
      return s.score;
    case "buildable_m2":
      return s.buildable_m2;
    case "area_m2":
      return s.area_m2;
    case "parcels":
      return s.facts.parcel_count ?? s.parcel_ids.length;
    case "poste_distance":
      return posteOf(s).poste?.distance_m ?? null; // as the table shows it
    case "completeness":
      return s.completeness;
  }
}

/** Sites sorted by a column (missing values last either way; ties by rank). */
export function sortSites(sites: Site[], key: SortKey, dir: SortDir): Site[] {
  const sign = dir === "asc" ? 1 : -1;
  return [...sites].sort((a, b) => {
    const va = sortValue(a, key);
    const vb = sortValue(b, key);
    if (va === null && vb !== null) return 1;
    if (vb === null && va !== null) return -1;
    if (va !== null && vb !== null && va !== vb) return (va - vb) * sign;
    return a.rank - b.rank;
  });
}

/** What a site says of its poste: the chosen one; without one, why (the criterion off: the
 * nearest, said so; no data there: "données absentes"; none in range otherwise). */
export function posteOf(s: Site): { poste: Poste | null; note: string | null } {
  if (s.facts.chosen_poste) return { poste: s.facts.chosen_poste, note: null };
  const verdict = s.facts.verdicts?.poste?.verdict;
  const nearest = [...(s.facts.postes ?? [])].sort((a, b) => (a.distance_m ?? Infinity) - (b.distance_m ?? Infinity))[0] ?? null;
  if (verdict === "off") return { poste: nearest, note: nearest ? "le plus proche (critère non appliqué)" : "critère non appliqué" };
  if (verdict === "absent") return { poste: null, note: "données absentes" };
  return { poste: null, note: "aucun poste à portée" };
}

export type Terrain = { mean_slope_pct?: number | null; north_share_pct?: number | null; cellsize_m?: number | null };

/** The terrain's figures in words; null (no terrain model under the site) is "données absentes". */
export function terrainText(t: Terrain | null): string {
  if (!t || t.mean_slope_pct == null) return "données absentes";
  const north = t.north_share_pct != null ? `, ${num(t.north_share_pct)} % exposé au nord` : "";
  const cell = t.cellsize_m != null ? ` (maille ${num(t.cellsize_m)} m)` : "";
  return `pente moyenne ${num(t.mean_slope_pct, 1)} %${north}${cell}`;
}

export const VERDICT_LABEL: Record<string, string> = {
  pass: "respecté",
  absent: "données absentes",
  off: "non appliqué",
};

export const VERDICT_CRITERION: Record<string, string> = {
  min_buildable_area: "Surface constructible",
  poste: "Poste source",
  excluded_zones: "Zones exclues",
  plu: "Urbanisme (PLU)",
  active_leads: "Leads en cours",
  slope: "Pente",
  north_share: "Exposition nord",
  yield: "Productible",
};

/** The run's counts in French, in the order a run applies them. */
export const COUNT_LABEL: [string, string][] = [
  ["parcels_scanned", "parcelles examinées"],
  ["parcels_in_active_leads", "parcelles déjà dans un lead ouvert"],
  ["parcels_plu_not_allowed", "parcelles refusées par le PLU"],
  ["sites_found", "sites assemblés"],
  ["removed_min_buildable_area", "sites sous la surface minimale"],
  ["removed_poste_distance", "sites sans poste source assez proche"],
  ["removed_poste_capacity", "sites sans capacité suffisante au poste"],
  ["removed_yield", "sites sous le productible minimal"],
  ["removed_slope", "sites trop pentus"],
  ["removed_north_share", "sites trop exposés au nord"],
  ["sites_kept", "sites retenus"],
];

/** What removed the most, for a run that kept nothing: its reasons by count, largest first,
 * each with the criterion to loosen ("16 sites sous la surface minimale : la baisser"). */
export function mainReasons(counts: Record<string, number> | null | undefined): string[] {
  if (!counts) return [];
  const loosen: [string, string][] = [
    ["removed_min_buildable_area", "sites sous la surface minimale : la baisser"],
    ["removed_poste_distance", "sites sans poste source assez proche : allonger la distance"],
    ["removed_poste_capacity", "sites sans capacité suffisante au poste : « peu importe » ou un seuil en MW"],
    ["removed_yield", "sites sous le productible minimal : le baisser"],
    ["removed_slope", "sites trop pentus : relever la pente maximale"],
    ["removed_north_share", "sites trop exposés au nord : relever la part exposée au nord admise"],
    ["parcels_plu_not_allowed", "parcelles refusées par le PLU : admettre d'autres zones"],
    ["parcels_in_active_leads", "parcelles déjà dans un lead ouvert"],
  ];
  return loosen
    .filter(([k]) => (counts[k] ?? 0) > 0)
    .sort(([a], [b]) => counts[b] - counts[a])
    .map(([k, text]) => `${num(counts[k])} ${text}`);
}

/** A FeatureCollection of sites (for the map and the GeoJSON download). */
export function sitesGeoJSON(sites: Site[], selected: Set<number> = new Set(), focused: number | null = null) {
  return {
    type: "FeatureCollection" as const,
    features: sites
      .filter((s) => s.geometry)
      .map((s) => ({
        type: "Feature" as const,
        id: s.rank,
        geometry: s.geometry!,
        properties: {
          rank: s.rank,
          score: s.score,
          buildable_m2: s.buildable_m2,
          area_m2: s.area_m2,
          parcel_count: s.facts.parcel_count ?? s.parcel_ids.length,
          poste: s.facts.chosen_poste?.name ?? null,
          poste_distance_m: s.facts.chosen_poste?.distance_m ?? null,
          completeness: s.completeness,
          lead_id: s.lead_id,
          selected: selected.has(s.rank),
          focused: focused === s.rank,
        },
      })),
  };
}

/** [west, south, east, north] of some sites' geometries, or null. */
export function boundsOf(sites: Site[]): [number, number, number, number] | null {
  let w = Infinity;
  let s = Infinity;
  let e = -Infinity;
  let n = -Infinity;
  const visit = (c: unknown): void => {
    if (Array.isArray(c) && typeof c[0] === "number") {
      const [x, y] = c as number[];
      w = Math.min(w, x);
      e = Math.max(e, x);
      s = Math.min(s, y);
      n = Math.max(n, y);
    } else if (Array.isArray(c)) c.forEach(visit);
  };
  sites.forEach((site) => visit(site.geometry?.coordinates));
  return Number.isFinite(w) ? [w, s, e, n] : null;
}

// ---------------------------------------------------------------- runs

const FINISHED = new Set(["succeeded", "failed", "cancelled", "canceled", "aborted", "error", "done", "completed"]);

/** Whether a run is still going (queued or running): poll it. */
export function isActive(run: Run | null | undefined): boolean {
  return !!run && !FINISHED.has(run.status);
}

export const RUN_STATUS_LABEL: Record<string, string> = {
  queued: "en attente",
  pending: "en attente",
  running: "en cours",
  succeeded: "terminée",
  failed: "échouée",
  cancelled: "annulée",
  canceled: "annulée",
  cancelling: "annulation…",
};

/** What a progress bar shows for a run: a percentage when the server gives one (background runs),
 * null for an indeterminate bar; the parcels scanned and sites found so far. */
export function progressOf(run: Run | null | undefined): {
  percent: number | null;
  parcels: number | null;
  sites: number | null;
} {
  if (!run) return { percent: null, parcels: null, sites: null };
  const p = run.progress ?? {};
  const pick = (...xs: unknown[]) => {
    for (const x of xs) if (typeof x === "number" && Number.isFinite(x)) return x;
    return null;
  };
  let percent = pick(p.percent, p.percentage, run.percent);
  const fraction = pick(p.fraction);
  if (percent === null && fraction !== null) percent = fraction * 100;
  if (percent === null) {
    const done = pick(p.chunks_done, p.done);
    const total = pick(p.chunks_total, p.total);
    if (done !== null && total) percent = (done / total) * 100;
  }
  if (percent === null && !isActive(run)) percent = 100;
  return {
    percent: percent === null ? null : Math.max(0, Math.min(100, percent)),
    parcels: pick(p.parcels_scanned, run.counts?.parcels_scanned),
    sites: pick(p.sites_found, run.counts?.sites_found),
  };
}

// ---------------------------------------------------------------- exports and cancel, as the API offers them

type OpenApi = { paths?: Record<string, Record<string, unknown>>; components?: { schemas?: Record<string, unknown> } };

const RUN_PATH = /^\/api\/site-searches\/\{[^}]+\}\/runs\/\{[^}]+\}\/(.+)$/;

export const FORMAT_LABEL: Record<string, string> = {
  gpkg: "GeoPackage",
  geopackage: "GeoPackage",
  geojson: "GeoJSON",
  kml: "KML",
  csv: "CSV",
};

function resolve(doc: OpenApi, schema: unknown): Record<string, unknown> {
  let s = (schema ?? {}) as Record<string, unknown>;
  for (let i = 0; i < 5 && typeof s.$ref === "string"; i++) {
    const name = (s.$ref as string).split("/").pop() ?? "";
    s = (doc.components?.schemas?.[name] ?? {}) as Record<string, unknown>;
  }
  return s;
}

function enumOf(doc: OpenApi, schema: unknown): string[] {
  const s = resolve(doc, schema);
  if (Array.isArray(s.enum)) return s.enum.map(String);
  for (const key of ["anyOf", "oneOf", "allOf"]) {
    if (Array.isArray(s[key])) {
      const values = (s[key] as unknown[]).flatMap((x) => enumOf(doc, x));
      if (values.length) return values;
    }
  }
  return [];
}

function fill(template: string, searchId: number, runId: number): string {
  let i = 0;
  return template.replace(/\{[^}]+\}/g, () => String(i++ === 0 ? searchId : runId));
}

/** The run's export downloads the API describes (a path under the run with "export" or a file
 * extension, its format from a path or query parameter's enum); none when it has none. */
export function exportLinks(doc: OpenApi | undefined, searchId: number, runId: number): { label: string; href: string; format: string }[] {
  const out: { label: string; href: string; format: string }[] = [];
  for (const [path, methods] of Object.entries(doc?.paths ?? {})) {
    const m = RUN_PATH.exec(path);
    const get = methods.get as { parameters?: { name: string; in: string; schema?: unknown }[] } | undefined;
    if (!m || !get) continue;
    const rest = m[1];
    const ext = /\.([a-z0-9]+)$/i.exec(rest);
    if (!/export/i.test(rest) && !ext && !/\.\{[^}]+\}$/.test(rest)) continue;
    const params = get.parameters ?? [];
    const pathParams = [...rest.matchAll(/\{([^}]+)\}/g)].map((x) => x[1]);
    const prefix = fill(path.slice(0, path.length - rest.length), searchId, runId);
    if (pathParams.length === 1) {
      const p = params.find((x) => x.in === "path" && x.name === pathParams[0]);
      for (const f of enumOf(doc!, p?.schema))
        out.push({ format: f, label: FORMAT_LABEL[f] ?? f.toUpperCase(), href: prefix + rest.replace(/\{[^}]+\}/, f) });
      continue;
    }
    if (pathParams.length > 1) continue;
    const q = params.find((x) => x.in === "query" && /^(format|f)$/.test(x.name));
    const formats = q ? enumOf(doc!, q.schema) : [];
    if (formats.length) {
      for (const f of formats)
        out.push({ format: f, label: FORMAT_LABEL[f] ?? f.toUpperCase(), href: `${prefix}${rest}?${q!.name}=${encodeURIComponent(f)}` });
    } else if (ext) {
      const f = ext[1].toLowerCase();
      out.push({ format: f, label: FORMAT_LABEL[f] ?? f.toUpperCase(), href: prefix + rest });
    }
  }
  return out;
}

/** The run's cancel route if the API has one (POST …/runs/{id}/cancel), else null. */
export function cancelPath(doc: OpenApi | undefined, searchId: number, runId: number): string | null {
  for (const [path, methods] of Object.entries(doc?.paths ?? {})) {
    const m = RUN_PATH.exec(path);
    if (m && m[1] === "cancel" && methods.post) return fill(path, searchId, runId);
  }
  return null;
}

// ---------------------------------------------------------------- "Créer les leads"

export interface LeadsOutcome {
  created: LeadFromSite[];
  skipped: { rank: number; reason: string }[];
  /** Why nothing was created (the server refused the whole request), or null. */
  refused: string | null;
  jobId: number | null;
}

function parcelsReason(ids: string[] | undefined): string {
  if (!ids?.length) return "parcelles déjà dans un lead ouvert";
  const shown = ids.slice(0, 3).join(", ");
  return `${ids.length > 1 ? "parcelles déjà dans un lead ouvert" : "parcelle déjà dans un lead ouvert"} : ${shown}${ids.length > 3 ? "…" : ""}`;
}

/** A skipped site's reason in French, from the API's reason code. */
export function skipReason(s: { reason?: string; detail?: string; parcel_ids?: string[] | null }): string {
  if (s.reason === "already_lead") return "site déjà transformé en lead";
  if (s.reason === "parcels_in_active_lead") return parcelsReason(s.parcel_ids ?? undefined);
  // The leads' own refusal: its detail is the API's English, never shown (lib/problems.ts).
  if (s.reason === "refused") return "refusé par les règles de création des leads";
  return parcelsReason(s.parcel_ids ?? undefined);
}

/** What "Créer les leads" did: the leads made, and each site left out with its reason — from the
 * server's answer, or from its 409 (nothing made). */
export function leadsOutcome(answer: LeadsFromSitesOut | null, error?: unknown): LeadsOutcome {
  if (answer) {
    return {
      created: answer.created ?? [],
      skipped: (answer.skipped ?? []).map((s) => ({ rank: s.rank, reason: skipReason(s) })),
      refused: null,
      jobId: answer.enrichment_job_id ?? null,
    };
  }
  const skipped: LeadsOutcome["skipped"] = [];
  let refused = error instanceof Error ? error.message : String(error ?? "Erreur");
  if (error instanceof ApiError) {
    const body = error.body as { conflicts?: { rank: number; parcel_ids?: string[] }[]; ranks?: number[] };
    for (const c of body.conflicts ?? []) skipped.push({ rank: c.rank, reason: parcelsReason(c.parcel_ids) });
    for (const r of body.ranks ?? []) skipped.push({ rank: r, reason: "site déjà transformé en lead" });
    if (error.status === 409) refused = "Aucun lead créé : le serveur refuse la demande entière (voir les sites ci-dessous).";
  }
  return { created: [], skipped: skipped.sort((a, b) => a.rank - b.rank), refused, jobId: null };
}
