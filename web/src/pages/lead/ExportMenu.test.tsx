import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { setToken } from "../../api/client";
import ExportMenu from "./ExportMenu";

beforeEach(() => setToken("t"));
afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

describe("ExportMenu", () => {
  it("downloads the lead as KML from the menu", async () => {
    const fetch = vi.fn(
      async (_url: RequestInfo | URL) =>
        new Response("<kml/>", {
          headers: {
            "content-type": "application/vnd.google-earth.kml+xml",
            "content-disposition": 'attachment; filename="lead-7.kml"',
          },
        }),
    );
    vi.stubGlobal("fetch", fetch);
    const createObjectURL = vi.fn(() => "blob:x");
    vi.stubGlobal("URL", Object.assign(URL, { createObjectURL, revokeObjectURL: vi.fn() }));
    const clicked: string[] = [];
    vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      clicked.push(this.download);
    });
    render(<ExportMenu leadId={7} name="69-114-0007" />);
    expect(screen.queryByRole("menu")).not.toBeInTheDocument();
    fireEvent.click(screen.getByRole("button", { name: "Exporter (GeoJSON / KML)" }));
    expect(screen.getAllByRole("menuitem").map((b) => b.textContent)).toEqual([
      "GeoJSON (QGIS, web)",
      "KML (Google Earth)",
    ]);
    fireEvent.click(screen.getByRole("menuitem", { name: "KML (Google Earth)" }));
    await waitFor(() => expect(clicked).toEqual(["lead-7.kml"]));
    expect(createObjectURL).toHaveBeenCalled();
    expect(String(fetch.mock.calls[0][0])).toContain("/api/leads/7/export.kml");
    expect(screen.queryByRole("menu")).not.toBeInTheDocument();
  });
});
