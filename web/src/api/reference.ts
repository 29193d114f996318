// Hooks for reference data: search, parcel facts, users, analytics.
import { useMutation, useQueries, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, withQuery } from "./client";
import type { components } from "./schema";
import type { ParcelFeature, SearchItem, UserCreate, UserOut, UserPage, UserUpdate } from "./types";

/** Communes, parcels and (with a geocoder) addresses matching a text (from 2 characters);
 * `warnings` says when the addresses could not be searched. */
export function useSearch(q: string) {
  const term = q.trim();
  return useQuery({
    queryKey: ["search", term],
    queryFn: ({ signal }) =>
      api<{ items: SearchItem[]; warnings?: { code: string; message: string }[] }>(
        withQuery("/api/reference/search", { q: term }),
        { signal },
      ),
    enabled: term.length >= 2,
    staleTime: 60_000,
  });
}

type CoverageMask = { type: "Feature"; geometry: unknown; properties: Record<string, string> };

/** Where a factor's layer has no data ("données absentes"): a GeoJSON Feature, null geometry
 * when covered everywhere. Fetched only while that layer is shown on the map; one query per
 * factor layer of the registry (MapLayerDef.factor). */
export function useCoverageMasks(layers: string[], shown: string[]) {
  return useQueries({
    queries: layers.map((layer) => ({
      queryKey: ["coverage-mask", layer],
      queryFn: () => api<CoverageMask>(withQuery("/api/reference/coverage/mask", { layer })),
      enabled: shown.includes(layer),
      staleTime: 300_000,
    })),
  });
}

/** A map layer as the server's registry declares it (tiles/layers.py): label, zoom range and
 * style hints are read from there, never repeated in the web app. */
export type MapLayerDef = components["schemas"]["MapLayer"];

/** The map's layers (GET /api/reference/map-layers), fetched once per session. */
export function useMapLayers() {
  return useQuery({
    queryKey: ["map-layers"],
    queryFn: () => api<{ items: MapLayerDef[] }>("/api/reference/map-layers"),
    staleTime: Infinity,
  });
}

/** A criterion of the quality score, as the server's registry declares it (enrichment/criteria.py). */
export type CriterionInfo = components["schemas"]["CriterionInfo"];

/** The score's criteria in display order (labels are the server's: never repeated here). */
export function useCriteria() {
  return useQuery({
    queryKey: ["criteria"],
    queryFn: () => api<{ items: CriterionInfo[] }>("/api/reference/criteria"),
    staleTime: Infinity,
  });
}

/** Facts of one parcel (GeoJSON Feature). */
export function useParcel(id: string | null) {
  return useQuery({
    queryKey: ["parcel", id],
    queryFn: () => api<ParcelFeature>(`/api/reference/parcels/${encodeURIComponent(id ?? "")}`),
    enabled: !!id,
    staleTime: 300_000,
  });
}

/** Users (ADMIN and MANAGER). */
export function useUsers(params: { role?: string; q?: string; page?: number } = {}, enabled = true) {
  return useQuery({
    queryKey: ["users", params],
    queryFn: () => api<UserPage>(withQuery("/api/users", { page_size: 200, ...params })),
    enabled,
    staleTime: 30_000,
  });
}

/** Create a user (ADMIN). */
export function useCreateUser() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: UserCreate) => api<UserOut>("/api/users", { method: "POST", body }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ["users"] }),
  });
}

/** Update a user (ADMIN). */
export function useUpdateUser() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: ({ id, ...body }: { id: number } & UserUpdate) =>
      api<UserOut>(`/api/users/${id}`, { method: "PATCH", body }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ["users"] }),
  });
}

/** One analytics series (funnel, weekly, scores, departments, stage-times, throughput). */
export function useAnalytics<T = unknown>(kind: string, params: Record<string, unknown> = {}) {
  return useQuery({
    queryKey: ["analytics", kind, params],
    queryFn: () => api<T>(withQuery(`/api/analytics/${kind}`, params)),
    staleTime: 30_000,
  });
}

/** The pipeline summary (counts per status). */
export function usePipelineSummary() {
  return useQuery({
    queryKey: ["leads", "pipeline"],
    queryFn: () => api<unknown>("/api/pipeline"),
  });
}
