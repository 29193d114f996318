import { describe, expect, it } from "vitest";
import { outdatedReasons } from "./outdated";

describe("outdatedReasons", () => {
  it("says nothing for a lead up to date or never enriched", () => {
    expect(outdatedReasons([])).toEqual([]);
    expect(outdatedReasons(null)).toEqual([]);
  });

  it("says why, in French, with the date", () => {
    const out = outdatedReasons([
      { reason: "geometry", layer: null, at: "2026-03-02T10:00:00Z" },
      { reason: "reference", layer: "env_zones", at: "2026-03-04T10:00:00Z" },
      { reason: "reference", layer: "urban_zones", at: "2026-03-05T10:00:00Z" },
    ]);
    expect(out[0]).toMatch(/^contour modifié le .*2026/);
    expect(out[1]).toMatch(/^zones protégées mises à jour le /);
    expect(out[2]).toMatch(/^zonage d'urbanisme mis à jour le /);
  });
});
