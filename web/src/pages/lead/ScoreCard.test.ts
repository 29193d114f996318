import { describe, expect, it } from "vitest";
import { orderedCriteria } from "./ScoreCard";

const registry = [
  { key: "grid", label: "Réseau (distance et capacité)", weight: 30, section: "grid", unit: "km", absent: "", description: "" },
  { key: "sun", label: "Ensoleillement", weight: 15, section: "sun", unit: "", absent: "", description: "" },
  { key: "size", label: "Taille du site", weight: 10, section: "surface", unit: "ha", absent: "", description: "" },
];

describe("orderedCriteria", () => {
  it("orders and labels the breakdown as the server's registry does", () => {
    // JSONB hands the breakdown back in its own key order.
    const rows = orderedCriteria({ sun: { value: 0.5 }, size: { value: 1 }, grid: { value: 0.2 } }, registry);
    expect(rows.map(([k, label]) => [k, label])).toEqual([
      ["grid", "Réseau (distance et capacité)"],
      ["sun", "Ensoleillement"],
      ["size", "Taille du site"],
    ]);
  });

  it("keeps a key the registry no longer has, under its key, after the known ones", () => {
    const rows = orderedCriteria({ legacy: { value: 1 }, sun: { value: 0.5 } }, registry);
    expect(rows.map(([k, label]) => [k, label])).toEqual([
      ["sun", "Ensoleillement"],
      ["legacy", "legacy"],
    ]);
  });

  it("shows every row under its key before the registry has loaded", () => {
    expect(orderedCriteria({ grid: { value: 1 } }, undefined)).toEqual([["grid", "grid", { value: 1 }]]);
  });
});
