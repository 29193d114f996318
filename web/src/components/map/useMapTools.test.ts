import { describe, expect, it } from "vitest";
import type maplibregl from "maplibre-gl";
import { haversine, ringArea } from "./geo";
import { measureOf, parcelsInLasso } from "./useMapTools";

/** A map whose screen is lon/lat × 100 (y down), drawing the given parcel features. */
function fakeMap(features: { id: string; area_m2: number; ring: [number, number][] }[]) {
  const project = ([lon, lat]: [number, number]) => ({ x: lon * 100, y: -lat * 100 });
  const drawn = features.map((f) => ({
    id: f.id,
    properties: { id: f.id, area_m2: f.area_m2 },
    geometry: { type: "Polygon", coordinates: [[...f.ring, f.ring[0]]] },
  }));
  const asked: unknown[] = [];
  const map = {
    getLayer: (id: string) => (id === "parcels-fill" ? {} : undefined),
    project,
    queryRenderedFeatures: (box: unknown) => {
      asked.push(box);
      return [...drawn, drawn[0]]; // a parcel cut by a tile edge comes twice
    },
  };
  return { map: map as unknown as maplibregl.Map, asked };
}

const square = (lon: number, lat: number): [number, number][] => [
  [lon, lat],
  [lon + 0.1, lat],
  [lon + 0.1, lat + 0.1],
  [lon, lat + 0.1],
];

describe("lasso", () => {
  it("catches the parcels whose centre it encloses, each once", () => {
    const { map, asked } = fakeMap([
      { id: "A", area_m2: 100, ring: square(1, -1) }, // centre (105, 95) on screen
      { id: "B", area_m2: 200, ring: square(2, -1) }, // centre (205, 95)
      { id: "C", area_m2: 300, ring: square(1, -2) }, // centre (105, 195)
    ]);
    // An L-shaped lasso around A and C, not B.
    const lasso: [number, number][] = [
      [90, 80],
      [150, 80],
      [150, 210],
      [90, 210],
    ];
    expect(parcelsInLasso(map, lasso)).toEqual([
      { id: "A", area_m2: 100 },
      { id: "C", area_m2: 300 },
    ]);
    expect(asked[0]).toEqual([
      [90, 80],
      [150, 210],
    ]);
    expect(parcelsInLasso(map, lasso.slice(0, 2))).toEqual([]); // not a polygon yet
  });
});

describe("measures", () => {
  const pts: [number, number][] = [
    [4.65, 45.96],
    [4.66, 45.96],
    [4.66, 45.97],
  ];
  it("measures a line along its vertices", () => {
    const m = measureOf("measure-line", pts);
    expect(m.area_m2).toBeNull();
    expect(m.length_m).toBeCloseTo(haversine(pts[0], pts[1]) + haversine(pts[1], pts[2]), 6);
  });
  it("measures a polygon's area and perimeter (closed)", () => {
    const m = measureOf("measure-area", pts);
    expect(m.area_m2).toBeCloseTo(ringArea(pts), 6);
    expect(m.length_m).toBeCloseTo(haversine(pts[0], pts[1]) + haversine(pts[1], pts[2]) + haversine(pts[2], pts[0]), 6);
    expect(measureOf("measure-area", pts.slice(0, 2)).area_m2).toBeNull();
  });
});
