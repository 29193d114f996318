import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter } from "react-router-dom";
import { Toaster } from "react-hot-toast";
import { AuthProvider } from "../../api/auth";
import { setToken } from "../../api/client";
import PipelinePage from "./PipelinePage";

const card = (id: number, name: string) => ({
  id,
  internal_name: `LFS-${id}`,
  name,
  commune_insee: "69114",
  commune_name: "Saint-Igny-de-Vers",
  quality_score: 72,
  area_m2: 52_300,
  assignee_id: 1,
  assignee_name: "Olivia Ops",
  status_changed_at: new Date().toISOString(),
  days_in_status: 0,
  version: 1,
});

const PIPELINE = {
  cards_per_status: 50,
  columns: [
    { status: "NEW", count: 3, cards: [card(1, "Les Brosses")] },
    { status: "ENRICHED", count: 0, cards: [] },
    { status: "QUALIFIED", count: 0, cards: [] },
    { status: "IN_REVIEW", count: 0, cards: [] },
    { status: "CLIENT_READY", count: 0, cards: [] },
    { status: "SOLD", count: 0, cards: [] },
    { status: "REJECTED", count: 0, cards: [] },
  ],
};

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

function renderPage() {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={qc}>
      <MemoryRouter>
        <AuthProvider>
          <PipelinePage />
          <Toaster />
        </AuthProvider>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

beforeEach(() => {
  sessionStorage.setItem("lfs.token", "t");
  sessionStorage.setItem("lfs.user", JSON.stringify({ id: 1, email: "o@x.fr", full_name: "Olivia", role: "OPS" }));
  setToken("t");
});
afterEach(() => {
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

describe("PipelinePage", () => {
  it("shows one column per status with the server's counts (not the number of cards)", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => json(PIPELINE)));
    renderPage();
    expect(await screen.findByText("Les Brosses")).toBeInTheDocument();
    expect(screen.getByTestId("count-NEW")).toHaveTextContent("3");
    expect(screen.getByText("+ 2 autres")).toBeInTheDocument();
    expect(screen.getAllByRole("region").length).toBe(7);
  });

  it("snaps a refused move back and shows the server's reason", async () => {
    const detail = "the role OPS can't move a lead from NEW to SOLD";
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string, init?: RequestInit) => {
        if (String(url).includes("/transition") && init?.method === "POST")
          return json({ title: "Forbidden", status: 403, detail }, 403);
        return json(PIPELINE);
      }),
    );
    renderPage();
    await screen.findByText("Les Brosses");
    fireEvent.change(screen.getByLabelText("Déplacer Les Brosses"), { target: { value: "SOLD" } });
    expect((await screen.findAllByText(new RegExp(detail))).length).toBeGreaterThan(0);
    await waitFor(() =>
      expect(within(screen.getByRole("region", { name: "Nouveau" })).getByText("Les Brosses")).toBeInTheDocument(),
    );
    expect(within(screen.getByRole("region", { name: "Vendu" })).queryByText("Les Brosses")).toBeNull();
  });
});
