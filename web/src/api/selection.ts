// The map tools' API: basemaps, a selection's constraints before it is a lead, and its export.
import { useQuery } from "@tanstack/react-query";
import { api, apiResponse } from "./client";
import type { components } from "./schema";

export type Basemap = components["schemas"]["Basemap"];
export type BasemapList = components["schemas"]["BasemapList"];
export type SelectionConstraints = components["schemas"]["SelectionConstraints"];
export type SearchWarning = components["schemas"]["SearchWarning"];

/** The basemaps the server offers (GET /api/reference/basemaps), fetched once per session; an
 * error is treated as none configured (the map says so and keeps its data layers). */
export function useBasemaps() {
  return useQuery({
    queryKey: ["basemaps"],
    queryFn: () => api<BasemapList>("/api/reference/basemaps"),
    staleTime: Infinity,
    retry: false,
  });
}

/** What the selection touches (POST /api/parcels/constraints), asked again when it changes. */
export function useConstraints(ids: string[]) {
  const key = [...ids].sort();
  return useQuery({
    queryKey: ["constraints", key],
    queryFn: ({ signal }) =>
      api<SelectionConstraints>("/api/parcels/constraints", { method: "POST", body: { parcel_ids: key }, signal }),
    enabled: key.length > 0,
    staleTime: 30_000,
  });
}

/** Download the selected parcels as a file (POST /api/parcels/export.geojson | export.kml). */
export async function downloadSelection(ids: string[], format: "geojson" | "kml"): Promise<void> {
  const res = await apiResponse(`/api/parcels/export.${format}`, {
    method: "POST",
    body: { parcel_ids: ids },
    headers: { Accept: "*/*" },
  });
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = `selection.${format}`;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
