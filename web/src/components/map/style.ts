// A MapLibre style drawn from our own vector tiles (/tiles/{layer}/{z}/{x}/{y}.mvt): communes and
// zones make the offline basemap; a Mapbox raster basemap is added under them when a token is set.
import type { LayerSpecification, StyleSpecification } from "maplibre-gl";
import { STATUSES, STATUS_COLOR, STATUS_LABEL } from "../../lib/status";

export type LayerKey = "communes" | "env_zones" | "urban_zones" | "parcels" | "substations" | "leads";

/** Layers of the switcher, with zoom ranges matching the server's (tiles/layers.py). */
export const LAYER_DEFS: Record<LayerKey, { label: string; minzoom: number; maxzoom: number }> = {
  communes: { label: "Communes", minzoom: 6, maxzoom: 14 },
  env_zones: { label: "Zones protégées", minzoom: 6, maxzoom: 15 },
  urban_zones: { label: "Zonage PLU", minzoom: 10, maxzoom: 16 },
  // z10–12: only the large parcels (≥ 2 ha; ≥ 5 ha at z10), every parcel from z13.
  parcels: { label: "Parcelles", minzoom: 10, maxzoom: 16 },
  substations: { label: "Postes sources", minzoom: 5, maxzoom: 14 },
  leads: { label: "Leads", minzoom: 4, maxzoom: 16 },
};

export const DEFAULT_LAYERS: LayerKey[] = ["communes", "env_zones", "parcels", "substations", "leads"];

/** Colours of protected-zone types (hard exclusions in red tones, penalties amber, bonuses green). */
export const ZONE_COLORS: [string, string, string][] = [
  ["natura2000_zsc", "Natura 2000 ZSC/SIC", "#16a34a"],
  ["natura2000_zps", "Natura 2000 ZPS", "#22c55e"],
  ["znieff1", "ZNIEFF type I", "#ca8a04"],
  ["znieff2", "ZNIEFF type II", "#eab308"],
  ["parc_national_coeur", "Parc national (cœur)", "#b91c1c"],
  ["rnn", "Réserve naturelle nationale", "#dc2626"],
  ["rnr", "Réserve naturelle régionale", "#ef4444"],
  ["appb", "APPB", "#be123c"],
  ["pnr", "Parc naturel régional", "#84cc16"],
  ["zone_humide", "Zone humide", "#0891b2"],
  ["friche", "Friche (bonus)", "#7c3aed"],
];

export const PLU_COLORS: [string, string, string][] = [
  ["U", "U — urbaine", "#f87171"],
  ["AU", "AU — à urbaniser", "#fb923c"],
  ["AUc", "AUc — à urbaniser", "#fb923c"],
  ["AUs", "AUs — à urbaniser (stricte)", "#fdba74"],
  ["A", "A — agricole", "#facc15"],
  ["N", "N — naturelle", "#4ade80"],
];

function match(prop: string, pairs: [string, string, string][], fallback: string): unknown {
  return ["match", ["get", prop], ...pairs.flatMap(([k, , c]) => [k, c]), fallback];
}

export const STATUS_MATCH = [
  "match",
  ["get", "status"],
  ...STATUSES.flatMap((s) => [s, STATUS_COLOR[s]]),
  "#64748b",
];

export { STATUS_LABEL };

/** Tile URL template of one layer (absolute: MapLibre resolves tiles in a worker). */
export function tileUrl(origin: string, layer: string): string {
  return `${origin}/tiles/${layer}/{z}/{x}/{y}.mvt`;
}

/** The style: background, optional Mapbox raster, then our layers bottom to top. */
export function buildStyle(origin: string, opts: { mapboxToken?: string | null } = {}): StyleSpecification {
  const sources: StyleSpecification["sources"] = {};
  for (const [key, def] of Object.entries(LAYER_DEFS)) {
    sources[key] = {
      type: "vector",
      tiles: [tileUrl(origin, key)],
      minzoom: def.minzoom,
      maxzoom: def.maxzoom,
      // Parcel ids are the cadastre's strings: feature-state (selection) is keyed by them.
      ...(key === "parcels" ? { promoteId: "id" } : {}),
    };
  }
  const layers: LayerSpecification[] = [
    // The background doubles as the communes' fill: one full-screen fill less to draw.
    { id: "background", type: "background", paint: { "background-color": "#f3f5ef" } },
  ];
  if (opts.mapboxToken) {
    sources.mapbox = {
      type: "raster",
      tiles: [
        `https://api.mapbox.com/styles/v1/mapbox/light-v11/tiles/256/{z}/{x}/{y}@2x?access_token=${opts.mapboxToken}`,
      ],
      tileSize: 256,
      attribution: "© Mapbox © OpenStreetMap",
    };
    layers.push({ id: "mapbox", type: "raster", source: "mapbox" });
  }
  layers.push(
    {
      id: "communes-line",
      type: "line",
      source: "communes",
      "source-layer": "communes",
      paint: { "line-color": "#94a3b8", "line-width": 1.2, "line-dasharray": [3, 2] },
    },
    {
      id: "urban_zones-fill",
      type: "fill",
      source: "urban_zones",
      "source-layer": "urban_zones",
      paint: {
        "fill-color": match("zone_type", PLU_COLORS, "#cbd5e1") as never,
        "fill-opacity": 0.25,
        "fill-antialias": false,
      },
    },
    {
      id: "env_zones-fill",
      type: "fill",
      source: "env_zones",
      "source-layer": "env_zones",
      paint: {
        "fill-color": match("zone_type", ZONE_COLORS, "#65a30d") as never,
        "fill-opacity": 0.28,
        "fill-antialias": false,
      },
    },
    {
      id: "env_zones-line",
      type: "line",
      source: "env_zones",
      "source-layer": "env_zones",
      paint: { "line-color": match("zone_type", ZONE_COLORS, "#65a30d") as never, "line-width": 1.5 },
    },
    {
      id: "parcels-fill",
      type: "fill",
      source: "parcels",
      "source-layer": "parcels",
      paint: {
        "fill-color": [
          "case",
          ["boolean", ["feature-state", "selected"], false],
          "#f7b500",
          "#ffffff",
        ],
        "fill-opacity": ["case", ["boolean", ["feature-state", "selected"], false], 0.7, 0.15],
        // Outlines come from parcels-line: skip the fill's own antialiasing pass (the densest layer).
        "fill-antialias": false,
      },
    },
    {
      id: "parcels-line",
      type: "line",
      source: "parcels",
      "source-layer": "parcels",
      paint: {
        "line-color": ["case", ["boolean", ["feature-state", "selected"], false], "#b87d00", "#78716c"],
        "line-width": ["interpolate", ["linear"], ["zoom"], 10, 0.3, 17, 1.2],
      },
    },
    {
      id: "leads-fill",
      type: "fill",
      source: "leads",
      "source-layer": "leads",
      filter: ["==", ["geometry-type"], "Polygon"],
      paint: { "fill-color": STATUS_MATCH as never, "fill-opacity": 0.45 },
    },
    {
      id: "leads-line",
      type: "line",
      source: "leads",
      "source-layer": "leads",
      filter: ["==", ["geometry-type"], "Polygon"],
      paint: { "line-color": STATUS_MATCH as never, "line-width": 2 },
    },
    {
      id: "leads-cluster",
      type: "circle",
      source: "leads",
      "source-layer": "leads",
      filter: ["==", ["geometry-type"], "Point"],
      paint: {
        "circle-color": STATUS_MATCH as never,
        "circle-radius": ["interpolate", ["linear"], ["coalesce", ["get", "count"], 1], 1, 6, 100, 18],
        "circle-stroke-color": "#fff",
        "circle-stroke-width": 1.5,
        "circle-opacity": 0.85,
      },
    },
    {
      id: "substations-circle",
      type: "circle",
      source: "substations",
      "source-layer": "substations",
      paint: {
        "circle-color": "#0f172a",
        "circle-radius": ["interpolate", ["linear"], ["zoom"], 5, 3, 14, 7],
        "circle-stroke-color": [
          "case",
          [">", ["coalesce", ["get", "capacity_available_mw"], 0], 0],
          "#22c55e",
          "#ef4444",
        ],
        "circle-stroke-width": 2.5,
      },
    },
  );
  return {
    version: 8,
    sources,
    layers,
  };
}

/** Which style layers belong to a switcher entry. */
export function styleLayersOf(key: LayerKey): string[] {
  switch (key) {
    case "communes":
      return ["communes-line"];
    case "env_zones":
      return ["env_zones-fill", "env_zones-line"];
    case "urban_zones":
      return ["urban_zones-fill"];
    case "parcels":
      return ["parcels-fill", "parcels-line"];
    case "substations":
      return ["substations-circle"];
    case "leads":
      return ["leads-fill", "leads-line", "leads-cluster"];
  }
}

/** transformRequest: our tiles are same-origin and authenticated with the bearer token. */
export function authTransform(origin: string, getToken: () => string | null) {
  return (url: string) => {
    const token = getToken();
    if (token && url.startsWith(`${origin}/tiles/`)) {
      return { url, headers: { Authorization: `Bearer ${token}` } };
    }
    return { url };
  };
}
