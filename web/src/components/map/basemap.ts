// The basemap under our data layers: one raster source ("basemap") from the server's list
// (GET /api/reference/basemaps: the IGN Géoplateforme's Plan and orthophotos by default), put
// just above the background so every data layer stays on top. Switching replaces it.
import type maplibregl from "maplibre-gl";
import type { RasterSourceSpecification } from "maplibre-gl";
import type { Basemap } from "../../api/selection";

export const BASEMAP_ID = "basemap";

/** The MapLibre raster source of a basemap. */
export function basemapSource(b: Basemap): RasterSourceSpecification {
  return {
    type: "raster",
    tiles: [b.url],
    tileSize: b.tile_size,
    maxzoom: b.max_zoom,
    attribution: b.attribution,
  };
}

/** The first layer drawn above the basemap: the one after the background (or the first). */
export function layerAboveBasemap(layerIds: string[]): string | undefined {
  const rest = layerIds.filter((id) => id !== BASEMAP_ID);
  return rest[0] === "background" ? rest[1] : rest[0];
}

/** Show ``b`` under the data layers (null: no basemap). */
export function applyBasemap(map: maplibregl.Map, b: Basemap | null): void {
  if (map.getLayer(BASEMAP_ID)) map.removeLayer(BASEMAP_ID);
  if (map.getSource(BASEMAP_ID)) map.removeSource(BASEMAP_ID);
  if (!b) return;
  map.addSource(BASEMAP_ID, basemapSource(b));
  const before = layerAboveBasemap((map.getStyle().layers ?? []).map((l) => l.id));
  map.addLayer({ id: BASEMAP_ID, type: "raster", source: BASEMAP_ID }, before);
}
