// Map explorer: our vector tiles over a basemap, layer switcher, parcel facts, selection (click,
// Shift+click, Shift+drag box, lasso), measures, the selection's constraints and lead creation.
import { useEffect, useRef, useState } from "react";
import { useNavigate, useSearchParams } from "react-router-dom";
import maplibregl from "maplibre-gl";
import { useCoverageMasks, useMapLayers } from "../../api/reference";
import { useBasemaps } from "../../api/selection";
import type { Basemap } from "../../api/selection";
import { BASEMAP_ID, applyBasemap, loadStyleParts, removeBasemap, showBasemap } from "../../components/map/basemap";
import BasemapSwitcher from "../../components/map/BasemapSwitcher";
import Legend from "../../components/map/Legend";
import MapToolbar from "../../components/map/MapToolbar";
import { useMapTools } from "../../components/map/useMapTools";
import type { Caught } from "../../components/map/useMapTools";
import SearchBox from "../../components/map/SearchBox";
import { defaultLayers, styleLayersOf } from "../../components/map/style";
import type { LayerKey, MapLayerDef } from "../../components/map/style";
import { useMap } from "../../components/map/useMap";
import { Loading } from "../../components/ui";
import { useNarrow } from "../pipeline/filters";
import { STATUS_LABEL } from "../../lib/status";
import type { LeadStatus } from "../../api/types";
import { formatView, parseView } from "./mapUrl";
import SelectionPanel from "./SelectionPanel";

/** The page: waits for the basemaps (GET /api/reference/basemaps: IGN by default, Mapbox's
 * with a public token) and the server's map layers, then shows the map. */
export default function MapPage() {
  const basemaps = useBasemaps();
  const mapLayers = useMapLayers();
  if (basemaps.isLoading || mapLayers.isLoading) return <Loading label="Chargement de la carte…" />;
  return (
    <Explorer
      basemaps={basemaps.data?.items ?? []}
      basemapDefault={basemaps.data?.default ?? null}
      basemapsFailed={basemaps.isError}
      defs={mapLayers.data?.items ?? []}
    />
  );
}

/** A diagonal hatch (slate, 12 px) for the "données absentes" masks. */
function hatchImage(): { width: number; height: number; data: Uint8Array } {
  const size = 12;
  const data = new Uint8Array(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if ((x + y) % size < 2) data.set([71, 85, 105, 210], (y * size + x) * 4);
    }
  }
  return { width: size, height: size, data };
}

function escapeHtml(s: unknown): string {
  return String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function Explorer({
  basemaps,
  basemapDefault,
  basemapsFailed,
  defs,
}: {
  basemaps: Basemap[];
  basemapDefault: string | null;
  basemapsFailed: boolean;
  defs: MapLayerDef[];
}) {
  const [params, setParams] = useSearchParams();
  const navigate = useNavigate();
  const initial = useRef(parseView(params, defs.map((d) => d.name), defaultLayers(defs))).current;
  const container = useRef<HTMLDivElement>(null);
  // The basemap is ours to switch (./basemap.ts): the style itself carries none.
  const map = useMap(container, { center: [initial.lon, initial.lat], zoom: initial.zoom, mapboxToken: null }, true);
  const [layers, setLayers] = useState<LayerKey[]>(initial.layers);
  const [zoom, setZoom] = useState(initial.zoom);
  const [selected, setSelected] = useState<string[]>([]);
  const [focused, setFocused] = useState<string | null>(null);
  // On a phone the layer list would hide half the map: folded behind a "Couches" button.
  const narrow = useNarrow();
  const [legendOpen, setLegendOpen] = useState(false);
  const selectedRef = useRef<Set<string>>(new Set());
  const layersRef = useRef(layers);
  layersRef.current = layers;
  // Each selected parcel's area from its tile (m²): the running total before the server answers.
  const areasRef = useRef<Map<string, number>>(new Map());

  // The basemap: the server's default at opening, then the switcher's choice; tiles failing are
  // said discreetly (the data layers still work).
  const [basemap, setBasemap] = useState<string | null>(
    basemaps.some((b) => b.key === basemapDefault) ? basemapDefault : null,
  );
  const [basemapFailed, setBasemapFailed] = useState(false);
  useEffect(() => {
    if (!map) return;
    setBasemapFailed(false);
    const chosen = basemaps.find((b) => b.key === basemap) ?? null;
    const abort = new AbortController();
    if (chosen?.type === "style") {
      // A vector style: fetched, then its sources and layers go under ours (removed meanwhile).
      removeBasemap(map);
      loadStyleParts(chosen, abort.signal)
        .then((parts) => !abort.signal.aborted && showBasemap(map, parts))
        .catch(() => !abort.signal.aborted && setBasemapFailed(true));
    } else {
      applyBasemap(map, chosen);
    }
    let errors = 0;
    const onError = (e: { sourceId?: string }) => {
      if (e.sourceId && (e.sourceId === BASEMAP_ID || e.sourceId.startsWith(`${BASEMAP_ID}:`)) && ++errors >= 2)
        setBasemapFailed(true);
    };
    map.on("error", onError);
    return () => {
      abort.abort();
      map.off("error", onError);
    };
  }, [map, basemap, basemaps]);

  // Box (Shift + drag) and lasso selections add to the selection.
  const tools = useMapTools(map, (caught: Caught[]) => {
    if (!map) return;
    for (const c of caught) {
      if (c.area_m2 !== null) areasRef.current.set(c.id, c.area_m2);
      if (selectedRef.current.has(c.id)) continue;
      selectedRef.current.add(c.id);
      map.setFeatureState({ source: "parcels", sourceLayer: "parcels", id: c.id }, { selected: true });
    }
    if (caught.length) {
      setSelected([...selectedRef.current]);
      setFocused(caught[caught.length - 1].id);
    }
  });
  const toolsBusy = tools.busy;

  // Layer visibility follows the switcher.
  useEffect(() => {
    if (!map) return;
    for (const def of defs) {
      for (const id of styleLayersOf(def)) {
        if (map.getLayer(id)) map.setLayoutProperty(id, "visibility", layers.includes(def.name) ? "visible" : "none");
      }
    }
  }, [map, layers, defs]);

  // "Données absentes": where a shown factor layer has no data (outside every import's coverage),
  // a hatched mask, so an empty map area is never read as "nothing there".
  const factors = defs.filter((d) => d.factor).map((d) => d.name);
  const maskQueries = useCoverageMasks(factors, layers);
  const maskData = maskQueries.map((q) => q.data);
  useEffect(() => {
    if (!map) return;
    if (!map.hasImage("lfs-hatch")) map.addImage("lfs-hatch", hatchImage());
    factors.forEach((key, i) => {
      const feature = maskData[i];
      const id = `absent-${key}`;
      const shown = layers.includes(key) && !!feature?.geometry;
      if (shown && !map.getSource(id)) {
        map.addSource(id, { type: "geojson", data: feature as never });
        map.addLayer({ id, type: "fill", source: id, paint: { "fill-pattern": "lfs-hatch", "fill-opacity": 0.45 } });
      }
      if (map.getLayer(id)) map.setLayoutProperty(id, "visibility", shown ? "visible" : "none");
    });
  }, [map, layers, ...maskData]);

  // The view goes to the URL (replace: panning must not fill the history). setSearchParams changes
  // identity with every URL change, so it is read through a ref: depending on it would loop.
  const setParamsRef = useRef(setParams);
  setParamsRef.current = setParams;
  useEffect(() => {
    if (!map) return;
    const sync = () => {
      // A move ending after we left the page must not navigate back to the map.
      if (!window.location.pathname.startsWith("/map")) return;
      const c = map.getCenter();
      setZoom(map.getZoom());
      const next = formatView({ lat: c.lat, lon: c.lng, zoom: map.getZoom(), layers: layersRef.current });
      if (next.toString() !== window.location.search.slice(1)) setParamsRef.current(next, { replace: true });
    };
    map.on("moveend", sync);
    sync();
    return () => {
      map.off("moveend", sync);
    };
  }, [map, layers]);

  // Performance marks from the end of a move: "lfs:pan-to-parcels" when the first frame with every
  // parcel tile of the view is drawn, "lfs:pan-to-idle" when all layers are loaded and drawn.
  useEffect(() => {
    if (!map) return;
    let waitParcels = false;
    let waitIdle = false;
    const onMoveEnd = () => {
      performance.mark("lfs:moveend");
      waitParcels = map.getZoom() >= 13 && map.getLayoutProperty("parcels-fill", "visibility") !== "none";
      waitIdle = true;
    };
    const onRender = () => {
      if (waitParcels && map.isSourceLoaded("parcels")) {
        waitParcels = false;
        performance.mark("lfs:parcels-drawn");
        performance.measure("lfs:pan-to-parcels", "lfs:moveend", "lfs:parcels-drawn");
      }
    };
    const onIdle = () => {
      if (!waitIdle) return;
      waitIdle = false;
      performance.mark("lfs:idle");
      performance.measure("lfs:pan-to-idle", "lfs:moveend", "lfs:idle");
    };
    map.on("moveend", onMoveEnd);
    map.on("render", onRender);
    map.on("idle", onIdle);
    return () => {
      map.off("moveend", onMoveEnd);
      map.off("render", onRender);
      map.off("idle", onIdle);
    };
  }, [map]);

  // Clicks: parcels (facts, shift = multi-select), leads and substations (popups).
  useEffect(() => {
    if (!map) return;
    const setState = (id: string, on: boolean) =>
      map.setFeatureState({ source: "parcels", sourceLayer: "parcels", id }, { selected: on });

    const onClick = (e: maplibregl.MapMouseEvent) => {
      if (toolsBusy.current) return; // a lasso or a measure owns the clicks
      const hits = map.queryRenderedFeatures(e.point, {
        layers: ["leads-fill", "leads-cluster", "substations-circle", "parcels-fill"].filter((l) => map.getLayer(l)),
      });
      const lead = hits.find((f) => f.layer.id === "leads-fill" || f.layer.id === "leads-cluster");
      const sub = hits.find((f) => f.layer.id === "substations-circle");
      const parcel = hits.find((f) => f.layer.id === "parcels-fill");
      if (sub) {
        const p = sub.properties;
        new maplibregl.Popup({ closeButton: true })
          .setLngLat(e.lngLat)
          .setHTML(
            `<strong>Poste ${escapeHtml(p.name)}</strong><br/>${escapeHtml(p.voltage_kv ?? "")} kV · ${escapeHtml(
              p.operator ?? "",
            )}<br/>Capacité disponible : ${p.capacity_available_mw ?? "?"} MW`,
          )
          .addTo(map);
        return;
      }
      if (lead && !e.originalEvent.shiftKey && lead.properties.id !== undefined && !lead.properties.count) {
        const p = lead.properties;
        const status = STATUS_LABEL[p.status as LeadStatus] ?? p.status;
        const el = document.createElement("div");
        el.innerHTML = `<strong>${escapeHtml(p.name || p.internal_name)}</strong><br/>${escapeHtml(status)} · score ${
          p.quality_score ?? "–"
        }<br/>`;
        const a = document.createElement("a");
        a.href = `/leads/${p.id}`;
        a.textContent = "Ouvrir la fiche";
        a.className = "text-sky-700 underline";
        a.onclick = (ev) => {
          ev.preventDefault();
          navigate(`/leads/${p.id}`);
        };
        el.appendChild(a);
        new maplibregl.Popup().setLngLat(e.lngLat).setDOMContent(el).addTo(map);
        return;
      }
      if (!parcel) return;
      const id = String(parcel.properties.id);
      const area = Number(parcel.properties.area_m2);
      if (Number.isFinite(area)) areasRef.current.set(id, area);
      const sel = selectedRef.current;
      if (e.originalEvent.shiftKey) {
        if (sel.has(id)) {
          sel.delete(id);
          setState(id, false);
        } else {
          sel.add(id);
          setState(id, true);
        }
      } else {
        sel.forEach((old) => setState(old, false));
        sel.clear();
        sel.add(id);
        setState(id, true);
      }
      setSelected([...sel]);
      setFocused(id);
    };
    const hoverable = ["parcels-fill", "leads-fill", "substations-circle", "leads-cluster"];
    const enter = () => (map.getCanvas().style.cursor = "pointer");
    const leave = () => (map.getCanvas().style.cursor = "");
    map.on("click", onClick);
    hoverable.forEach((l) => {
      map.on("mouseenter", l, enter);
      map.on("mouseleave", l, leave);
    });
    return () => {
      map.off("click", onClick);
      hoverable.forEach((l) => {
        map.off("mouseenter", l, enter);
        map.off("mouseleave", l, leave);
      });
    };
  }, [map, navigate, toolsBusy]);

  function clearSelection() {
    if (map) {
      selectedRef.current.forEach((id) =>
        map.setFeatureState({ source: "parcels", sourceLayer: "parcels", id }, { selected: false }),
      );
    }
    selectedRef.current.clear();
    setSelected([]);
    setFocused(null);
  }

  function addToSelection(id: string) {
    map?.setFeatureState({ source: "parcels", sourceLayer: "parcels", id }, { selected: true });
    selectedRef.current.add(id);
    setSelected([...selectedRef.current]);
    setFocused(id);
  }

  function removeFromSelection(id: string) {
    map?.setFeatureState({ source: "parcels", sourceLayer: "parcels", id }, { selected: false });
    selectedRef.current.delete(id);
    setSelected([...selectedRef.current]);
    if (focused === id) setFocused(null);
  }

  return (
    <div className="relative h-full min-h-[480px] flex-1">
      {/* MapLibre sets position: relative on its container: the absolute box is a wrapper. */}
      <div className="absolute inset-0">
        <div ref={container} className="h-full w-full" data-testid="map" aria-label="Carte" role="region" />
      </div>
      {!map && (
        <div className="absolute inset-0 flex items-center justify-center bg-slate-50/60">
          <Loading label="Chargement de la carte…" />
        </div>
      )}
      {/* Clicks pass through the row's empty parts to MapLibre's own top-left control under it. */}
      <div className="pointer-events-none absolute left-3 top-3 z-10 flex items-start gap-2">
        <div className="pointer-events-auto">
        <SearchBox
          onPick={(item) => {
            if (!map) return;
            if (item.kind === "address") {
              // A point: a street number close up, a street or a place a little wider.
              map.flyTo({ center: item.center, zoom: item.type === "housenumber" ? 17.5 : 15.5, duration: 600 });
              return;
            }
            const [minx, miny, maxx, maxy] = item.bbox;
            map.fitBounds(
              [
                [minx, miny],
                [maxx, maxy],
              ],
              { padding: 60, maxZoom: item.kind === "parcel" ? 17 : 14, duration: 600 },
            );
            // A parcel found by its id joins the selection: creating a lead works from the keyboard.
            if (item.kind === "parcel") addToSelection(item.id);
          }}
        />
        </div>
        {/* Beside the search box (MapLibre's own top-left control sits under it); drawing tools
            are for a mouse: hidden on a phone, where the map is for looking. */}
        <div className="hidden md:block">
          <MapToolbar
            tool={tools.tool}
            onTool={tools.setTool}
            points={tools.points}
            finished={tools.finished}
            onClear={tools.clearMeasure}
          />
        </div>
      </div>
      {tools.box && (
        <div
          aria-hidden
          data-testid="selection-box"
          className="pointer-events-none absolute z-10 border-2 border-amber-500 bg-amber-300/20"
          style={{
            left: Math.min(tools.box[0][0], tools.box[1][0]),
            top: Math.min(tools.box[0][1], tools.box[1][1]),
            width: Math.abs(tools.box[1][0] - tools.box[0][0]),
            height: Math.abs(tools.box[1][1] - tools.box[0][1]),
          }}
        />
      )}
      {tools.lasso && (
        <svg aria-hidden className="pointer-events-none absolute inset-0 z-10 h-full w-full">
          <polygon
            points={tools.lasso.map((p) => p.join(",")).join(" ")}
            fill="rgba(252, 211, 77, 0.2)"
            stroke="#f59e0b"
            strokeWidth={2}
            strokeDasharray="6 3"
          />
        </svg>
      )}
      <div className="absolute bottom-8 left-3 z-10 flex flex-col items-start gap-2">
        {narrow && (
          <button
            type="button"
            aria-expanded={legendOpen}
            onClick={() => setLegendOpen((o) => !o)}
            className="min-h-[2.5rem] rounded-md bg-white/95 px-3 text-sm font-medium text-slate-800 shadow-lg focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-400"
          >
            {legendOpen ? "Masquer les couches" : "Couches"}
          </button>
        )}
        {(!narrow || legendOpen) && (
          <Legend
            layers={defs}
            visible={layers}
            zoom={zoom}
            onToggle={(key) =>
              setLayers((ls) => (ls.includes(key) ? ls.filter((l) => l !== key) : [...ls, key]))
            }
          />
        )}
        {(!narrow || legendOpen) && (
          <BasemapSwitcher
            basemaps={basemaps}
            value={basemap}
            onChange={setBasemap}
            failed={basemapFailed}
            unavailable={basemapsFailed}
          />
        )}
      </div>
      {zoom < 13 && layers.includes("parcels") && (
        <p className="absolute left-1/2 top-16 z-10 -translate-x-1/2 rounded bg-slate-900/80 px-3 py-1 text-xs text-white">
          {zoom < 10
            ? "Zoomez (≥ 10) pour voir les grandes parcelles"
            : "Grandes parcelles seulement (≥ 2 ha, ≥ 5 ha au zoom 10) : zoomez (≥ 13) pour toutes"}
        </p>
      )}
      <SelectionPanel
        selected={selected}
        areas={areasRef.current}
        focused={focused}
        onFocus={setFocused}
        onRemove={removeFromSelection}
        onClear={clearSelection}
        onCreated={(id) => {
          clearSelection();
          navigate(`/leads/${id}`);
        }}
      />
    </div>
  );
}
