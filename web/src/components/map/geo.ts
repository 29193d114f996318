// Geodesic measures for the map's tools (no dependency): distances along a line by the haversine
// formula and polygon areas on the sphere (the spherical-excess ring formula of Chamberlain and
// Duquette, as turf's `area`), both on a sphere of the WGS84 equatorial radius; and the planar
// point-in-polygon test the lasso uses on screen coordinates.

export type LonLat = [number, number];
export type XY = [number, number];

/** WGS84 equatorial radius (m): the sphere turf and PostGIS' spherical functions use. */
export const EARTH_RADIUS_M = 6_378_137;

const rad = (deg: number) => (deg * Math.PI) / 180;

/** Great-circle distance between two positions (m), haversine formula. */
export function haversine(a: LonLat, b: LonLat): number {
  const dLat = rad(b[1] - a[1]);
  const dLon = rad(b[0] - a[0]);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a[1])) * Math.cos(rad(b[1])) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Length of a line through the positions (m). */
export function lineLength(points: LonLat[]): number {
  let total = 0;
  for (let i = 1; i < points.length; i++) total += haversine(points[i - 1], points[i]);
  return total;
}

/** Area of a ring on the sphere (m², always positive); the ring may be open or closed. */
export function ringArea(ring: LonLat[]): number {
  const pts = ring.length > 1 && ring[0][0] === ring[ring.length - 1][0] && ring[0][1] === ring[ring.length - 1][1]
    ? ring.slice(0, -1)
    : ring;
  const n = pts.length;
  if (n < 3) return 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const lower = pts[i];
    const middle = pts[(i + 1) % n];
    const upper = pts[(i + 2) % n];
    sum += (rad(upper[0]) - rad(lower[0])) * Math.sin(rad(middle[1]));
  }
  return Math.abs((sum * EARTH_RADIUS_M * EARTH_RADIUS_M) / 2);
}

/** Area of a polygon (outer ring minus holes), m². */
export function polygonArea(rings: LonLat[][]): number {
  if (rings.length === 0) return 0;
  return Math.max(0, ringArea(rings[0]) - rings.slice(1).reduce((s, r) => s + ringArea(r), 0));
}

/** Whether a point lies inside a polygon given by its vertices (ray casting, planar). */
export function pointInPolygon(p: XY, poly: XY[]): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i];
    const [xj, yj] = poly[j];
    if (yi > p[1] !== yj > p[1] && p[0] < ((xj - xi) * (p[1] - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** The centre of a set of points (mean of the vertices; enough to place a small parcel). */
export function centreOf(points: XY[]): XY {
  const n = points.length || 1;
  return [points.reduce((s, p) => s + p[0], 0) / n, points.reduce((s, p) => s + p[1], 0) / n];
}

const fr = (value: number, digits: number) =>
  new Intl.NumberFormat("fr-FR", { maximumFractionDigits: digits, minimumFractionDigits: digits }).format(value);

/** A measured distance: "850 m", "1,24 km". */
export function formatLength(m: number): string {
  return m < 1000 ? `${fr(Math.round(m), 0)} m` : `${fr(m / 1000, 2)} km`;
}

/** A measured area: "640 m²", "2,35 ha", "12,4 km²". */
export function formatArea(m2: number): string {
  if (m2 < 10_000) return `${fr(Math.round(m2), 0)} m²`;
  if (m2 < 1_000_000) return `${fr(m2 / 10_000, 2)} ha`;
  return `${fr(m2 / 1_000_000, 2)} km²`;
}

/** A total of parcels in hectares, always in ha (the selection's running total): "3,47 ha". */
export function formatHectares(m2: number): string {
  return `${fr(m2 / 10_000, 2)} ha`;
}
