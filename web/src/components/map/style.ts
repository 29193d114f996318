// A MapLibre style drawn from our own vector tiles (/tiles/{layer}/{z}/{x}/{y}.mvt): communes and
// zones make the offline basemap; a Mapbox raster basemap is added under them when a token is set.
import type { LayerSpecification, StyleSpecification } from "maplibre-gl";
import type { MapLayerDef } from "../../api/reference";
import { STATUSES, STATUS_COLOR, STATUS_LABEL } from "../../lib/status";

export type LayerKey = string;

export type { MapLayerDef };

/** The layers switched on when the map opens. */
export function defaultLayers(defs: MapLayerDef[]): LayerKey[] {
  return defs.filter((d) => d.visible).map((d) => d.name);
}

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

type Paint = (def: MapLayerDef) => LayerSpecification[];

const on = (def: MapLayerDef) => ({ source: def.name, "source-layer": def.name });

/** Layers the map draws its own way (colours by type, status, selection); any other layer gets a
 * plain paint from its registry hints (genericLayers). */
const PAINTS: Record<string, Paint> = {
  // The background doubles as the communes' fill: one full-screen fill less to draw.
  communes: (d) => [
    {
      id: "communes-line",
      type: "line",
      ...on(d),
      paint: { "line-color": d.style.color, "line-width": 1.2, "line-dasharray": [3, 2] },
    },
  ],
  urban_zones: (d) => [
    {
      id: "urban_zones-fill",
      type: "fill",
      ...on(d),
      paint: {
        "fill-color": match("zone_type", PLU_COLORS, "#cbd5e1") as never,
        "fill-opacity": 0.25,
        "fill-antialias": false,
      },
    },
  ],
  env_zones: (d) => [
    {
      id: "env_zones-fill",
      type: "fill",
      ...on(d),
      paint: {
        "fill-color": match("zone_type", ZONE_COLORS, d.style.color) as never,
        "fill-opacity": 0.28,
        "fill-antialias": false,
      },
    },
    {
      id: "env_zones-line",
      type: "line",
      ...on(d),
      paint: { "line-color": match("zone_type", ZONE_COLORS, d.style.color) as never, "line-width": 1.5 },
    },
  ],
  parcels: (d) => [
    {
      id: "parcels-fill",
      type: "fill",
      ...on(d),
      paint: {
        "fill-color": ["case", ["boolean", ["feature-state", "selected"], false], "#f7b500", "#ffffff"],
        "fill-opacity": ["case", ["boolean", ["feature-state", "selected"], false], 0.7, 0.15],
        // Outlines come from parcels-line: skip the fill's own antialiasing pass (the densest layer).
        "fill-antialias": false,
      },
    },
    {
      id: "parcels-line",
      type: "line",
      ...on(d),
      paint: {
        "line-color": ["case", ["boolean", ["feature-state", "selected"], false], "#b87d00", d.style.color],
        "line-width": ["interpolate", ["linear"], ["zoom"], 10, 0.3, 17, 1.2],
      },
    },
  ],
  leads: (d) => [
    {
      id: "leads-fill",
      type: "fill",
      ...on(d),
      filter: ["==", ["geometry-type"], "Polygon"],
      paint: { "fill-color": STATUS_MATCH as never, "fill-opacity": 0.45 },
    },
    {
      id: "leads-line",
      type: "line",
      ...on(d),
      filter: ["==", ["geometry-type"], "Polygon"],
      paint: { "line-color": STATUS_MATCH as never, "line-width": 2 },
    },
    {
      id: "leads-cluster",
      type: "circle",
      ...on(d),
      filter: ["==", ["geometry-type"], "Point"],
      paint: {
        "circle-color": STATUS_MATCH as never,
        "circle-radius": ["interpolate", ["linear"], ["coalesce", ["get", "count"], 1], 1, 6, 100, 18],
        "circle-stroke-color": "#fff",
        "circle-stroke-width": 1.5,
        "circle-opacity": 0.85,
      },
    },
  ],
  substations: (d) => [
    {
      id: "substations-circle",
      type: "circle",
      ...on(d),
      paint: {
        "circle-color": d.style.color,
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
  ],
};

/** A layer without a dedicated paint, drawn from its registry hints (kind and colour). */
export function genericLayers(d: MapLayerDef): LayerSpecification[] {
  const color = d.style.color;
  if (d.style.kind === "circle") {
    return [
      {
        id: `${d.name}-circle`,
        type: "circle",
        ...on(d),
        paint: { "circle-color": color, "circle-radius": 4, "circle-stroke-color": "#fff", "circle-stroke-width": 1 },
      },
    ];
  }
  const line: LayerSpecification = { id: `${d.name}-line`, type: "line", ...on(d), paint: { "line-color": color, "line-width": 1.2 } };
  if (d.style.kind !== "fill") return [line];
  return [
    { id: `${d.name}-fill`, type: "fill", ...on(d), paint: { "fill-color": color, "fill-opacity": 0.25, "fill-antialias": false } },
    line,
  ];
}

/** The style layers of one map layer. */
export function layersOf(d: MapLayerDef): LayerSpecification[] {
  return (PAINTS[d.name] ?? genericLayers)(d);
}

/** The style: background, optional Mapbox raster, then the registry's layers bottom to top. */
export function buildStyle(
  origin: string,
  defs: MapLayerDef[],
  opts: { mapboxToken?: string | null } = {},
): StyleSpecification {
  const sources: StyleSpecification["sources"] = {};
  for (const def of defs) {
    sources[def.name] = {
      type: "vector",
      tiles: [tileUrl(origin, def.name)],
      minzoom: def.minzoom,
      maxzoom: def.maxzoom,
      // Parcel ids are the cadastre's strings: feature-state (selection) is keyed by them.
      ...(def.name === "parcels" ? { promoteId: "id" } : {}),
    };
  }
  const layers: LayerSpecification[] = [
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
  for (const def of [...defs].sort((a, b) => a.style.z - b.style.z)) layers.push(...layersOf(def));
  return { version: 8, sources, layers };
}

/** Which style layers belong to a switcher entry. */
export function styleLayersOf(def: MapLayerDef): string[] {
  return layersOf(def).map((l) => l.id);
}
