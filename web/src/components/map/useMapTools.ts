// The explorer's drawing tools: box selection (Shift + drag, any time), the lasso (a free
// polygon drawn with the mouse held down), and the measures (a distance along a line, the area of
// a polygon: click the vertices, double-click or Enter to finish, Escape to clear). Selection tools
// hand the parcels they catch to `onSelect`; the measures are geodesic (./geo.ts).
import { useEffect, useRef, useState } from "react";
import type maplibregl from "maplibre-gl";
import type { LonLat, XY } from "./geo";
import { centreOf, lineLength, pointInPolygon, polygonArea } from "./geo";

export type Tool = "none" | "lasso" | "measure-line" | "measure-area";

/** A parcel caught by a selection tool, with its area from the tile (m²). */
export interface Caught {
  id: string;
  area_m2: number | null;
}

const MEASURE = "measure";
const PARCELS = "parcels-fill";

/** Screen points of a feature's outer rings (all polygons of a multipolygon). */
function outerRings(map: maplibregl.Map, geometry: GeoJSON.Geometry): XY[] {
  const rings: number[][][] =
    geometry.type === "Polygon"
      ? [geometry.coordinates[0]]
      : geometry.type === "MultiPolygon"
        ? geometry.coordinates.map((p) => p[0])
        : [];
  const pts: XY[] = [];
  for (const ring of rings) {
    for (const c of ring.slice(0, -1)) {
      const p = map.project([c[0], c[1]]);
      pts.push([p.x, p.y]);
    }
  }
  return pts;
}

/** The parcels drawn in a screen box, each once (a parcel cut by tile edges comes in pieces). */
function parcelsIn(map: maplibregl.Map, box: [XY, XY], keep: (f: maplibregl.MapGeoJSONFeature) => boolean): Caught[] {
  if (!map.getLayer(PARCELS)) return [];
  const [a, b] = box;
  const hits = map.queryRenderedFeatures(
    [
      [Math.min(a[0], b[0]), Math.min(a[1], b[1])],
      [Math.max(a[0], b[0]), Math.max(a[1], b[1])],
    ],
    { layers: [PARCELS] },
  );
  const out = new Map<string, Caught>();
  for (const f of hits) {
    const id = String(f.properties.id ?? f.id ?? "");
    if (!id || out.has(id) || !keep(f)) continue;
    const area = Number(f.properties.area_m2);
    out.set(id, { id, area_m2: Number.isFinite(area) ? area : null });
  }
  return [...out.values()];
}

/** Parcels whose centre lies inside a lasso drawn on the screen. */
export function parcelsInLasso(map: maplibregl.Map, lasso: XY[]): Caught[] {
  if (lasso.length < 3) return [];
  const xs = lasso.map((p) => p[0]);
  const ys = lasso.map((p) => p[1]);
  const box: [XY, XY] = [
    [Math.min(...xs), Math.min(...ys)],
    [Math.max(...xs), Math.max(...ys)],
  ];
  // Pieces of one parcel from several tiles: the parcel is in when one piece's centre is.
  const caught = new Map<string, Caught>();
  const hits = map.getLayer(PARCELS)
    ? map.queryRenderedFeatures([box[0], box[1]] as [[number, number], [number, number]], { layers: [PARCELS] })
    : [];
  for (const f of hits) {
    const id = String(f.properties.id ?? f.id ?? "");
    if (!id || caught.has(id)) continue;
    const pts = outerRings(map, f.geometry);
    if (pts.length && pointInPolygon(centreOf(pts), lasso)) {
      const area = Number(f.properties.area_m2);
      caught.set(id, { id, area_m2: Number.isFinite(area) ? area : null });
    }
  }
  return [...caught.values()];
}

/** The measure's result: a distance (m) or an area (m²), from its vertices. */
export function measureOf(tool: Tool, points: LonLat[]): { length_m: number; area_m2: number | null } {
  if (tool === "measure-area") {
    return { length_m: lineLength(points.length > 2 ? [...points, points[0]] : points), area_m2: points.length > 2 ? polygonArea([points]) : null };
  }
  return { length_m: lineLength(points), area_m2: null };
}

function measureData(tool: Tool, points: LonLat[], hover: LonLat | null): GeoJSON.FeatureCollection {
  const pts = hover ? [...points, hover] : points;
  const features: GeoJSON.Feature[] = pts.map((p) => ({
    type: "Feature",
    properties: {},
    geometry: { type: "Point", coordinates: p },
  }));
  if (pts.length > 1) {
    const line = tool === "measure-area" && pts.length > 2 ? [...pts, pts[0]] : pts;
    features.push({ type: "Feature", properties: {}, geometry: { type: "LineString", coordinates: line } });
  }
  if (tool === "measure-area" && pts.length > 2) {
    features.push({ type: "Feature", properties: {}, geometry: { type: "Polygon", coordinates: [[...pts, pts[0]]] } });
  }
  return { type: "FeatureCollection", features };
}

function ensureMeasureLayers(map: maplibregl.Map): void {
  if (map.getSource(MEASURE)) return;
  map.addSource(MEASURE, { type: "geojson", data: { type: "FeatureCollection", features: [] } });
  map.addLayer({
    id: "measure-fill",
    type: "fill",
    source: MEASURE,
    filter: ["==", ["geometry-type"], "Polygon"],
    paint: { "fill-color": "#0369a1", "fill-opacity": 0.15 },
  });
  map.addLayer({
    id: "measure-line",
    type: "line",
    source: MEASURE,
    filter: ["==", ["geometry-type"], "LineString"],
    paint: { "line-color": "#0369a1", "line-width": 2.5, "line-dasharray": [2, 1] },
  });
  map.addLayer({
    id: "measure-points",
    type: "circle",
    source: MEASURE,
    filter: ["==", ["geometry-type"], "Point"],
    paint: { "circle-radius": 4, "circle-color": "#fff", "circle-stroke-color": "#0369a1", "circle-stroke-width": 2 },
  });
}

export interface MapTools {
  tool: Tool;
  setTool: (t: Tool) => void;
  /** The box being dragged (screen), for the overlay. */
  box: [XY, XY] | null;
  /** The lasso being drawn (screen), for the overlay. */
  lasso: XY[] | null;
  /** The measure's vertices and whether it is finished. */
  points: LonLat[];
  finished: boolean;
  clearMeasure: () => void;
  /** A ref the click handler reads: true while a tool owns the clicks. */
  busy: React.MutableRefObject<boolean>;
}

/** The tools on ``map``; ``onSelect`` receives the parcels a box or a lasso catches. */
export function useMapTools(map: maplibregl.Map | null, onSelect: (caught: Caught[]) => void): MapTools {
  const [tool, setToolState] = useState<Tool>("none");
  const [box, setBox] = useState<[XY, XY] | null>(null);
  const [lasso, setLasso] = useState<XY[] | null>(null);
  const [points, setPoints] = useState<LonLat[]>([]);
  const [finished, setFinished] = useState(false);
  const [generation, setGeneration] = useState(0); // a new measure (Effacer)
  const hover = useRef<LonLat | null>(null);
  const busy = useRef(false);
  const onSelectRef = useRef(onSelect);
  onSelectRef.current = onSelect;
  const toolRef = useRef(tool);
  toolRef.current = tool;
  busy.current = tool !== "none";

  const setTool = (t: Tool) => {
    setToolState(t);
    setPoints([]);
    setFinished(false);
    setLasso(null);
    hover.current = null;
  };

  // Box selection: Shift + drag, whatever the tool. Our capture listener runs before MapLibre's
  // own (on the canvas container inside): it switches panning off for this drag only.
  useEffect(() => {
    if (!map) return;
    const container = map.getContainer();
    const canvas = map.getCanvasContainer();
    let start: XY | null = null;
    const rel = (e: MouseEvent): XY => {
      const r = canvas.getBoundingClientRect();
      return [e.clientX - r.left, e.clientY - r.top];
    };
    const down = (e: MouseEvent) => {
      if (!e.shiftKey || e.button !== 0 || toolRef.current !== "none") return;
      start = rel(e);
      map.dragPan.disable();
      window.addEventListener("mousemove", move);
      window.addEventListener("mouseup", up);
    };
    const move = (e: MouseEvent) => {
      if (!start) return;
      const p = rel(e);
      if (Math.abs(p[0] - start[0]) + Math.abs(p[1] - start[1]) > 4) setBox([start, p]);
    };
    const up = (e: MouseEvent) => {
      window.removeEventListener("mousemove", move);
      window.removeEventListener("mouseup", up);
      map.dragPan.enable();
      const from = start;
      start = null;
      setBox(null);
      if (!from) return;
      const to = rel(e);
      // A click without moving stays a Shift+click (MapLibre toggles that parcel).
      if (Math.abs(to[0] - from[0]) + Math.abs(to[1] - from[1]) <= 4) return;
      onSelectRef.current(parcelsIn(map, [from, to], () => true));
    };
    container.addEventListener("mousedown", down, true);
    return () => {
      container.removeEventListener("mousedown", down, true);
      window.removeEventListener("mousemove", move);
      window.removeEventListener("mouseup", up);
    };
  }, [map]);

  // The lasso: mouse held down draws a free polygon; released, it selects what it encloses.
  useEffect(() => {
    if (!map || tool !== "lasso") return;
    map.dragPan.disable();
    let path: XY[] | null = null;
    const down = (e: maplibregl.MapMouseEvent) => {
      if (e.originalEvent.button !== 0) return;
      path = [[e.point.x, e.point.y]];
      setLasso(path);
    };
    const move = (e: maplibregl.MapMouseEvent) => {
      if (!path) return;
      const last = path[path.length - 1];
      if (Math.abs(e.point.x - last[0]) + Math.abs(e.point.y - last[1]) < 3) return;
      path = [...path, [e.point.x, e.point.y]];
      setLasso(path);
    };
    const up = () => {
      const drawn = path;
      path = null;
      setLasso(null);
      if (drawn && drawn.length >= 3) onSelectRef.current(parcelsInLasso(map, drawn));
    };
    map.on("mousedown", down);
    map.on("mousemove", move);
    map.on("mouseup", up);
    map.getCanvas().style.cursor = "crosshair";
    return () => {
      map.off("mousedown", down);
      map.off("mousemove", move);
      map.off("mouseup", up);
      map.dragPan.enable();
      map.getCanvas().style.cursor = "";
    };
  }, [map, tool]);

  // The measures: a click adds a vertex; double-click or Enter finishes; Escape clears.
  useEffect(() => {
    if (!map || (tool !== "measure-line" && tool !== "measure-area")) return;
    ensureMeasureLayers(map);
    map.doubleClickZoom.disable();
    map.getCanvas().style.cursor = "crosshair";
    let done = false;
    let pts: LonLat[] = [];
    const draw = () =>
      (map.getSource(MEASURE) as maplibregl.GeoJSONSource | undefined)?.setData(
        measureData(tool, pts, done ? null : hover.current),
      );
    const click = (e: maplibregl.MapMouseEvent) => {
      if (done) {
        done = false;
        pts = [];
        setFinished(false);
      }
      pts = [...pts, [e.lngLat.lng, e.lngLat.lat]];
      setPoints(pts);
      draw();
    };
    const finish = () => {
      if (pts.length < (tool === "measure-area" ? 3 : 2)) return;
      done = true;
      setFinished(true);
      draw();
    };
    const dbl = (e: maplibregl.MapMouseEvent) => {
      e.preventDefault();
      // The double-click's two clicks each added the same vertex: keep one.
      const a = pts[pts.length - 1];
      const b = pts[pts.length - 2];
      if (a && b && a[0] === b[0] && a[1] === b[1]) pts = pts.slice(0, -1);
      setPoints(pts);
      finish();
    };
    const move = (e: maplibregl.MapMouseEvent) => {
      hover.current = [e.lngLat.lng, e.lngLat.lat];
      if (!done && pts.length) draw();
    };
    const key = (e: KeyboardEvent) => {
      if (e.key === "Enter") finish();
      else if (e.key === "Escape") {
        pts = [];
        done = false;
        setPoints([]);
        setFinished(false);
        draw();
      }
    };
    map.on("click", click);
    map.on("dblclick", dbl);
    map.on("mousemove", move);
    window.addEventListener("keydown", key);
    return () => {
      map.off("click", click);
      map.off("dblclick", dbl);
      map.off("mousemove", move);
      window.removeEventListener("keydown", key);
      map.doubleClickZoom.enable();
      map.getCanvas().style.cursor = "";
      (map.getSource(MEASURE) as maplibregl.GeoJSONSource | undefined)?.setData({
        type: "FeatureCollection",
        features: [],
      });
    };
  }, [map, tool, generation]);

  const clearMeasure = () => {
    setPoints([]);
    setFinished(false);
    setGeneration((g) => g + 1);
  };

  return { tool, setTool, box, lasso, points, finished, clearMeasure, busy };
}
