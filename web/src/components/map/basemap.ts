// The basemap under our data layers, from the server's list (GET /api/reference/basemaps: the IGN
// Géoplateforme's Plan and orthophotos by default): a raster source ("basemap"), or a MapLibre
// style (vector tiles) whose sources and layers are added renamed "basemap:…", all put just above
// the background so every data layer stays on top. Switching replaces it.
import type maplibregl from "maplibre-gl";
import type { LayerSpecification, RasterSourceSpecification, SourceSpecification, StyleSpecification } from "maplibre-gl";
import type { Basemap } from "../../api/selection";

export const BASEMAP_ID = "basemap";

const ours = (id: string) => id === BASEMAP_ID || id.startsWith(`${BASEMAP_ID}:`);

/** The MapLibre raster source of a raster basemap. */
export function basemapSource(b: Basemap): RasterSourceSpecification {
  return {
    type: "raster",
    tiles: [b.url],
    tileSize: b.tile_size,
    maxzoom: b.max_zoom,
    attribution: b.attribution,
  };
}

/** The first layer drawn above the basemap: the first that is neither the background nor the
 * basemap's own. */
export function layerAboveBasemap(layerIds: string[]): string | undefined {
  const rest = layerIds.filter((id) => !ours(id));
  return rest[0] === "background" ? rest[1] : rest[0];
}

/** What a basemap adds to the map: sources and layers (renamed under "basemap"), and a
 * style's glyphs and sprite. */
export interface BasemapParts {
  sources: Record<string, SourceSpecification>;
  layers: LayerSpecification[];
  glyphs?: string;
  sprite?: string;
}

/** A raster basemap's parts. */
export function rasterParts(b: Basemap): BasemapParts {
  return { sources: { [BASEMAP_ID]: basemapSource(b) }, layers: [{ id: BASEMAP_ID, type: "raster", source: BASEMAP_ID }] };
}

/** A style's parts: every source and layer renamed "basemap:<id>" (layers pointing at the
 * renamed sources), its attribution kept on the sources. */
export function styleParts(style: StyleSpecification, attribution = ""): BasemapParts {
  const sources: Record<string, SourceSpecification> = {};
  for (const [id, src] of Object.entries(style.sources ?? {})) {
    const withCredit = attribution && !("attribution" in src && src.attribution) ? { ...src, attribution } : src;
    sources[`${BASEMAP_ID}:${id}`] = withCredit as SourceSpecification;
  }
  const layers = (style.layers ?? []).map((l) => {
    const renamed = { ...l, id: `${BASEMAP_ID}:${l.id}` } as LayerSpecification & { source?: string };
    if ("source" in l && typeof l.source === "string") renamed.source = `${BASEMAP_ID}:${l.source}`;
    return renamed as LayerSpecification;
  });
  return {
    sources,
    layers,
    glyphs: style.glyphs,
    sprite: typeof style.sprite === "string" ? style.sprite : undefined,
  };
}

/** Remove the basemap's layers and sources. */
export function removeBasemap(map: maplibregl.Map): void {
  const style = map.getStyle();
  for (const l of [...(style.layers ?? [])]) if (ours(l.id)) map.removeLayer(l.id);
  for (const id of Object.keys(style.sources ?? {})) if (ours(id)) map.removeSource(id);
}

/** Show a basemap's parts under the data layers (replacing the one shown). */
export function showBasemap(map: maplibregl.Map, parts: BasemapParts | null): void {
  removeBasemap(map);
  if (!parts) return;
  if (parts.glyphs) map.setGlyphs(parts.glyphs);
  if (parts.sprite) map.setSprite(parts.sprite);
  for (const [id, src] of Object.entries(parts.sources)) map.addSource(id, src);
  const before = layerAboveBasemap((map.getStyle().layers ?? []).map((l) => l.id));
  for (const layer of parts.layers) map.addLayer(layer, before);
}

/** A raster basemap at once (null: none). */
export function applyBasemap(map: maplibregl.Map, b: Basemap | null): void {
  showBasemap(map, b ? rasterParts(b) : null);
}

/** Fetch a style basemap's JSON (its URL is absolute, on an origin the CSP allows). */
export async function loadStyleParts(b: Basemap, signal?: AbortSignal): Promise<BasemapParts> {
  const res = await fetch(b.url, { signal, headers: { Accept: "application/json" } });
  if (!res.ok) throw new Error(`style ${res.status}`);
  const style = (await res.json()) as StyleSpecification;
  if (!style || style.version !== 8 || typeof style.sources !== "object" || !Array.isArray(style.layers)) {
    throw new Error("not a style");
  }
  return styleParts(style, b.attribution);
}
