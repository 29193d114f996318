import { describe, expect, it } from "vitest";
import {
  centreOf,
  formatArea,
  formatHectares,
  formatLength,
  haversine,
  lineLength,
  pointInPolygon,
  polygonArea,
  ringArea,
} from "./geo";

// Figures checked against PostGIS on its sphere: ST_Distance(a::geography, b::geography, false)
// and ST_Area(g::geography, false) use the mean radius 6 371 008.8 m; ours is the WGS84
// equatorial radius (turf's), 0.11 % larger: distances scale by the ratio, areas by its square.
const RATIO = 6_378_137 / 6_371_008.8;

describe("haversine", () => {
  it("is zero for a point and symmetric", () => {
    expect(haversine([4.65, 45.96], [4.65, 45.96])).toBe(0);
    expect(haversine([4.65, 45.96], [4.7, 46])).toBeCloseTo(haversine([4.7, 46], [4.65, 45.96]), 9);
  });
  it("gives a degree of latitude and a degree of longitude at the equator", () => {
    // 2πR / 360
    expect(haversine([0, 0], [0, 1])).toBeCloseTo(111_319.49, 1);
    expect(haversine([0, 0], [1, 0])).toBeCloseTo(111_319.49, 1);
  });
  it("shrinks a degree of longitude by cos(latitude)", () => {
    const d = haversine([4, 45], [5, 45]);
    // Great circle slightly shorter than the parallel (111 319.49 × cos 45° = 78 715.0).
    expect(d).toBeLessThan(78_715.0);
    expect(d).toBeGreaterThan(78_700);
  });
  it("matches PostGIS' sphere once the radius is scaled (Lyon → Paris)", () => {
    // SELECT ST_Distance('POINT(4.8357 45.764)'::geography, 'POINT(2.3522 48.8566)'::geography, false)
    // = 391 499.47 m (mean radius) → ×RATIO
    expect(haversine([4.8357, 45.764], [2.3522, 48.8566]) / RATIO).toBeCloseTo(391_499.47, 0);
  });
});

describe("lineLength", () => {
  it("sums the segments", () => {
    const pts: [number, number][] = [
      [0, 0],
      [0, 1],
      [1, 1],
    ];
    expect(lineLength(pts)).toBeCloseTo(haversine(pts[0], pts[1]) + haversine(pts[1], pts[2]), 6);
    expect(lineLength([[0, 0]])).toBe(0);
    expect(lineLength([])).toBe(0);
  });
});

describe("ringArea", () => {
  it("gives a 1°×1° cell at the equator: R²·Δλ·(sin φ2 − sin φ1)", () => {
    const R = 6_378_137;
    const want = R * R * (Math.PI / 180) * Math.sin(Math.PI / 180);
    const cell: [number, number][] = [
      [0, 0],
      [1, 0],
      [1, 1],
      [0, 1],
      [0, 0],
    ];
    expect(ringArea(cell)).toBeCloseTo(want, -2);
    // PostGIS: ST_Area(ST_MakeEnvelope(0, 0, 1, 1, 4326)::geography, false) = 12 364 031 798.5 m²
    // (its edges are great circles, ours follow the formula: 0.003 % apart at this size).
    expect(Math.abs(ringArea(cell) / RATIO ** 2 / 12_364_031_798.5 - 1)).toBeLessThan(1e-4);
    // Open or closed, clockwise or not: the same area.
    expect(ringArea(cell.slice(0, 4))).toBeCloseTo(want, -2);
    expect(ringArea([...cell].reverse())).toBeCloseTo(want, -2);
  });
  it("matches a 100 m × 100 m square near 69114 within 0.5 %", () => {
    // 100 m north = 100 / 111 194.9 (PostGIS' mean-radius metre) degrees; east divided by cos φ.
    const lat = 45.963;
    const dLat = 100 / ((Math.PI / 180) * 6_378_137);
    const dLon = dLat / Math.cos((lat * Math.PI) / 180);
    const sq: [number, number][] = [
      [4.651, lat],
      [4.651 + dLon, lat],
      [4.651 + dLon, lat + dLat],
      [4.651, lat + dLat],
    ];
    expect(ringArea(sq)).toBeGreaterThan(9_950);
    expect(ringArea(sq)).toBeLessThan(10_050);
  });
  it("has no area under three vertices", () => {
    expect(ringArea([[0, 0], [1, 1]])).toBe(0);
  });
  it("removes holes", () => {
    const outer: [number, number][] = [[0, 0], [2, 0], [2, 2], [0, 2]];
    const hole: [number, number][] = [[0.5, 0.5], [1.5, 0.5], [1.5, 1.5], [0.5, 1.5]];
    expect(polygonArea([outer, hole])).toBeCloseTo(ringArea(outer) - ringArea(hole), 3);
    expect(polygonArea([])).toBe(0);
  });
});

describe("pointInPolygon", () => {
  const lasso: [number, number][] = [
    [0, 0],
    [10, 0],
    [10, 10],
    [5, 4], // a notch: the lasso is not convex
    [0, 10],
  ];
  it("tells inside from outside, notch included", () => {
    expect(pointInPolygon([2, 2], lasso)).toBe(true);
    expect(pointInPolygon([5, 8], lasso)).toBe(false);
    expect(pointInPolygon([11, 5], lasso)).toBe(false);
    expect(pointInPolygon([9, 8], lasso)).toBe(true);
  });
  it("centres a set of points", () => {
    expect(centreOf([[0, 0], [4, 0], [4, 2], [0, 2]])).toEqual([2, 1]);
  });
});

describe("French formats", () => {
  it("writes lengths and areas the French way", () => {
    expect(formatLength(850.4)).toBe("850 m");
    expect(formatLength(1243)).toBe("1,24 km");
    expect(formatArea(640.2)).toBe("640 m²");
    expect(formatArea(23_456)).toBe("2,35 ha");
    expect(formatArea(12_400_000).replace(/\s/g, " ")).toBe("12,40 km²");
    expect(formatHectares(34_700)).toBe("3,47 ha");
    expect(formatHectares(12_345_678).replace(/\s/g, " ")).toBe("1 234,57 ha");
  });
});
