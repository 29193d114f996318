import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { Toaster } from "react-hot-toast";
import { setToken } from "../../api/client";
import SelectionPanel from "./SelectionPanel";

const PARCEL = {
  type: "Feature",
  id: "69114000AA0006",
  geometry: { type: "Polygon", coordinates: [] },
  bbox: [0, 0, 0, 0],
  properties: {
    id: "69114000AA0006",
    commune: "69114",
    commune_name: "Saint-Igny-de-Vers",
    section: "AA",
    numero: "0006",
    contenance_m2: 12_340,
    area_m2: 12_301.4,
    leads: [{ id: 4, internal_name: "69-114-0004", name: "Les Brosses", status: "ENRICHED" }],
    hidden_leads: 1,
  },
};

// POST /api/parcels/constraints for the selection: a ZNIEFF touched, PLU A, the poste, a lead
// holding the parcel, and no data for... nothing here (covered); the second one says absent.
const CONSTRAINTS = {
  parcel_count: 1,
  area_m2: 12_301.4,
  contenance_m2: 12_340,
  env_zones: {
    status: "covered",
    covered_pct: 100,
    message: null,
    items: [
      { zone_type: "znieff2", label: "ZNIEFF de type II", code: "820030002", name: "Monts du Beaujolais", overlap_m2: 6150.7, share: 0.5 },
    ],
  },
  urban_zones: {
    status: "covered",
    covered_pct: 100,
    message: null,
    items: [{ zone_type: "A", label: "A", commune_insee: "69114", overlap_m2: 12_301.4, share: 1 }],
  },
  substations: {
    status: "covered",
    covered_pct: 100,
    message: null,
    radius_m: 30_000,
    nearest: { id: 3, code: "AMPER", name: "AMPÈRE", operator: "Enedis", voltage_kv: "63/20", capacity_available_mw: 8.9, distance_m: 4_250.4 },
  },
  leads: [{ id: 4, internal_name: "69-114-0004", name: "Les Brosses", status: "ENRICHED", parcel_ids: ["69114000AA0006"] }],
  hidden_leads: 1,
};

const ABSENT = {
  ...CONSTRAINTS,
  env_zones: { status: "absent", covered_pct: 0, message: "Zones protégées : données absentes pour cette zone", items: [] },
  urban_zones: { status: "partial", covered_pct: 62, message: "Zonage PLU : données sur 62 % du site seulement, absentes pour le reste", items: [] },
  substations: { status: "covered", covered_pct: 100, message: null, radius_m: 30_000, nearest: null },
  leads: [],
  hidden_leads: 0,
};

function json(body: unknown, status = 200) {
  const type = status >= 400 ? "application/problem+json" : "application/json";
  return new Response(JSON.stringify(body), { status, headers: { "content-type": type } });
}

function renderPanel(onCreated = vi.fn(), selected = ["69114000AA0006"], areas: Map<string, number> = new Map()) {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={qc}>
      <SelectionPanel
        selected={selected}
        areas={areas}
        focused={selected[0]}
        onFocus={() => undefined}
        onRemove={() => undefined}
        onClear={() => undefined}
        onCreated={onCreated}
      />
      <Toaster />
    </QueryClientProvider>,
  );
  return onCreated;
}

beforeEach(() => setToken("t"));
afterEach(() => vi.unstubAllGlobals());

describe("SelectionPanel", () => {
  it("shows the declared contenance and the leads that already hold the parcel", async () => {
    vi.stubGlobal("fetch", vi.fn(async (url: string) => json(String(url).includes("constraints") ? CONSTRAINTS : PARCEL)));
    renderPanel();
    expect(await screen.findByText("Les Brosses (Enrichi), 1 lead non visible")).toBeInTheDocument();
    expect(screen.getByText(/12\s340 m²/)).toBeInTheDocument();
  });

  it("on a duplicate, names the other lead and creates only with a reason", async () => {
    const posts: Record<string, unknown>[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string, init?: RequestInit) => {
        if (String(url).endsWith("/api/leads") && init?.method === "POST") {
          const body = JSON.parse(String(init.body));
          posts.push(body);
          if (!body.allow_duplicate)
            return json(
              {
                status: 409,
                title: "Conflict",
                code: "lead.parcels_taken",
                detail: "taken",
                other_leads: [{ id: 4, internal_name: "69-114-0004", status: "ENRICHED", parcel_ids: ["69114000AA0006"] }],
              },
              409,
            );
          return json({ id: 9, internal_name: "69-114-0009" }, 201);
        }
        return json(String(url).includes("constraints") ? CONSTRAINTS : PARCEL);
      }),
    );
    const onCreated = renderPanel();
    fireEvent.click(await screen.findByRole("button", { name: /Créer un lead/ }));
    expect(await screen.findByTestId("parcels-taken")).toHaveTextContent("69-114-0004 (69114000AA0006)");
    const again = screen.getByRole("button", { name: /Créer quand même/ });
    expect(again).toBeDisabled(); // a reason first
    fireEvent.change(screen.getByLabelText("Motif pour créer le doublon"), { target: { value: "variante" } });
    fireEvent.click(again);
    await waitFor(() => expect(onCreated).toHaveBeenCalledWith(9));
    expect(posts.at(-1)).toMatchObject({ allow_duplicate: true, duplicate_reason: "variante" });
    expect(posts[0]).not.toHaveProperty("allow_duplicate");
  });

  it("lists the constraints before the lead exists, with the total area in ha", async () => {
    const asked: string[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string, init?: RequestInit) => {
        if (String(url).includes("constraints")) {
          asked.push(String(init?.body));
          return json(CONSTRAINTS);
        }
        return json(PARCEL);
      }),
    );
    renderPanel();
    const list = await screen.findByTestId("constraints");
    expect(list).toHaveTextContent(/ZNIEFF de type II — Monts du Beaujolais \(50\s% de la sélection\)/);
    expect(list).not.toHaveTextContent("znieff2");
    expect(list).toHaveTextContent("A — agricole");
    expect(list).toHaveTextContent(/AMPÈRE à 4,3 km · capacité disponible 8,9 MW/);
    expect(screen.getByTestId("constraints-leads")).toHaveTextContent("Les Brosses (Enrichi) : 69114000AA0006");
    expect(list).toHaveTextContent("1 autre lead actif (non visible pour vous)");
    // Total from the server (the tile area of this parcel is not known here).
    expect(screen.getByTestId("selection-total")).toHaveTextContent("Surface totale : 1,23 ha");
    expect(JSON.parse(asked[0])).toEqual({ parcel_ids: ["69114000AA0006"] });
  });

  it("says données absentes instead of nothing, and totals the tiles' areas at once", async () => {
    vi.stubGlobal("fetch", vi.fn(async (url: string) => json(String(url).includes("constraints") ? ABSENT : PARCEL)));
    renderPanel(vi.fn(), ["69114000AA0006", "69114000AA0007"], new Map([["69114000AA0006", 12_301.4], ["69114000AA0007", 22_400]]));
    expect(screen.getByTestId("selection-total")).toHaveTextContent("Surface totale : 3,47 ha");
    const list = await screen.findByTestId("constraints");
    expect(list).toHaveTextContent("Zones protégées : données absentes pour cette zone");
    expect(list).not.toHaveTextContent("Aucune zone protégée touchée");
    expect(list).toHaveTextContent("Zonage PLU : données sur 62 % du site seulement");
    expect(list).toHaveTextContent("Aucun poste dans un rayon de 30 km dans les données chargées");
    expect(list).toHaveTextContent("Aucune parcelle déjà dans un lead actif");
  });
});
