import { describe, expect, it } from "vitest";
import type { MapLayerDef } from "../../api/reference";
import { buildStyle, defaultLayers, styleLayersOf } from "./style";

function def(name: string, kind: string, z: number, extra: Partial<MapLayerDef> = {}): MapLayerDef {
  return {
    name,
    label: name,
    geometry_type: kind === "circle" ? "Point" : "Polygon",
    minzoom: 6,
    maxzoom: 14,
    reference: true,
    factor: false,
    style: { kind, color: "#0ea5e9", z },
    visible: false,
    description: "",
    ...extra,
  };
}

describe("the map style from the server's layer registry", () => {
  const defs = [
    def("substations", "circle", 70, { minzoom: 5, visible: true }),
    def("wind_zones", "fill", 35, { minzoom: 7, maxzoom: 15 }),
    def("communes", "line", 10, { visible: true }),
  ];
  const style = buildStyle("https://lfs.test", defs);

  it("takes each source's zoom range from the registry", () => {
    expect(style.sources.wind_zones).toMatchObject({
      type: "vector",
      tiles: ["https://lfs.test/tiles/wind_zones/{z}/{x}/{y}.mvt"],
      minzoom: 7,
      maxzoom: 15,
    });
    expect(style.sources.substations).toMatchObject({ minzoom: 5, maxzoom: 14 });
  });

  it("draws a layer without its own paint from its hints, in the registry's z order", () => {
    const ids = style.layers.map((l) => l.id);
    expect(ids).toEqual(["background", "communes-line", "wind_zones-fill", "wind_zones-line", "substations-circle"]);
    const fill = style.layers.find((l) => l.id === "wind_zones-fill");
    expect(fill).toMatchObject({ type: "fill", source: "wind_zones", "source-layer": "wind_zones" });
    expect(styleLayersOf(defs[1])).toEqual(["wind_zones-fill", "wind_zones-line"]);
  });

  it("opens on the layers the registry marks visible", () => {
    expect(defaultLayers(defs)).toEqual(["substations", "communes"]);
  });
});
