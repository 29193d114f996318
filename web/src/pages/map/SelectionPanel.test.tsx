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

function json(body: unknown, status = 200) {
  const type = status >= 400 ? "application/problem+json" : "application/json";
  return new Response(JSON.stringify(body), { status, headers: { "content-type": type } });
}

function renderPanel(onCreated = vi.fn()) {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={qc}>
      <SelectionPanel
        selected={["69114000AA0006"]}
        focused="69114000AA0006"
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
    vi.stubGlobal("fetch", vi.fn(async () => json(PARCEL)));
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
        return json(PARCEL);
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
});
