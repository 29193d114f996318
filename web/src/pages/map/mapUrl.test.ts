import { describe, expect, it } from "vitest";
import { DEFAULT_VIEW, formatView, parseView } from "./mapUrl";

describe("map view in the URL", () => {
  it("round-trips a view", () => {
    const view = { lat: 45.96321, lon: 4.65102, zoom: 15.5, layers: ["parcels", "leads"] as const };
    const back = parseView(formatView({ ...view, layers: [...view.layers] }), ["parcels", "leads"]);
    expect(back).toEqual({ ...view, layers: ["parcels", "leads"] });
  });
  it("falls back to the default on bad values and drops unknown layers", () => {
    const v = parseView(new URLSearchParams("lat=999&lon=abc&z=30&layers=parcels,bogus"), ["parcels", "leads"]);
    expect(v.lat).toBe(DEFAULT_VIEW.lat);
    expect(v.lon).toBe(DEFAULT_VIEW.lon);
    expect(v.zoom).toBe(DEFAULT_VIEW.zoom);
    expect(v.layers).toEqual(["parcels"]);
  });
  it("opens on the server's default layers when the URL names none", () => {
    const v = parseView(new URLSearchParams("lat=45&lon=4&z=12"), ["parcels", "leads", "communes"], ["leads"]);
    expect(v.layers).toEqual(["leads"]);
  });
});
