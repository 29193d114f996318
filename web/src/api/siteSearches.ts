// The site finder's API ("Prospection"): saved searches, their runs, the ranked sites, sites → leads.
// Types are written here (not in the generated schema.d.ts) so the page builds before and after the
// API's runs become background jobs: a run's start answers 201/200 (finished) or 202 (poll it).
import { useQuery } from "@tanstack/react-query";
import { api, apiResponse, withQuery } from "./client";
import type { CriterionInfo } from "./reference";
import type { Geometry } from "./types";

export interface Territory {
  communes?: string[] | null;
  departements?: string[] | null;
  polygon?: Geometry | null;
}

/** The criteria as the API takes them; null switches a criterion off. */
export interface Criteria {
  gap_m: number;
  min_buildable_ha: number | null;
  max_poste_distance_m: number | null;
  min_capacity_mw: number | "site" | null;
  excluded_zones: Record<string, number> | null;
  plu_allowed_types: string[] | null;
  plu_allowed_labels: string[];
  plu_unknown_passes: boolean;
  exclude_active_leads: boolean;
}

export interface SearchDefaults {
  criteria: Criteria;
  zone_types: string[];
  plu_types: string[];
  max_communes: number;
  max_departements: number;
  max_ranks: number;
  max_results: number;
  /** What a site's score is made of: the leads' criteria and the site-only ones (terrain). */
  score_criteria?: CriterionInfo[];
}

export interface SiteSearch {
  id: number;
  name: string;
  owner_id: number | null;
  territory: Territory;
  criteria: Criteria;
  created_at: string;
  updated_at: string;
}

/** A run. `progress` (and the statuses besides succeeded/failed) come with background runs. */
export interface Run {
  id: number;
  search_id: number;
  status: string;
  territory: Territory;
  criteria: Criteria;
  counts: Record<string, number> | null;
  coverage: Record<string, string> | null;
  messages: string[] | null;
  error: string | null;
  started_at: string;
  finished_at: string | null;
  progress?: Record<string, number | null> | null;
  percent?: number | null;
}

export interface Poste {
  id: number;
  code?: string | null;
  name?: string | null;
  distance_m?: number | null;
  capacity_available_mw?: number | null;
  quote_part_eur_kw?: number | null;
  data_date?: string | null;
}

export interface Verdict {
  verdict: "pass" | "absent" | "off" | string;
  reason?: string;
}

export interface BreakdownItem {
  value?: number;
  weight?: number;
  points?: number;
  reason?: string;
  data?: string;
}

export interface SiteFacts {
  parcel_count?: number;
  estimated_mwc?: number;
  need_mw?: number;
  over_cap?: boolean;
  postes?: Poste[];
  chosen_poste?: Poste | null;
  excluded_zones?: { type?: string; name?: string; buffer_m?: number }[];
  verdicts?: Record<string, Verdict>;
  breakdown?: Record<string, BreakdownItem>;
  [key: string]: unknown;
}

export interface Site {
  id: number;
  rank: number;
  parcel_ids: string[];
  area_m2: number;
  buildable_m2: number;
  score: number;
  completeness: number;
  facts: SiteFacts;
  lead_id: number | null;
  geometry?: Geometry | null;
}

export interface SitePage {
  items: Site[];
  total: number;
  page: number;
  page_size: number;
}

export interface LeadFromSite {
  rank: number;
  lead_id: number;
  internal_name: string;
}

export interface LeadsFromSitesOut {
  created: LeadFromSite[];
  /** Sites left out, with the reason's code (already_lead, parcels_in_active_lead, refused). */
  skipped?: { rank: number; reason?: string; detail?: string; parcel_ids?: string[] | null; lead_id?: number | null }[];
  enrichment_job_id?: number | null;
}

const base = "/api/site-searches";

export const siteSearchKeys = {
  all: ["site-searches"] as const,
  list: () => [...siteSearchKeys.all, "list"] as const,
  defaults: () => [...siteSearchKeys.all, "defaults"] as const,
  runs: (searchId: number) => [...siteSearchKeys.all, searchId, "runs"] as const,
  run: (url: string) => [...siteSearchKeys.all, "run", url] as const,
  sites: (searchId: number, runId: number) => [...siteSearchKeys.all, searchId, "runs", runId, "sites"] as const,
};

/** The URL of a run (where its status is polled). */
export function runUrl(searchId: number, runId: number): string {
  return `${base}/${searchId}/runs/${runId}`;
}

/** The criteria's defaults and the zone/PLU types the form offers. */
export function useSearchDefaults() {
  return useQuery({
    queryKey: siteSearchKeys.defaults(),
    queryFn: () => api<SearchDefaults>(`${base}/defaults`),
    staleTime: Infinity,
  });
}

/** The caller's searches (all of them for MANAGER/ADMIN), newest first. */
export function useSiteSearches() {
  return useQuery({
    queryKey: siteSearchKeys.list(),
    queryFn: () => api<{ items: SiteSearch[] }>(base),
  });
}

/** A search's runs, newest first. */
export function useRuns(searchId: number | null) {
  return useQuery({
    queryKey: siteSearchKeys.runs(searchId ?? 0),
    queryFn: () => api<Run[]>(`${base}/${searchId}/runs`),
    enabled: searchId != null,
  });
}

/** How often to ask a running run: every 300 ms for its first 5 s (a commune takes about a
 * second, so the page shows it done at once), then every second. */
export function pollInterval(run: Run | undefined, now = Date.now()): number {
  const started = run ? Date.parse(run.started_at) : NaN;
  return Number.isFinite(started) && now - started > 5_000 ? 1_000 : 300;
}

/** One run, polled while `poll` says it is still going. */
export function useRun(url: string | null, poll: (run: Run | undefined) => boolean) {
  return useQuery({
    queryKey: siteSearchKeys.run(url ?? ""),
    queryFn: () => api<Run>(url ?? ""),
    enabled: !!url,
    // A finished run does not change: the synchronous answer put in the cache is not asked again.
    staleTime: (q) => (poll(q.state.data) ? 0 : Infinity),
    refetchInterval: (q) => (poll(q.state.data) ? pollInterval(q.state.data) : false),
  });
}

/** All the sites of a run (a run keeps at most a few hundred) with their geometry. */
export function useSites(searchId: number | null, runId: number | null, enabled = true) {
  return useQuery({
    queryKey: siteSearchKeys.sites(searchId ?? 0, runId ?? 0),
    queryFn: () =>
      api<SitePage>(
        withQuery(`${base}/${searchId}/runs/${runId}/sites`, { page: 1, page_size: 200, geometry: true }),
      ),
    enabled: enabled && searchId != null && runId != null,
  });
}

/** The API's OpenAPI description (exports and cancellation are offered only where it has them). */
export function useOpenApi() {
  return useQuery({
    queryKey: ["openapi"],
    queryFn: () =>
      api<{ paths?: Record<string, Record<string, unknown>>; components?: { schemas?: Record<string, unknown> } }>(
        "/api/openapi.json",
      ),
    staleTime: Infinity,
    retry: false,
  });
}

export function createSearch(body: { name: string; territory: Territory; criteria: Criteria }) {
  return api<SiteSearch>(base, { method: "POST", body });
}

export function updateSearch(id: number, body: { name?: string; territory?: Territory; criteria?: Criteria }) {
  return api<SiteSearch>(`${base}/${id}`, { method: "PATCH", body });
}

/** How a run started: finished already (201/200, synchronous) or to be polled at `url` (202). */
export interface RunStart {
  status: number;
  url: string | null;
  run: Run | null;
}

/** Start a run of a search. */
export async function startRun(searchId: number): Promise<RunStart> {
  const res = await apiResponse(`${base}/${searchId}/runs`, { method: "POST" });
  let body: unknown = null;
  if (res.status !== 204) body = await res.json().catch(() => null);
  const run = body && typeof body === "object" && "status" in body && "id" in body ? (body as Run) : null;
  const location = res.headers.get("location");
  const url = location ?? (run ? runUrl(searchId, run.id) : null);
  return { status: res.status, url, run };
}

/** Ask the server to cancel a run (only where the API has the route). */
export function cancelRun(path: string) {
  return api<unknown>(path, { method: "POST" });
}

/** Turn sites of a run into leads (MANAGER/ADMIN may name who gets them; OPS get them). */
export function leadsFromSites(searchId: number, runId: number, ranks: number[], assigneeId?: number | null) {
  return api<LeadsFromSitesOut>(`${base}/${searchId}/runs/${runId}/leads`, {
    method: "POST",
    body: assigneeId ? { ranks, assignee_id: assigneeId } : { ranks },
  });
}
