// A small map of the site: the lead's outline over our layers (parcels, zones, postes).
import { useEffect, useRef } from "react";
import maplibregl from "maplibre-gl";
import type { Geometry } from "../../api/types";
import { useMap } from "../../components/map/useMap";

function bboxOf(geometry: Geometry): [number, number, number, number] | null {
  let minx = Infinity, miny = Infinity, maxx = -Infinity, maxy = -Infinity;
  const walk = (c: unknown): void => {
    if (Array.isArray(c) && typeof c[0] === "number") {
      const [x, y] = c as number[];
      minx = Math.min(minx, x); maxx = Math.max(maxx, x);
      miny = Math.min(miny, y); maxy = Math.max(maxy, y);
    } else if (Array.isArray(c)) c.forEach(walk);
  };
  walk(geometry.coordinates);
  return Number.isFinite(minx) ? [minx, miny, maxx, maxy] : null;
}

/** The lead outlined on the map, zoomed to fit. */
export default function LeadMap({ geometry }: { geometry: Geometry | null | undefined }) {
  const container = useRef<HTMLDivElement>(null);
  const bbox = geometry ? bboxOf(geometry) : null;
  const center: [number, number] = bbox ? [(bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2] : [2.5, 46.5];
  const map = useMap(container, { center, zoom: bbox ? 15 : 5 });

  useEffect(() => {
    if (!map || !geometry) return;
    const data = { type: "Feature", properties: {}, geometry } as GeoJSON.Feature;
    const src = map.getSource("site") as maplibregl.GeoJSONSource | undefined;
    if (src) src.setData(data);
    else {
      map.addSource("site", { type: "geojson", data });
      map.addLayer({ id: "site-fill", type: "fill", source: "site", paint: { "fill-color": "#f7b500", "fill-opacity": 0.35 } });
      map.addLayer({ id: "site-line", type: "line", source: "site", paint: { "line-color": "#8a5d00", "line-width": 2.5 } });
    }
    const b = bboxOf(geometry);
    if (b) map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 40, maxZoom: 17, duration: 0 });
  }, [map, geometry]);

  return <div ref={container} className="h-72 w-full overflow-hidden rounded-md" aria-label="Carte du site" role="region" />;
}
