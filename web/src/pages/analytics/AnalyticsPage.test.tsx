import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter } from "react-router-dom";
import { AuthProvider } from "../../api/auth";
import { setToken } from "../../api/client";
import AnalyticsPage, { filtersFrom, periodLabel } from "./AnalyticsPage";

function json(body: unknown) {
  return new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } });
}

const FUNNEL = {
  counts: { NEW: 2, ENRICHED: 0, QUALIFIED: 1, IN_REVIEW: 0, CLIENT_READY: 1, SOLD: 0, REJECTED: 3, ARCHIVED: 0 },
  stages: ["NEW", "ENRICHED", "QUALIFIED", "IN_REVIEW", "CLIENT_READY", "SOLD"].map((status) => ({
    status,
    count: 1,
    reached: 1,
    conversion_to_next: null,
  })),
  rejected: 3,
  archived: 0,
  total: 7,
};
const THROUGHPUT = {
  days: 30,
  since: "2026-03-01T00:00:00+01:00",
  until: "2026-04-01T00:00:00+02:00",
  users: [{ user_id: 5, full_name: "Olivia", created: 3, enriched: 1, qualified: 1, submitted: 1, rejected: 0, assigned_now: 4 }],
  reviews: [
    { user_id: 2, full_name: "Marc", role: "MANAGER", decisions: 4, approved: 3, sent_back: 1, rejected: 0, approval_rate: 0.75, median_review_days: 1.5 },
    { user_id: 3, full_name: "Mona", role: "MANAGER", decisions: 0, approved: 0, sent_back: 0, rejected: 0, approval_rate: null, median_review_days: null },
  ],
};
const USERS = {
  items: [
    { id: 2, email: "m@x.fr", full_name: "Marc", role: "MANAGER", is_active: true },
    { id: 5, email: "o@x.fr", full_name: "Olivia", role: "OPS", is_active: true },
    { id: 9, email: "s@x.fr", full_name: "Sacha", role: "COMMERCIAL", is_active: true },
  ],
  total: 3,
  page: 1,
  page_size: 200,
};

let urls: string[] = [];

function renderPage(entry: string) {
  urls = [];
  // recharts' ResponsiveContainer measures its box (jsdom has no ResizeObserver).
  vi.stubGlobal(
    "ResizeObserver",
    class {
      observe() {}
      unobserve() {}
      disconnect() {}
    },
  );
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string) => {
      urls.push(String(url));
      const u = String(url);
      if (u.startsWith("/api/users")) return json(USERS);
      if (u.startsWith("/api/analytics/funnel")) return json(FUNNEL);
      if (u.startsWith("/api/analytics/throughput")) return json(THROUGHPUT);
      if (u.startsWith("/api/analytics/weekly")) return json({ weeks: [] });
      if (u.startsWith("/api/analytics/scores")) return json({ scored: 0, unscored: 0, average: null, median: null, average_completeness: null, histogram: [] });
      if (u.startsWith("/api/analytics/departments")) return json({ departments: [] });
      return json({ stages: [] });
    }),
  );
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={qc}>
      <MemoryRouter initialEntries={[entry]}>
        <AuthProvider>
          <AnalyticsPage />
        </AuthProvider>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

beforeEach(() => {
  sessionStorage.setItem("lfs.user", JSON.stringify({ id: 2, email: "m@x.fr", full_name: "Marc", role: "MANAGER" }));
  setToken("t");
});
afterEach(() => {
  vi.unstubAllGlobals();
  setToken(null);
  sessionStorage.clear();
});

describe("analytics filters", () => {
  it("reads the URL's filters, dropping what the API would refuse", () => {
    expect(filtersFrom(new URLSearchParams("from=2026-03-01&to=2026-03-31&department=2a&person=5"))).toEqual({
      from: "2026-03-01",
      to: "2026-03-31",
      department: "2A",
      person: "5",
    });
    expect(filtersFrom(new URLSearchParams("from=2026-03-31&to=2026-03-01&department=999&person=0"))).toEqual({ from: "2026-03-31" });
    expect(periodLabel({ from: "2026-03-01", to: "2026-03-31" }, "30 derniers jours")).toBe("du 01/03/2026 au 31/03/2026");
    expect(periodLabel({}, "30 derniers jours")).toBe("30 derniers jours");
  });

  it("sends the period, département and person to every panel, and shows the managers' reviews", async () => {
    renderPage("/analytics?from=2026-03-01&to=2026-03-31&department=69&person=5");
    const reviews = await screen.findByTestId("reviews");
    const marc = within(reviews).getByText("Marc").closest("tr") as HTMLElement;
    expect(within(marc).getByText("75 %")).toBeInTheDocument();
    expect(within(marc).getByText("4")).toBeInTheDocument();
    const mona = within(reviews).getByText("Mona").closest("tr") as HTMLElement;
    expect(within(mona).getAllByText("–")).toHaveLength(2); // no decision: no rate, no delay
    expect(screen.getByText("Production de l'équipe (du 01/03/2026 au 31/03/2026)")).toBeInTheDocument();
    await waitFor(() => expect(urls.filter((u) => u.startsWith("/api/analytics/")).length).toBe(6));
    for (const u of urls.filter((x) => x.startsWith("/api/analytics/"))) {
      const q = new URL(u, "http://x").searchParams;
      expect([q.get("from"), q.get("to"), q.get("department"), q.get("person")], u).toEqual(["2026-03-01", "2026-03-31", "69", "5"]);
    }
    // The funnel counts every lead: the rejected ones are said.
    expect(screen.getByTestId("funnel-note").textContent).toMatch(/7 leads.*3 rejetés/);
    // The person list: the team, not the sales people.
    const person = screen.getByLabelText("Personne") as HTMLSelectElement;
    await waitFor(() => expect(person.options.length).toBe(3));
    expect([...person.options].map((o) => o.text)).toEqual(["Toute l'équipe", "Marc", "Olivia"]);
  });

  it("a change of filter asks again with it; clearing removes them all", async () => {
    renderPage("/analytics");
    await screen.findByTestId("reviews");
    expect(screen.getByText("Production de l'équipe (30 derniers jours)")).toBeInTheDocument();
    fireEvent.change(screen.getByLabelText("Du"), { target: { value: "2026-02-01" } });
    await waitFor(() => expect(urls.some((u) => u.startsWith("/api/analytics/funnel?from=2026-02-01"))).toBe(true));
    const dept = screen.getByLabelText("Département");
    fireEvent.change(dept, { target: { value: "2b" } });
    fireEvent.blur(dept);
    await waitFor(() => expect(urls.some((u) => u.includes("department=2B"))).toBe(true));
    fireEvent.click(screen.getByRole("button", { name: "Effacer les filtres" }));
    await waitFor(() => expect(screen.queryByRole("button", { name: "Effacer les filtres" })).toBeNull());
    // Back to the first answers (react-query keeps them under the filters' key).
    expect((screen.getByLabelText("Du") as HTMLInputElement).value).toBe("");
    expect(screen.getByText("Production de l'équipe (30 derniers jours)")).toBeInTheDocument();
  });
});
