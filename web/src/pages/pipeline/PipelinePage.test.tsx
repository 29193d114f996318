import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter, useLocation, useNavigate } from "react-router-dom";
import { Toaster } from "react-hot-toast";
import { AuthProvider } from "../../api/auth";
import { setToken } from "../../api/client";
import PipelinePage from "./PipelinePage";

const card = (id: number, name: string, extra: Record<string, unknown> = {}) => ({
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
  ...extra,
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

const REJECTED_CARD = card(2, "Le Marais", { allowed_transitions: [], rejection_reason: "zone humide (RAMSAR)" });
const WITH_REJECTED = {
  ...PIPELINE,
  columns: PIPELINE.columns.map((c) => (c.status === "REJECTED" ? { ...c, count: 1, cards: [REJECTED_CARD] } : c)),
};

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

let location = "";
let navigate: (delta: number) => void = () => undefined;
function Spy() {
  const loc = useLocation();
  const nav = useNavigate();
  location = loc.search;
  navigate = (d) => nav(d);
  return null;
}

function renderPage(url = "/pipeline") {
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
    // The board was read before someone else undid the enrichment: the server refuses.
    const detail = "Le lead n'a pas été enrichi";
    const french = "Ce lead n'a pas encore été enrichi : lancez l'enrichissement avant de le passer à « Enrichi ».";
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string, init?: RequestInit) => {
        if (String(url).includes("/transition") && init?.method === "POST")
          return json(
            { title: "Conflict", status: 409, detail, code: "transition.needs_enrichment", target_status: "ENRICHED" },
            409,
          );
        return json(PIPELINE);
      }),
    );
    renderPage();
    await screen.findByText("Les Brosses");
    fireEvent.change(screen.getByLabelText("Déplacer Les Brosses"), { target: { value: "ENRICHED" } });
    expect((await screen.findAllByText(new RegExp(french))).length).toBeGreaterThan(0);
    expect(screen.queryByText(new RegExp(detail))).toBeNull(); // the French message of the code
    await waitFor(() =>
      expect(within(screen.getByRole("region", { name: "Nouveau" })).getByText("Les Brosses")).toBeInTheDocument(),
    );
    expect(within(screen.getByRole("region", { name: "Enrichi" })).queryByText("Les Brosses")).toBeNull();
  });

  it("offers only the moves the server accepts: in the ⇄ menu and as drag targets", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => json(WITH_REJECTED)));
    renderPage();
    await screen.findByText("Les Brosses");
    const menu = screen.getByLabelText("Déplacer Les Brosses") as HTMLSelectElement;
    const options = Array.from(menu.options).map((o) => o.value).filter(Boolean);
    expect(options).toEqual(["ENRICHED", "REJECTED"]);
    // No move for this user on the rejected card: its menu is off, it can't be dragged.
    expect(screen.getByLabelText("Déplacer Le Marais")).toBeDisabled();
    expect(screen.getByText("Le Marais").closest("li")).toHaveAttribute("draggable", "false");
    // The rejection reason is on the card.
    expect(screen.getByTestId("rejection-reason")).toHaveTextContent("Motif : zone humide (RAMSAR)");
    // Dragging a card: before the drop, the allowed columns say so and the others are dimmed.
    const li = screen.getByText("Les Brosses").closest("li")!;
    const dataTransfer = { setData: vi.fn(), getData: () => "", types: ["application/x-lfs-lead"], effectAllowed: "" };
    fireEvent.dragStart(li, { dataTransfer });
    const region = (name: string) => screen.getByRole("region", { name });
    await waitFor(() => expect(region("Enrichi")).toHaveAttribute("data-drop", "allowed"));
    expect(region("Rejeté")).toHaveAttribute("data-drop", "allowed");
    expect(within(region("Enrichi")).getByText("Déposer ici")).toBeInTheDocument();
    expect(region("Qualifié")).toHaveAttribute("data-drop", "refused");
    expect(region("Qualifié").className).toContain("opacity-40");
    expect(region("Nouveau")).toHaveAttribute("data-drop", "home");
    fireEvent.dragEnd(li);
    await waitFor(() => expect(region("Qualifié")).not.toHaveAttribute("data-drop"));
  });

  it("follows the URL: a changed département replaces the old one, Back restores it", async () => {
    const urls: string[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string) => {
        urls.push(String(url));
        return json(PIPELINE);
      }),
    );
    renderPage("/pipeline?department=75");
    await screen.findByText("Les Brosses");
    expect(urls.at(-1)).toContain("department=75");
    const dept = screen.getByLabelText("Département") as HTMLInputElement;
    expect(dept.value).toBe("75");
    // "6" on the way to "69": no longer 75, and not a filter yet
    fireEvent.change(dept, { target: { value: "6" } });
    await waitFor(() => expect(location).toBe(""));
    await waitFor(() => expect(urls.at(-1)).not.toContain("department="));
    expect(dept).toHaveAttribute("aria-invalid", "true");
    fireEvent.change(dept, { target: { value: "69" } });
    await waitFor(() => expect(location).toBe("?department=69"));
    await waitFor(() => expect(urls.at(-1)).toContain("department=69"));
    // Back: the URL, the box and the board go back together
    navigate(-1);
    await waitFor(() => expect(location).toBe(""));
    navigate(-1);
    await waitFor(() => expect(location).toBe("?department=75"));
    await waitFor(() => expect(dept.value).toBe("75"));
    await waitFor(() => expect(urls.at(-1)).toContain("department=75"));
  });

  it("shows the leads as a list with the same move menu", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => json(PIPELINE)));
    renderPage("/pipeline?view=list");
    const list = await screen.findByTestId("lead-list");
    expect(within(list).getByText("Les Brosses")).toBeInTheDocument();
    expect(screen.getByTestId("list-count-NEW")).toHaveTextContent("3");
    expect(within(list).getByLabelText("Déplacer Les Brosses")).toBeInTheDocument();
    fireEvent.click(screen.getByRole("button", { name: "Tableau" }));
    expect(await screen.findByTestId("kanban")).toBeInTheDocument();
    expect(location).toBe("?view=board");
  });
});
