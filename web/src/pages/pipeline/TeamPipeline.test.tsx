import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter, useLocation } from "react-router-dom";
import { Toaster } from "react-hot-toast";
import { AuthProvider } from "../../api/auth";
import { setToken } from "../../api/client";
import PipelinePage from "./PipelinePage";
import { rangeOf } from "./LeadList";
import { paramsFromView, viewFromParams } from "./SavedViews";
import { sumTotals, totalsText, totalsTitle } from "./totals";

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
  allowed_transitions: ["ENRICHED", "REJECTED"],
});

const empty = (status: string) => ({ status, count: 0, cards: [], area_m2_total: 0, mwc_total: null, mwc_known: 0 });
const PIPELINE = {
  cards_per_status: 50,
  columns: [
    {
      status: "NEW",
      count: 4,
      cards: [card(1, "Les Brosses"), card(2, "Le Pré"), card(3, "La Combe"), card(4, "Les Vignes")],
      area_m2_total: 124_000,
      mwc_total: 6.1,
      mwc_known: 3,
    },
    ...["ENRICHED", "QUALIFIED", "IN_REVIEW", "CLIENT_READY", "SOLD", "REJECTED"].map(empty),
  ],
};
const USERS = {
  items: [
    { id: 7, email: "jean@x.fr", full_name: "Jean Dupont", role: "OPS", is_active: true },
    { id: 8, email: "sophie@x.fr", full_name: "Sophie Petit", role: "COMMERCIAL", is_active: true },
  ],
  total: 2,
  page: 1,
  page_size: 200,
};
const VIEWS = [
  {
    id: 11,
    name: "Rhône 60+",
    filters: { department: "69", score_min: 60, view: "list" },
    shared: false,
    owner_id: 1,
    owner_name: "Marc",
    mine: true,
    created_at: "2026-12-06T05:00:00Z",
    updated_at: "2026-12-06T05:00:00Z",
  },
  {
    id: 12,
    name: "À relire",
    filters: { q: "relire" },
    shared: true,
    owner_id: 2,
    owner_name: "Alice Martin",
    mine: false,
    created_at: "2026-12-06T05:00:00Z",
    updated_at: "2026-12-06T05:00:00Z",
  },
];

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

let location = "";
function Spy() {
  location = useLocation().search;
  return null;
}

const calls: { url: string; method: string; body: unknown }[] = [];
function server(bulk?: (body: Record<string, unknown>) => unknown) {
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init?: RequestInit) => {
      const method = init?.method ?? "GET";
      const body = init?.body ? JSON.parse(String(init.body)) : undefined;
      calls.push({ url: String(url), method, body });
      if (String(url).startsWith("/api/users")) return json(USERS);
      if (String(url).startsWith("/api/saved-views")) {
        if (method === "POST") return json({ ...VIEWS[0], id: 13, name: body.name, filters: body.filters }, 201);
        return json(VIEWS);
      }
      if (String(url) === "/api/leads/bulk" && bulk) return json(bulk(body));
      return json(PIPELINE);
    }),
  );
}

function renderPage(url = "/pipeline?view=list") {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={qc}>
      <MemoryRouter initialEntries={[url]}>
        <AuthProvider>
          <PipelinePage />
          <Spy />
          <Toaster />
        </AuthProvider>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

beforeEach(() => {
  calls.length = 0;
  sessionStorage.setItem("lfs.token", "t");
  sessionStorage.setItem("lfs.user", JSON.stringify({ id: 1, email: "m@x.fr", full_name: "Marc", role: "MANAGER" }));
  setToken("t");
});
afterEach(() => {
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

describe("column totals", () => {
  it("formats hectares and MWc in French and says when power is missing", () => {
    expect(totalsText({ count: 4, area_m2_total: 124_000, mwc_total: 6.1, mwc_known: 3 })).toBe("12,4 ha · 6,1 MWc");
    expect(totalsTitle({ count: 4, area_m2_total: 124_000, mwc_total: 6.1, mwc_known: 3 })).toContain("3 leads sur 4");
    expect(totalsText({ count: 2, area_m2_total: 30_000, mwc_total: null, mwc_known: 0 })).toBe(
      "3 ha · MWc : données absentes",
    );
    expect(totalsText({ count: 0 })).toBe("0 ha · 0 MWc");
    const all = sumTotals([
      { count: 1, area_m2_total: 10_000, mwc_total: 1.5, mwc_known: 1 },
      { count: 2, area_m2_total: 20_000, mwc_total: null, mwc_known: 0 },
    ]);
    expect(all).toEqual({ count: 3, area_m2_total: 30_000, mwc_total: 1.5, mwc_known: 1 });
  });

  it("shows the server's totals on the Kanban columns and the list", async () => {
    server();
    renderPage("/pipeline?view=board");
    expect(await screen.findByTestId("totals-NEW")).toHaveTextContent("12,4 ha · 6,1 MWc");
    expect(screen.getByTestId("totals-ENRICHED")).toHaveTextContent("0 ha · 0 MWc");
    fireEvent.click(screen.getByRole("button", { name: "Liste" }));
    expect(await screen.findByTestId("list-totals")).toHaveTextContent("Total : 4 leads · 12,4 ha · 6,1 MWc");
  });
});

describe("bulk actions", () => {
  it("selects a range with shift-click and assigns it; a refused lead is named with its reason", async () => {
    server((body) => ({
      ok: 2,
      failed: 1,
      results: (body.ids as number[]).map((id) =>
        id === 3
          ? { id, ok: false, status: 404, code: "lead.not_found", message: "Lead introuvable" }
          : { id, ok: true, status: 200 },
      ),
    }));
    renderPage();
    const list = await screen.findByTestId("lead-list");
    fireEvent.click(within(list).getByLabelText("Sélectionner Les Brosses"));
    fireEvent.click(within(list).getByLabelText("Sélectionner La Combe"), { shiftKey: true });
    expect(await screen.findByTestId("bulk-count")).toHaveTextContent("3 leads sélectionnés");
    expect(within(list).getByLabelText("Sélectionner Les Vignes")).not.toBeChecked();
    const who = screen.getByLabelText("Responsable des leads sélectionnés") as HTMLSelectElement;
    // Sales users can't take leads: not offered.
    expect(Array.from(who.options).map((o) => o.text)).toEqual(["Assigner à…", "Personne (désassigner)", "Jean Dupont"]);
    fireEvent.change(who, { target: { value: "7" } });
    fireEvent.click(screen.getByRole("button", { name: "Assigner" }));
    await waitFor(() => expect(calls.some((c) => c.url === "/api/leads/bulk")).toBe(true));
    expect(calls.find((c) => c.url === "/api/leads/bulk")?.body).toEqual({ action: "assign", ids: [1, 2, 3], assignee_id: 7 });
    const refused = await screen.findByTestId("bulk-refused");
    expect(refused).toHaveTextContent("La Combe :");
    expect((await screen.findAllByText("2 leads assignés, 1 lead refusé")).length).toBeGreaterThan(0);
  });

  it("asks a reason before rejecting the selection", async () => {
    server((body) => ({ ok: 1, failed: 0, results: (body.ids as number[]).map((id) => ({ id, ok: true, status: 200 })) }));
    renderPage();
    const list = await screen.findByTestId("lead-list");
    fireEvent.click(within(list).getByLabelText("Sélectionner Le Pré"));
    fireEvent.change(screen.getByLabelText("Nouveau statut des leads sélectionnés"), { target: { value: "REJECTED" } });
    fireEvent.click(screen.getByRole("button", { name: "Déplacer" }));
    const dialog = await screen.findByRole("dialog");
    fireEvent.change(within(dialog).getByRole("textbox"), { target: { value: "doublon" } });
    fireEvent.click(within(dialog).getByRole("button", { name: "Confirmer" }));
    await waitFor(() =>
      expect(calls.find((c) => c.url === "/api/leads/bulk")?.body).toEqual({
        action: "transition",
        ids: [2],
        status: "REJECTED",
        reason: "doublon",
      }),
    );
    await waitFor(() => expect(screen.queryByTestId("bulk-bar")).toBeNull()); // all done: cleared
  });

  it("offers no selection to OPS", async () => {
    sessionStorage.setItem("lfs.user", JSON.stringify({ id: 1, email: "o@x.fr", full_name: "Olivia", role: "OPS" }));
    server();
    renderPage();
    const list = await screen.findByTestId("lead-list");
    expect(within(list).queryByLabelText("Sélectionner Les Brosses")).toBeNull();
  });

  it("computes a shift-click range in list order, either way", () => {
    expect(rangeOf([5, 1, 9, 4], 1, 4)).toEqual([1, 9, 4]);
    expect(rangeOf([5, 1, 9, 4], 4, 5)).toEqual([5, 1, 9, 4]);
    expect(rangeOf([5, 1], 8, 1)).toEqual([1]);
  });
});

describe("sort", () => {
  it("sorts the cards through the URL, sent to the server", async () => {
    server();
    renderPage("/pipeline?view=list");
    await screen.findByTestId("lead-list");
    fireEvent.change(screen.getByLabelText("Trier les leads"), { target: { value: "-quality_score" } });
    await waitFor(() => expect(location).toBe("?view=list&sort=-quality_score"));
    await waitFor(() => expect(calls.some((c) => c.url.startsWith("/api/pipeline") && c.url.includes("sort=-quality_score"))).toBe(true));
  });
});

describe("saved views", () => {
  it("maps the URL to a view's filters and back", () => {
    const params = new URLSearchParams(
      "q=lyon&assignee=7&department=69&score_min=60&sort=-area_m2&view=list&archived=1&other=x",
    );
    const f = viewFromParams(params);
    expect(f).toEqual({
      q: "lyon",
      assignee: 7,
      department: "69",
      score_min: 60,
      sort: "-area_m2",
      view: "list",
      archived: true,
    });
    expect(paramsFromView({ department: "01" }, params).toString()).toBe("other=x&department=01");
  });

  it("picks a view (its filters go to the URL) and saves the current one", async () => {
    server();
    renderPage("/pipeline?view=list&q=nord");
    const picker = (await screen.findByLabelText("Vues enregistrées")) as HTMLSelectElement;
    await waitFor(() => expect(picker.options.length).toBe(3));
    expect(within(picker).getByRole("group", { name: "Vues de l'équipe" })).toHaveTextContent("À relire — Alice Martin");
    fireEvent.change(picker, { target: { value: "11" } });
    await waitFor(() => expect(location).toBe("?department=69&score_min=60&view=list"));
    expect(picker.value).toBe("11");
    expect(screen.getByRole("button", { name: "Supprimer la vue « Rhône 60+ »" })).toBeInTheDocument();
    fireEvent.click(screen.getByRole("button", { name: /Enregistrer la vue/ }));
    const dialog = await screen.findByRole("dialog");
    fireEvent.change(within(dialog).getByLabelText("Nom de la vue"), { target: { value: "Ain" } });
    fireEvent.click(within(dialog).getByLabelText("Partager avec l'équipe"));
    fireEvent.click(within(dialog).getByRole("button", { name: "Enregistrer" }));
    await waitFor(() =>
      expect(calls.find((c) => c.url === "/api/saved-views" && c.method === "POST")?.body).toEqual({
        name: "Ain",
        filters: { department: "69", score_min: 60, view: "list" },
        shared: true,
      }),
    );
  });
});
