import { describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen } from "@testing-library/react";
import type maplibregl from "maplibre-gl";
import type { Basemap } from "../../api/selection";
import { afterEach } from "vitest";
import type { StyleSpecification } from "maplibre-gl";
import { BASEMAP_ID, applyBasemap, basemapSource, layerAboveBasemap, loadStyleParts, showBasemap, styleParts } from "./basemap";
import BasemapSwitcher from "./BasemapSwitcher";

const PLAN: Basemap = {
  key: "plan-ign",
  label: "Plan",
  kind: "plan",
  type: "raster",
  url: "https://data.geopf.fr/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}",
  tile_size: 256,
  max_zoom: 19,
  attribution: "Plan IGN © IGN Géoplateforme",
  origins: [],
};
const PHOTO: Basemap = { ...PLAN, key: "ortho-ign", label: "Photo", kind: "photo", max_zoom: 18 };

/** Enough of a MapLibre map for applyBasemap: layers in order, sources by id. */
function fakeMap(ids: string[]) {
  const layers = ids.map((id) => ({ id }));
  const sources = new Map<string, unknown>();
  const map = {
    getLayer: (id: string) => layers.find((l) => l.id === id),
    getSource: (id: string) => sources.get(id),
    removeLayer: vi.fn((id: string) => layers.splice(layers.findIndex((l) => l.id === id), 1)),
    removeSource: vi.fn((id: string) => sources.delete(id)),
    addSource: vi.fn((id: string, s: unknown) => sources.set(id, s)),
    addLayer: vi.fn((l: { id: string }, before?: string) => {
      const i = before ? layers.findIndex((x) => x.id === before) : layers.length;
      layers.splice(i, 0, { id: l.id });
    }),
    getStyle: () => ({ layers, sources: Object.fromEntries(sources) }),
    setGlyphs: vi.fn(),
    setSprite: vi.fn(),
  };
  return { map: map as unknown as maplibregl.Map, layers, sources, raw: map };
}

describe("basemap", () => {
  it("is a raster source from the server's template", () => {
    expect(basemapSource(PHOTO)).toEqual({
      type: "raster",
      tiles: [PHOTO.url],
      tileSize: 256,
      maxzoom: 18,
      attribution: "Plan IGN © IGN Géoplateforme",
    });
  });

  it("goes right above the background, under every data layer", () => {
    expect(layerAboveBasemap(["background", "communes-line", "parcels-fill"])).toBe("communes-line");
    expect(layerAboveBasemap(["background", BASEMAP_ID, "parcels-fill"])).toBe("parcels-fill");
    expect(layerAboveBasemap(["parcels-fill"])).toBe("parcels-fill");
    const { map, layers, sources } = fakeMap(["background", "communes-line", "parcels-fill"]);
    applyBasemap(map, PLAN);
    expect(layers.map((l) => l.id)).toEqual(["background", BASEMAP_ID, "communes-line", "parcels-fill"]);
    expect((sources.get(BASEMAP_ID) as { tiles: string[] }).tiles).toEqual([PLAN.url]);
    // Switching replaces it; "Aucun" removes it.
    applyBasemap(map, PHOTO);
    expect(layers.filter((l) => l.id === BASEMAP_ID)).toHaveLength(1);
    expect((sources.get(BASEMAP_ID) as { maxzoom: number }).maxzoom).toBe(18);
    applyBasemap(map, null);
    expect(layers.map((l) => l.id)).toEqual(["background", "communes-line", "parcels-fill"]);
    expect(sources.has(BASEMAP_ID)).toBe(false);
  });
});

// A vector style as a style URL answers it: its own background, a vector source, a labelled
// layer (glyphs and sprite on the style's origin).
const STYLE: StyleSpecification = {
  version: 8,
  glyphs: "https://tiles.example.fr/fonts/{fontstack}/{range}.pbf",
  sprite: "https://tiles.example.fr/sprites/plan",
  sources: { plan: { type: "vector", tiles: ["https://tiles.example.fr/{z}/{x}/{y}.pbf"], maxzoom: 14 } },
  layers: [
    { id: "fond", type: "background", paint: { "background-color": "#f8f4ee" } },
    { id: "routes", type: "line", source: "plan", "source-layer": "routes", paint: { "line-color": "#999" } },
    { id: "noms", type: "symbol", source: "plan", "source-layer": "lieux", layout: { "text-field": ["get", "nom"] } },
  ],
};
const VECTOR: Basemap = { ...PLAN, key: "plan-vecteur", label: "Plan vecteur", type: "style", url: "https://tiles.example.fr/style.json" };

afterEach(() => vi.unstubAllGlobals());

describe("style basemaps", () => {
  it("renames a style's sources and layers under the basemap, keeping glyphs and sprite", () => {
    const parts = styleParts(STYLE, "© IGN");
    expect(Object.keys(parts.sources)).toEqual(["basemap:plan"]);
    expect(parts.sources["basemap:plan"]).toMatchObject({ type: "vector", attribution: "© IGN" });
    expect(parts.layers.map((l) => [l.id, "source" in l ? l.source : null])).toEqual([
      ["basemap:fond", null],
      ["basemap:routes", "basemap:plan"],
      ["basemap:noms", "basemap:plan"],
    ]);
    expect(parts.glyphs).toBe(STYLE.glyphs);
    expect(parts.sprite).toBe(STYLE.sprite);
  });

  it("goes under every data layer, and away when switched", () => {
    const { map, layers, sources, raw } = fakeMap(["background", "communes-line", "parcels-fill"]);
    showBasemap(map, styleParts(STYLE));
    expect(layers.map((l) => l.id)).toEqual(["background", "basemap:fond", "basemap:routes", "basemap:noms", "communes-line", "parcels-fill"]);
    expect(raw.setGlyphs).toHaveBeenCalledWith(STYLE.glyphs);
    expect(raw.setSprite).toHaveBeenCalledWith(STYLE.sprite);
    expect(layerAboveBasemap(layers.map((l) => l.id))).toBe("communes-line");
    applyBasemap(map, PLAN); // a raster one instead
    expect(layers.map((l) => l.id)).toEqual(["background", BASEMAP_ID, "communes-line", "parcels-fill"]);
    expect([...sources.keys()]).toEqual([BASEMAP_ID]);
  });

  it("fetches the style, and refuses what is not one", async () => {
    const fetch = vi.fn(async () => new Response(JSON.stringify(STYLE), { headers: { "content-type": "application/json" } }));
    vi.stubGlobal("fetch", fetch);
    const parts = await loadStyleParts(VECTOR);
    expect(String((fetch.mock.calls[0] as unknown[])[0])).toBe(VECTOR.url);
    expect(parts.layers).toHaveLength(3);
    vi.stubGlobal("fetch", vi.fn(async () => new Response("<html>", { status: 200 })));
    await expect(loadStyleParts(VECTOR)).rejects.toThrow();
    vi.stubGlobal("fetch", vi.fn(async () => new Response("{}", { status: 404 })));
    await expect(loadStyleParts(VECTOR)).rejects.toThrow("style 404");
    vi.stubGlobal("fetch", vi.fn(async () => new Response(JSON.stringify({ version: 8, sources: {} }))));
    await expect(loadStyleParts(VECTOR)).rejects.toThrow("not a style");
  });
});

describe("BasemapSwitcher", () => {
  it("offers Plan / Photo / Aucun and says which is on", () => {
    const onChange = vi.fn();
    render(<BasemapSwitcher basemaps={[PLAN, PHOTO]} value="plan-ign" onChange={onChange} failed={false} />);
    const radios = screen.getAllByRole("radio");
    expect(radios.map((r) => r.textContent)).toEqual(["Plan", "Photo", "Aucun"]);
    expect(screen.getByRole("radio", { name: "Plan" })).toHaveAttribute("aria-checked", "true");
    fireEvent.click(screen.getByRole("radio", { name: "Photo" }));
    expect(onChange).toHaveBeenCalledWith("ortho-ign");
    fireEvent.click(screen.getByRole("radio", { name: "Aucun" }));
    expect(onChange).toHaveBeenLastCalledWith(null);
    expect(screen.queryByTestId("basemap-failed")).toBeNull();
  });

  it("says discreetly when none is configured or its tiles fail", () => {
    const { rerender } = render(<BasemapSwitcher basemaps={[]} value={null} onChange={() => undefined} failed={false} />);
    expect(screen.getByRole("status")).toHaveTextContent("Aucun fond de carte configuré : les couches de données restent affichées.");
    expect(screen.queryAllByRole("radio")).toHaveLength(0);
    rerender(<BasemapSwitcher basemaps={[PLAN]} value="plan-ign" onChange={() => undefined} failed />);
    expect(screen.getByTestId("basemap-failed")).toHaveTextContent("Fond de carte indisponible");
    rerender(<BasemapSwitcher basemaps={[PLAN]} value={null} onChange={() => undefined} failed />);
    expect(screen.queryByTestId("basemap-failed")).toBeNull(); // "Aucun": nothing to fail
  });
});
