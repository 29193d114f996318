// Creates a MapLibre map in a container with our style and tile authentication.
import { useEffect, useRef, useState } from "react";
import type { RefObject } from "react";
import maplibregl from "maplibre-gl";
import "maplibre-gl/dist/maplibre-gl.css";
import { getToken } from "../../api/client";
import { authTransform, buildStyle } from "./style";

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

/** A MapLibre map bound to a container; null until its style has loaded. */
export function useMap(container: RefObject<HTMLDivElement>, init: MapInit, expose = false) {
  const [map, setMap] = useState<maplibregl.Map | null>(null);
  const initRef = useRef(init);

  useEffect(() => {
    if (!container.current) return;
    const origin = window.location.origin;
    const m = new maplibregl.Map({
      container: container.current,
      style: buildStyle(origin, { mapboxToken: initRef.current.mapboxToken }),
      center: initRef.current.center,
      zoom: initRef.current.zoom,
      interactive: initRef.current.interactive ?? true,
      transformRequest: authTransform(origin, getToken),
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
    m.on("load", () => setMap(m));
    if (expose) window.__lfsMap = m;
    return () => {
      if (expose && window.__lfsMap === m) delete window.__lfsMap;
      m.remove();
      setMap(null);
    };
  }, [container, expose]);

  return map;
}
