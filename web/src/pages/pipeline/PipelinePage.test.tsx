import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter, useLocation, useNavigate } from "react-router-dom";
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
    const detail = "the role OPS can't move a lead from NEW to SOLD";
    const french = "Le rôle Opérations ne peut pas faire passer un lead de « Nouveau » à « Vendu ».";
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string, init?: RequestInit) => {
        if (String(url).includes("/transition") && init?.method === "POST")
          return json(
            { title: "Forbidden", status: 403, detail, code: "transition.role_refused", role: "OPS", current_status: "NEW", target_status: "SOLD" },
            403,
          );
        return json(PIPELINE);
      }),
    );
    renderPage();
    await screen.findByText("Les Brosses");
    fireEvent.change(screen.getByLabelText("Déplacer Les Brosses"), { target: { value: "SOLD" } });
    expect((await screen.findAllByText(new RegExp(french))).length).toBeGreaterThan(0);
    expect(screen.queryByText(new RegExp(detail))).toBeNull(); // never the English detail
    await waitFor(() =>
      expect(within(screen.getByRole("region", { name: "Nouveau" })).getByText("Les Brosses")).toBeInTheDocument(),
    );
    expect(within(screen.getByRole("region", { name: "Vendu" })).queryByText("Les Brosses")).toBeNull();
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
