// Creates a MapLibre map in a container with our style and tile authentication: the layers that
// are not public reference data (the leads) carry the tile token in their tile URLs
// (./tileToken.ts); the reference layers carry nothing, so they keep showing if it expires.
import { useEffect, useRef, useState } from "react";
import type { RefObject } from "react";
import maplibregl from "maplibre-gl";
import "maplibre-gl/dist/maplibre-gl.css";
import { getToken } from "../../api/client";
import { useMapLayers } from "../../api/reference";
import type { MapLayerDef } from "../../api/reference";
import { buildStyle, tileUrl } from "./style";
import { TileTokenControl, tileLayer, tileTokens, tileTransform, tokenOf } from "./tileToken";

export interface MapInit {
  center: [number, number];
  zoom: number;
  mapboxToken?: string | null;
  interactive?: boolean;
}

declare global {
  interface Window {
    /** The explorer map, for end-to-end tests (queryRenderedFeatures) and debugging. */
    __lfsMap?: maplibregl.Map;
  }
}

const NO_LAYERS: MapLayerDef[] = []; // one array: a new one per render would remake the map

/** A MapLibre map bound to a container; null until its style has loaded. The layers are the
 * server's (GET /api/reference/map-layers): the map is made once they are known (none if that
 * request fails: an empty map rather than layers made up here). */
export function useMap(container: RefObject<HTMLDivElement>, init: MapInit, expose = false) {
  const [map, setMap] = useState<maplibregl.Map | null>(null);
  const initRef = useRef(init);
  const mapLayers = useMapLayers();
  const defs = mapLayers.data?.items ?? (mapLayers.isError ? NO_LAYERS : null);
  // The leads' tiles need the tile token: the map waits for the first one (or its failure, then
  // the map shows "Réessayer" over the reference layers) so no tile goes out without it.
  const needsToken = defs !== null && getToken() !== null && defs.some((d) => !d.reference);
  const [tokenSettled, setTokenSettled] = useState(false);
  useEffect(() => {
    if (!needsToken) return;
    let live = true;
    void tileTokens.ensure().finally(() => live && setTokenSettled(true));
    return () => {
      live = false;
    };
  }, [needsToken]);

  useEffect(() => {
    if (!container.current || defs === null || (needsToken && !tokenSettled)) return;
    const origin = window.location.origin;
    const authed = new Set(defs.filter((d) => !d.reference).map((d) => d.name));
    const m = new maplibregl.Map({
      container: container.current,
      style: buildStyle(origin, defs, { mapboxToken: initRef.current.mapboxToken }),
      center: initRef.current.center,
      zoom: initRef.current.zoom,
      interactive: initRef.current.interactive ?? true,
      transformRequest: tileTransform(origin, authed, tileTokens),
      attributionControl: { compact: true, customAttribution: "Cadastre Etalab · INPN · Enedis/RTE" },
      dragRotate: false,
      // Shift-click selects parcels: MapLibre's shift-drag box zoom would swallow those clicks.
      boxZoom: false,
      pitchWithRotate: false,
    });
    if (initRef.current.interactive !== false) {
      m.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
      m.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
    }
    // Reload the authenticated sources' tiles (with the current token).
    const reload = () => {
      for (const name of authed) m.getSource<maplibregl.VectorTileSource>(name)?.setTiles([tileUrl(origin, name)]);
    };
    m.on("error", (e) => {
      const err = e.error as { status?: number; url?: string } | undefined;
      if (err?.status !== 401 || !err.url) return;
      const layer = tileLayer(origin, err.url);
      if (layer === null || !authed.has(layer)) return;
      void tileTokens.unauthorized(tokenOf(err.url)).then((t) => {
        if (t) reload();
      });
    });
    if (authed.size > 0) m.addControl(new TileTokenControl(tileTokens, reload), "top-left");
    m.on("load", () => setMap(m));
    if (expose) window.__lfsMap = m;
    return () => {
      if (expose && window.__lfsMap === m) delete window.__lfsMap;
      m.remove();
      setMap(null);
    };
  }, [container, expose, defs, needsToken, tokenSettled]);

  return map;
}
