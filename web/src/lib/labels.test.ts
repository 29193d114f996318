import { describe, expect, it } from "vitest";
import { pluLabel, zoneLabel } from "./labels";

describe("labels", () => {
  it("names zone types, never their codes", () => {
    expect(zoneLabel("ppri_rouge")).toBe("PPRI zone rouge");
    expect(zoneLabel("znieff2")).toBe("ZNIEFF de type II");
    expect(zoneLabel("nouveau_type")).toBe("autre zone (nouveau_type)");
    expect(pluLabel("A")).toBe("A — agricole");
  });
});
