// The explorer's view in the URL (?lat=&lon=&z=&layers=), so a view can be shared.
import type { LayerKey } from "../../components/map/style";

export interface MapView {
  lat: number;
  lon: number;
  zoom: number;
  layers: LayerKey[];
}

// The demo area (commune 69114, Beaujolais): the default view (its layers: the registry's visible ones).
export const DEFAULT_VIEW: MapView = { lat: 45.963, lon: 4.651, zoom: 14, layers: [] };

/** Read a view from search params, falling back to the default for missing or bad values; layers
 * are kept when ``known`` (the server's map layers) has them, ``defaults`` when none is given. */
export function parseView(params: URLSearchParams, known: LayerKey[] = [], defaults: LayerKey[] = []): MapView {
  const num = (key: string, min: number, max: number, fallback: number) => {
    const raw = params.get(key);
    const v = raw === null ? NaN : Number(raw);
    return Number.isFinite(v) && v >= min && v <= max ? v : fallback;
  };
  const layersParam = params.get("layers");
  const layers = layersParam ? layersParam.split(",").filter((l) => known.includes(l)) : defaults;
  return {
    lat: num("lat", -90, 90, DEFAULT_VIEW.lat),
    lon: num("lon", -180, 180, DEFAULT_VIEW.lon),
    zoom: num("z", 0, 22, DEFAULT_VIEW.zoom),
    layers,
  };
}

/** Search params of a view (5 decimals ≈ 1 m). */
export function formatView(view: MapView): URLSearchParams {
  const p = new URLSearchParams();
  p.set("lat", view.lat.toFixed(5));
  p.set("lon", view.lon.toFixed(5));
  p.set("z", view.zoom.toFixed(2));
  p.set("layers", view.layers.join(","));
  return p;
}
