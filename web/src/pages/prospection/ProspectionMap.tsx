// The Prospection map: our layers, the run's candidate sites coloured by score (click: its card,
// Shift+click: select), and polygon drawing for the territory (click to add a vertex, double-click
// or Enter to finish, Backspace to undo, Escape to cancel).
import { useEffect, useRef } from "react";
import maplibregl from "maplibre-gl";
import type { GeoJSONSource } from "maplibre-gl";
import { useMap } from "../../components/map/useMap";
import type { Site } from "../../api/siteSearches";
import type { Geometry } from "../../api/types";
import { boundsOf, sitesGeoJSON } from "./logic";

export interface MapProps {
  sites: Site[];
  selected: Set<number>;
  focused: number | null;
  onFocus: (rank: number) => void;
  onToggle: (rank: number) => void;
  drawing: boolean;
  drawPoints: [number, number][];
  onAddPoint: (p: [number, number]) => void;
  onUndoPoint: () => void;
  onFinishDrawing: () => void;
  onCancelDrawing: () => void;
  polygon: Geometry | null;
  /** Fly to these bounds when they change ([w, s, e, n]). */
  flyTo: [number, number, number, number] | null;
  mapboxToken: string | null;
}

const EMPTY = { type: "FeatureCollection" as const, features: [] };

function drawData(points: [number, number][], polygon: Geometry | null) {
  const features: unknown[] = points.map((p) => ({ type: "Feature", geometry: { type: "Point", coordinates: p }, properties: {} }));
  if (points.length > 1)
    features.push({ type: "Feature", geometry: { type: "LineString", coordinates: points }, properties: {} });
  if (polygon) features.push({ type: "Feature", geometry: polygon, properties: { territory: true } });
  return { type: "FeatureCollection", features };
}

/** The candidates' and the drawing's sources and layers. */
function addLayers(map: maplibregl.Map) {
  map.addSource("prospection-sites", { type: "geojson", data: EMPTY });
  map.addLayer({
    id: "prospection-sites-fill",
    type: "fill",
    source: "prospection-sites",
    paint: {
      "fill-color": ["step", ["get", "score"], "#dc2626", 40, "#ca8a04", 70, "#16a34a"],
      "fill-opacity": ["case", ["get", "selected"], 0.75, 0.4],
    },
  });
  map.addLayer({
    id: "prospection-sites-line",
    type: "line",
    source: "prospection-sites",
    paint: {
      "line-color": ["case", ["get", "focused"], "#0f172a", ["get", "selected"], "#1d4ed8", "#334155"],
      "line-width": ["case", ["get", "focused"], 3.5, ["get", "selected"], 2.5, 1],
    },
  });
  map.addSource("prospection-draw", { type: "geojson", data: EMPTY });
  map.addLayer({
    id: "prospection-draw-fill",
    type: "fill",
    source: "prospection-draw",
    filter: ["==", ["geometry-type"], "Polygon"],
    paint: { "fill-color": "#0ea5e9", "fill-opacity": 0.08 },
  });
  map.addLayer({
    id: "prospection-draw-line",
    type: "line",
    source: "prospection-draw",
    filter: ["!=", ["geometry-type"], "Point"],
    paint: { "line-color": "#0284c7", "line-width": 2, "line-dasharray": [2, 1] },
  });
  map.addLayer({
    id: "prospection-draw-points",
    type: "circle",
    source: "prospection-draw",
    filter: ["==", ["geometry-type"], "Point"],
    paint: { "circle-radius": 4, "circle-color": "#0284c7", "circle-stroke-color": "#fff", "circle-stroke-width": 1.5 },
  });
}

/** The map beside the table. */
export default function ProspectionMap(props: MapProps) {
  const container = useRef<HTMLDivElement>(null);
  const map = useMap(container, { center: [4.651, 45.963], zoom: 11, mapboxToken: props.mapboxToken }, true);
  const latest = useRef(props);
  latest.current = props;

  // Our sources: this run's sites and the drawing (named apart from the server's layers: its
  // "candidates" tile layer, every search's sites, is hidden here like the PLU and protected
  // zones, which the sites' verdicts say).
  useEffect(() => {
    if (!map) return;
    for (const layer of map.getStyle().layers ?? [])
      if (/^(urban_zones|env_zones|candidates)-/.test(layer.id)) map.setLayoutProperty(layer.id, "visibility", "none");
    if (!map.getSource("prospection-sites")) addLayers(map);
    const click = (e: maplibregl.MapMouseEvent) => {
      const p = latest.current;
      if (p.drawing) {
        p.onAddPoint([Number(e.lngLat.lng.toFixed(6)), Number(e.lngLat.lat.toFixed(6))]);
        return;
      }
      const hit = map.queryRenderedFeatures(e.point, { layers: ["prospection-sites-fill"] })[0];
      if (!hit) return;
      const rank = Number(hit.properties?.rank);
      if (e.originalEvent.shiftKey) p.onToggle(rank);
      else p.onFocus(rank);
    };
    const dblclick = (e: maplibregl.MapMouseEvent) => {
      if (!latest.current.drawing) return;
      e.preventDefault();
      latest.current.onFinishDrawing();
    };
    const enter = () => {
      map.getCanvas().style.cursor = latest.current.drawing ? "crosshair" : "pointer";
    };
    const leave = () => {
      map.getCanvas().style.cursor = latest.current.drawing ? "crosshair" : "";
    };
    map.on("click", click);
    map.on("dblclick", dblclick);
    map.on("mouseenter", "prospection-sites-fill", enter);
    map.on("mouseleave", "prospection-sites-fill", leave);
    return () => {
      map.off("click", click);
      map.off("dblclick", dblclick);
      map.off("mouseenter", "prospection-sites-fill", enter);
      map.off("mouseleave", "prospection-sites-fill", leave);
    };
  }, [map]);

  useEffect(() => {
    const src = map?.getSource("prospection-sites") as GeoJSONSource | undefined;
    src?.setData(sitesGeoJSON(props.sites, props.selected, props.focused) as never);
  }, [map, props.sites, props.selected, props.focused]);

  useEffect(() => {
    const src = map?.getSource("prospection-draw") as GeoJSONSource | undefined;
    src?.setData(drawData(props.drawPoints, props.drawing ? null : props.polygon) as never);
  }, [map, props.drawPoints, props.polygon, props.drawing]);

  useEffect(() => {
    if (!map) return;
    map.getCanvas().style.cursor = props.drawing ? "crosshair" : "";
    if (props.drawing) map.doubleClickZoom.disable();
    else map.doubleClickZoom.enable();
  }, [map, props.drawing]);

  // The run's sites in view when they arrive.
  useEffect(() => {
    const b = boundsOf(props.sites);
    if (map && b) map.fitBounds(b, { padding: 40, maxZoom: 15, duration: 0 });
  }, [map, props.sites]);

  useEffect(() => {
    if (map && props.flyTo) map.fitBounds(props.flyTo, { padding: 30, maxZoom: 14, duration: 0 });
  }, [map, props.flyTo]);

  // The focused site in view.
  useEffect(() => {
    if (!map || props.focused == null) return;
    const site = props.sites.find((s) => s.rank === props.focused);
    const b = site ? boundsOf([site]) : null;
    if (b) {
      const view = map.getBounds();
      const inside = view.contains([b[0], b[1]]) && view.contains([b[2], b[3]]);
      if (!inside) map.fitBounds(b, { padding: 60, maxZoom: 16, duration: 0 });
    }
  }, [map, props.focused, props.sites]);

  return (
    <div className="relative h-72 w-full overflow-hidden rounded-lg border border-slate-200 sm:h-96 xl:h-full xl:min-h-[28rem]">
      <div
        ref={container}
        // Sized by its box, not "absolute inset-0": MapLibre's stylesheet makes the container
        // position: relative, which would leave it 0 px high.
        className="h-full w-full"
        role="region"
        aria-label={
          props.drawing
            ? "Carte : cliquer pour ajouter un sommet, double-clic ou Entrée pour terminer, Retour arrière pour annuler le dernier, Échap pour abandonner"
            : "Carte des sites candidats (le tableau donne les mêmes sites)"
        }
        tabIndex={0}
        onKeyDown={(e) => {
          if (!props.drawing) return;
          if (e.key === "Enter") {
            e.preventDefault();
            props.onFinishDrawing();
          } else if (e.key === "Escape") props.onCancelDrawing();
          else if (e.key === "Backspace") {
            e.preventDefault();
            props.onUndoPoint();
          }
        }}
        data-testid="prospection-map"
      />
      {props.drawing && (
        <p className="pointer-events-none absolute left-2 top-2 rounded bg-white/90 px-2 py-1 text-xs text-slate-700 shadow">
          Cliquer pour ajouter un sommet ({props.drawPoints.length}) — double-clic ou Entrée pour terminer
        </p>
      )}
      {!props.drawing && (
        <div className="pointer-events-none absolute left-2 top-2 rounded bg-white/90 px-2 py-1 text-[11px] text-slate-700 shadow">
          <span className="mr-1 inline-block h-2.5 w-2.5 rounded-sm bg-green-600 align-middle" /> score ≥ 70
          <span className="mx-1 ml-2 inline-block h-2.5 w-2.5 rounded-sm bg-yellow-600 align-middle" /> 40–70
          <span className="mx-1 ml-2 inline-block h-2.5 w-2.5 rounded-sm bg-red-600 align-middle" /> &lt; 40
        </div>
      )}
    </div>
  );
}
