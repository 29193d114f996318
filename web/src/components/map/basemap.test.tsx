import { describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen } from "@testing-library/react";
import type maplibregl from "maplibre-gl";
import type { Basemap } from "../../api/selection";
import { BASEMAP_ID, applyBasemap, basemapSource, layerAboveBasemap } from "./basemap";
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
    getStyle: () => ({ layers }),
  };
  return { map: map as unknown as maplibregl.Map, layers, sources };
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
