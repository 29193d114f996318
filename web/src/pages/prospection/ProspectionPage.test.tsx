import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter } from "react-router-dom";
import { AuthProvider } from "../../api/auth";
import { setToken } from "../../api/client";
import ProspectionPage from "./ProspectionPage";

// MapLibre needs WebGL, which jsdom has not: the map is the browser suite's (e2e/prospection.mjs).
vi.mock("./ProspectionMap", () => ({ default: () => null }));

const CRITERIA = {
  gap_m: 5,
  min_buildable_ha: 5,
  max_poste_distance_m: 5000,
  min_capacity_mw: "site",
  excluded_zones: { rnn: 50 },
  plu_allowed_types: ["U", "AU"],
  plu_allowed_labels: ["Npv"],
  plu_unknown_passes: true,
  exclude_active_leads: true,
  max_slope_pct: 15,
  max_north_share: 50,
  min_specific_yield: 1100,
};
const DEFAULTS = {
  criteria: CRITERIA,
  zone_types: ["rnn", "znieff1"],
  plu_types: ["U", "AU", "A", "N"],
  max_communes: 200,
  max_departements: 3,
  max_ranks: 50,
  max_results: 200,
  score_criteria: [
    { key: "grid", label: "Réseau (distance et capacité)", weight: 30 },
    { key: "terrain", label: "Relief (pente et exposition)", weight: 10 },
  ],
};
const SEARCH = {
  id: 3,
  name: "Commune 69114",
  owner_id: 1,
  territory: { communes: ["69114"] },
  criteria: CRITERIA,
  created_at: "2026-12-06T02:00:00Z",
  updated_at: "2026-12-06T02:00:00Z",
};
const run = (status: string, extra: Record<string, unknown> = {}) => ({
  id: 11,
  search_id: 3,
  status,
  territory: SEARCH.territory,
  criteria: CRITERIA,
  counts: null,
  coverage: null,
  messages: null,
  error: null,
  started_at: "2026-12-06T02:00:00Z",
  finished_at: null,
  ...extra,
});
const site = (rank: number, score: number, ha: number) => ({
  id: rank,
  rank,
  parcel_ids: [`69114000AB000${rank}`],
  area_m2: ha * 10_000,
  buildable_m2: ha * 10_000,
  score,
  completeness: 1,
  facts: {
    parcel_count: 1,
    chosen_poste: { id: 1, name: "AMPERE", distance_m: 4200, capacity_available_mw: 8.9 },
    verdicts: {
      poste: { verdict: "pass", reason: "Poste AMPERE à ≈ 4,2 km" },
      slope: { verdict: "pass", reason: "Pente moyenne 6,0 % ≤ 15 %" },
      north_share: { verdict: "absent", reason: "Exposition nord : données absentes pour cette zone" },
    },
    terrain: null,
    breakdown: {
      grid: { weight: 30, points: 45.3, value: 0.75, reason: "Poste AMPERE", data: "real" },
      terrain: { weight: 10, points: 4.5, value: 0.5, reason: "Relief : données absentes", data: "missing" },
    },
  },
  lead_id: null,
  geometry: null,
});
const DONE = run("succeeded", {
  counts: { parcels_scanned: 6032, sites_found: 35, sites_kept: 2 },
  finished_at: "2026-12-06T02:00:02Z",
});
const SITES = { items: [site(1, 85.3, 6.02), site(2, 79.9, 12.5)], total: 2, page: 1, page_size: 200 };

function json(body: unknown, status = 200, headers: Record<string, string> = {}) {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}

/** The API as the page talks to it; `startAnswer` is POST …/runs, `polls` the run's successive states. */
function stubApi(startAnswer: () => Response, polls: unknown[]) {
  const calls: string[] = [];
  let poll = 0;
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: string, init?: RequestInit) => {
      const url = String(input);
      const method = init?.method ?? "GET";
      calls.push(`${method} ${url}`);
      if (url === "/api/site-searches/defaults") return json(DEFAULTS);
      if (url === "/api/web/config") return json({});
      if (url === "/api/openapi.json") return json({ paths: {} });
      if (url === "/api/site-searches" && method === "GET") return json({ items: [] });
      if (url === "/api/site-searches" && method === "POST") return json(SEARCH, 201);
      if (url === "/api/site-searches/3" && method === "GET") return json(SEARCH);
      if (url === "/api/site-searches/3/runs" && method === "POST") return startAnswer();
      if (url === "/api/site-searches/3/runs") return json([]);
      if (url === "/api/site-searches/3/runs/11") return json(polls[Math.min(poll++, polls.length - 1)]);
      if (url.startsWith("/api/site-searches/3/runs/11/sites")) return json(SITES);
      if (url.startsWith("/api/reference/search")) return json({ items: [] });
      if (url === "/api/reference/criteria")
        return json({ items: [{ key: "grid", label: "Réseau (distance et capacité)", weight: 30 }] });
      return json({ title: "Not Found", detail: url }, 404);
    }),
  );
  return calls;
}

function renderPage(path = "/prospection") {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={qc}>
      <MemoryRouter initialEntries={[path]}>
        <AuthProvider>
          <ProspectionPage />
        </AuthProvider>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

async function pickCommuneAndRun() {
  const box = await screen.findByRole("combobox", { name: /Commune ou département/ });
  fireEvent.change(box, { target: { value: "69114" } });
  await screen.findByRole("option", { name: /Commune 69114/ });
  fireEvent.keyDown(box, { key: "Enter" });
  await screen.findByRole("list", { name: "Territoire choisi" });
  fireEvent.click(screen.getByRole("button", { name: /Lancer la recherche/ }));
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

describe("ProspectionPage", () => {
  it("starts from the server's defaults", async () => {
    stubApi(() => json(DONE, 201), []);
    renderPage();
    expect(await screen.findByLabelText(/Surface constructible min\./)).toHaveValue("5");
    expect(screen.getByLabelText(/Distance max\. au poste source/)).toHaveValue("5000");
    expect(screen.getByLabelText("Réserve naturelle nationale")).toBeChecked();
    expect(screen.getByLabelText("ZNIEFF type I")).not.toBeChecked();
    expect(screen.getByLabelText(/Pente moyenne max\./)).toHaveValue("15");
    expect(screen.getByLabelText(/Part exposée au nord max\./)).toHaveValue("50");
  });

  it("sends the terrain criteria typed the French way, switched off as null, and holds them to 0–100", async () => {
    const calls = stubApi(() => json(DONE, 201), []);
    const inner = globalThis.fetch as unknown as (u: string, i?: RequestInit) => Promise<Response>;
    let sent: { criteria?: Record<string, unknown> } | null = null;
    vi.stubGlobal(
      "fetch",
      vi.fn(async (input: string, init?: RequestInit) => {
        if (String(input) === "/api/site-searches" && init?.method === "POST") sent = JSON.parse(String(init.body));
        return inner(input, init);
      }),
    );
    renderPage();
    const slope = await screen.findByLabelText(/Pente moyenne max\./);
    fireEvent.change(slope, { target: { value: "120" } });
    await pickCommuneAndRun();
    expect(await screen.findByText("Entre 0 et 100")).toBeInTheDocument();
    expect(slope).toHaveAttribute("aria-invalid", "true");
    expect(calls.some((c) => c.startsWith("POST"))).toBe(false);
    fireEvent.change(slope, { target: { value: "7,5" } });
    const north = screen.getByLabelText(/Part exposée au nord max\./);
    const off = within(north.parentElement!).getByRole("checkbox", { name: "sans limite" });
    fireEvent.click(off);
    expect(north).toBeDisabled();
    // The minimum specific yield, in kWh/kWc/an, from the server's default.
    const sun = screen.getByLabelText(/^Productible min\. \(kWh\/kWc\/an\)$/);
    expect(sun).toHaveValue("1100");
    fireEvent.change(sun, { target: { value: "1150" } });
    fireEvent.click(screen.getByRole("button", { name: /Lancer la recherche/ }));
    await waitFor(() => expect(sent).not.toBeNull());
    expect(sent!.criteria).toMatchObject({ max_slope_pct: 7.5, max_north_share: null, min_specific_yield: 1150 });
  });

  it("says what removed the most when the terrain removed every site", async () => {
    const none = run("succeeded", {
      counts: { parcels_scanned: 6032, sites_found: 35, removed_slope: 4, removed_north_share: 31, sites_kept: 0 },
      finished_at: "2026-12-06T02:00:02Z",
    });
    stubApi(() => json(none, 201, { location: "/api/site-searches/3/runs/11" }), [none]);
    const inner = globalThis.fetch as unknown as (u: string, i?: RequestInit) => Promise<Response>;
    vi.stubGlobal(
      "fetch",
      vi.fn(async (input: string, init?: RequestInit) =>
        String(input).startsWith("/api/site-searches/3/runs/11/sites")
          ? json({ items: [], total: 0, page: 1, page_size: 200 })
          : inner(input, init),
      ),
    );
    renderPage();
    await pickCommuneAndRun();
    const reasons = await screen.findByTestId("main-reasons");
    expect(within(reasons).getAllByRole("listitem").map((li) => li.textContent)).toEqual([
      "• 31 sites trop exposés au nord : relever la part exposée au nord admise",
      "• 4 sites trop pentus : relever la pente maximale",
    ]);
    const counts = screen.getByTestId("run-counts");
    expect(within(counts).getByText("sites trop pentus")).toBeInTheDocument();
    expect(within(counts).getByText("sites trop exposés au nord")).toBeInTheDocument();
  });

  it("polls a run the server queued (202) and shows its progress, then the ranked sites", async () => {
    const calls = stubApi(
      () => json(run("queued"), 202, { location: "/api/site-searches/3/runs/11" }),
      [
        run("running", { progress: { percent: 40, parcels_scanned: 2400, sites_found: 9 } }),
        run("running", { progress: { percent: 40, parcels_scanned: 2400, sites_found: 9 } }),
        DONE,
      ],
    );
    renderPage();
    await pickCommuneAndRun();
    const bar = await screen.findByRole("progressbar", { name: "Avancement de la recherche" });
    await waitFor(() => expect(bar).toHaveAttribute("aria-valuenow", "40"));
    expect(screen.getByText(/2\s400 parcelles examinées/)).toBeInTheDocument();
    const table = await screen.findByRole("table", { name: "Sites candidats" }, { timeout: 5000 });
    const rows = within(table).getAllByRole("row").slice(1);
    expect(rows.map((r) => r.getAttribute("data-rank"))).toEqual(["1", "2"]);
    expect(within(rows[0]).getAllByText("6,02 ha").length).toBeGreaterThan(0);
    expect(calls.filter((c) => c === "GET /api/site-searches/3/runs/11").length).toBeGreaterThanOrEqual(3);
    expect(calls).toContain("POST /api/site-searches");
    // Sorted by buildable area: the larger site first, the header says so.
    fireEvent.click(within(table).getByRole("button", { name: "Constructible" }));
    const sorted = within(table).getAllByRole("row").slice(1).map((r) => r.getAttribute("data-rank"));
    expect(sorted).toEqual(["2", "1"]);
    expect(within(table).getByRole("columnheader", { name: "Constructible" })).toHaveAttribute("aria-sort", "descending");
    // A site's card: its criteria and score breakdown.
    fireEvent.click(within(table).getByRole("button", { name: "Voir le site n° 1" }));
    const card = await screen.findByTestId("site-card");
    expect(within(card).getByText("Poste AMPERE à ≈ 4,2 km")).toBeInTheDocument();
    // The terrain's verdicts, by name, and its absent figures said so.
    expect(within(card).getByText("Pente")).toBeInTheDocument();
    expect(within(card).getByText("Pente moyenne 6,0 % ≤ 15 %")).toBeInTheDocument();
    expect(within(card).getByText("Exposition nord")).toBeInTheDocument();
    expect(within(card).getByText("Exposition nord : données absentes pour cette zone")).toBeInTheDocument();
    expect(within(card).getByText("Terrain").nextElementSibling).toHaveTextContent("données absentes");
    // The breakdown's labels are the server's (the site's score criteria: the registry's and the
    // site-only terrain), not a copy.
    expect(await within(card).findByText("Réseau (distance et capacité)")).toBeInTheDocument();
    expect(within(card).getByText("Relief (pente et exposition)")).toBeInTheDocument();
  }, 15_000);

  it("takes a synchronous answer (201) as the finished run, without polling it", async () => {
    const calls = stubApi(() => json(DONE, 201, { location: "/api/site-searches/3/runs/11" }), [DONE]);
    renderPage();
    await pickCommuneAndRun();
    await screen.findByRole("table", { name: "Sites candidats" });
    expect(screen.getByText(/Exécution n° 11 : terminée/)).toBeInTheDocument();
    expect(calls).not.toContain("GET /api/site-searches/3/runs/11");
  });

  it("cancels a running run where the API has the route", async () => {
    let cancelled = false;
    const calls = stubApi(
      () => json(run("queued"), 202, { location: "/api/site-searches/3/runs/11" }),
      [run("running", { progress: { percent: 10 } })],
    );
    const inner = globalThis.fetch as unknown as (u: string, i?: RequestInit) => Promise<Response>;
    vi.stubGlobal(
      "fetch",
      vi.fn(async (input: string, init?: RequestInit) => {
        const url = String(input);
        if (url === "/api/openapi.json")
          return json({ paths: { "/api/site-searches/{search_id}/runs/{run_id}/cancel": { post: {} } } });
        if (url === "/api/site-searches/3/runs/11/cancel" && init?.method === "POST") {
          cancelled = true;
          calls.push("POST cancel");
          return json(run("cancelled"));
        }
        if (url === "/api/site-searches/3/runs/11" && cancelled) return json(run("cancelled", { finished_at: "2026-12-06T02:00:01Z" }));
        return inner(input, init);
      }),
    );
    renderPage();
    await pickCommuneAndRun();
    fireEvent.click(await screen.findByRole("button", { name: /Annuler l'exécution/ }));
    expect(await screen.findByText(/Exécution n° 11 : annulée/, {}, { timeout: 5000 })).toBeInTheDocument();
    expect(calls).toContain("POST cancel");
    expect(screen.queryByRole("button", { name: /Annuler l'exécution/ })).toBeNull();
    expect(screen.queryByRole("table", { name: "Sites candidats" })).toBeNull();
  });

  it("says a run failed in French, the server's reason behind a disclosure", async () => {
    stubApi(
      () => json(run("queued"), 202, { location: "/api/site-searches/3/runs/11" }),
      [run("failed", { error: "QueryCanceledError: canceling statement due to statement timeout", finished_at: "2026-12-06T02:00:30Z" })],
    );
    renderPage();
    await pickCommuneAndRun();
    expect(await screen.findByText(/L'exécution a échoué : aucun résultat n'est gardé/)).toBeInTheDocument();
    expect(screen.getByText("Détail technique")).toBeInTheDocument();
    expect(screen.queryByRole("table", { name: "Sites candidats" })).toBeNull();
  });

  it("opens the search and run named in the URL (a reload, a shared link)", async () => {
    const calls = stubApi(() => json(DONE, 201), [DONE]);
    renderPage("/prospection?search=3&run=11");
    const table = await screen.findByRole("table", { name: "Sites candidats" });
    expect(within(table).getAllByRole("row")).toHaveLength(3);
    expect(screen.getByLabelText("Nom de la recherche")).toHaveValue("Commune 69114");
    expect(screen.getByText(/Exécution n° 11 : terminée/)).toBeInTheDocument();
    expect(calls).toContain("GET /api/site-searches/3");
    expect(calls.some((c) => c.startsWith("POST"))).toBe(false);
  });

  it("lets a manager give the new leads to someone, and lists what was made and skipped", async () => {
    sessionStorage.setItem("lfs.user", JSON.stringify({ id: 2, email: "m@x.fr", full_name: "Marc", role: "MANAGER" }));
    const calls = stubApi(() => json(DONE, 201, { location: "/api/site-searches/3/runs/11" }), [DONE]);
    const inner = globalThis.fetch as unknown as (u: string, i?: RequestInit) => Promise<Response>;
    let sent: unknown = null;
    vi.stubGlobal(
      "fetch",
      vi.fn(async (input: string, init?: RequestInit) => {
        const url = String(input);
        if (url.startsWith("/api/users"))
          return json({
            items: [
              { id: 7, email: "o@x.fr", full_name: "Olivia Ops", role: "OPS", is_active: true },
              { id: 8, email: "s@x.fr", full_name: "Chloé Commerciale", role: "COMMERCIAL", is_active: true },
            ],
            total: 2,
          });
        if (url === "/api/site-searches" && (init?.method ?? "GET") === "GET")
          return json({ items: [{ ...SEARCH, id: 4, name: "Les Brosses", owner_id: 7 }, { ...SEARCH, owner_id: 2 }] });
        if (url === "/api/site-searches/3/runs/11/leads" && init?.method === "POST") {
          sent = JSON.parse(String(init.body));
          return json(
            {
              created: [{ rank: 1, lead_id: 812, internal_name: "69-114-0001" }],
              skipped: [{ rank: 2, reason: "parcels_in_active_lead", detail: "…", parcel_ids: ["69114000AB0002"] }],
              enrichment_job_id: 41,
            },
            201,
          );
        }
        return inner(input, init);
      }),
    );
    renderPage();
    await pickCommuneAndRun();
    await screen.findByRole("table", { name: "Sites candidats" });
    // Another's search says whose it is; the manager's own does not.
    expect(await screen.findByText(/· par Olivia Ops/)).toBeInTheDocument();
    expect(screen.getAllByText(/· par /)).toHaveLength(1);
    const who = screen.getByLabelText("Responsable");
    expect(within(who).queryByText("Chloé Commerciale")).toBeNull(); // sales can't be given leads
    fireEvent.change(who, { target: { value: "7" } });
    fireEvent.click(screen.getByRole("checkbox", { name: "Sélectionner le site n° 1" }));
    fireEvent.click(screen.getByRole("checkbox", { name: "Sélectionner le site n° 2" }));
    fireEvent.click(screen.getByRole("button", { name: "Créer les leads" }));
    const result = await screen.findByTestId("leads-result");
    expect(sent).toEqual({ ranks: [1, 2], assignee_id: 7 });
    expect(within(result).getByText(/1 lead créé — enrichissement lancé/)).toBeInTheDocument();
    expect(within(result).getByRole("link", { name: "69-114-0001" })).toHaveAttribute("href", "/leads/812");
    expect(within(result).getByText(/Site n° 2 : parcelle déjà dans un lead ouvert : 69114000AB0002/)).toBeInTheDocument();
    expect(calls).toContain("GET /api/site-searches/3/runs/11/sites?page=1&page_size=200&geometry=true");
  });

  it("refuses to run without a territory, and says so", async () => {
    const calls = stubApi(() => json(DONE, 201), []);
    renderPage();
    fireEvent.click(await screen.findByRole("button", { name: /Lancer la recherche/ }));
    expect(await screen.findByText(/Choisir un territoire/)).toBeInTheDocument();
    expect(calls.some((c) => c.startsWith("POST"))).toBe(false);
  });
});
