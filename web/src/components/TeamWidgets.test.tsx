import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter, useLocation } from "react-router-dom";
import { useState } from "react";
import { setToken } from "../api/client";
import NotificationBell, { notificationText } from "./NotificationBell";
import MentionBox, { matchCandidates, mentionQuery } from "./MentionBox";

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

const n = (id: number, kind: string, extra: Record<string, unknown> = {}) => ({
  id,
  kind,
  lead_id: 40 + id,
  lead_name: `Site ${id}`,
  actor_id: 2,
  actor_name: "Marc Durand",
  data: {},
  created_at: "2026-12-06T05:00:00Z",
  read_at: null,
  ...extra,
});
const PAGE = {
  items: [
    n(1, "mentioned", { data: { comment_id: 3, excerpt: "@Élodie Bernard regarde" } }),
    n(2, "status_changed", { data: { from: "NEW", to: "ENRICHED" } }),
    n(3, "assigned_to_me", { read_at: "2026-12-06T05:01:00Z" }),
  ],
  total: 3,
  unread: 2,
  page: 1,
  page_size: 20,
};

let location = "";
function Spy() {
  location = useLocation().pathname;
  return null;
}

const calls: { url: string; method: string }[] = [];
beforeEach(() => {
  calls.length = 0;
  setToken("t");
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init?: RequestInit) => {
      calls.push({ url: String(url), method: init?.method ?? "GET" });
      if (init?.method === "POST") return new Response(null, { status: 204 });
      return json(PAGE);
    }),
  );
});
afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

function renderBell() {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={qc}>
      <MemoryRouter initialEntries={["/pipeline"]}>
        <NotificationBell />
        <Spy />
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

describe("NotificationBell", () => {
  it("says each notification in French", () => {
    expect(notificationText(PAGE.items[0] as never)).toBe("Marc Durand vous a mentionné sur le lead « Site 1 »");
    expect(notificationText(PAGE.items[1] as never)).toBe(
      "Marc Durand a passé le lead « Site 2 » de « Nouveau » à « Enrichi »",
    );
    expect(notificationText(PAGE.items[2] as never)).toBe("Marc Durand vous a assigné le lead « Site 3 »");
  });

  it("shows the unread count, lists the notifications, opens one and marks it read", async () => {
    renderBell();
    const bell = await screen.findByRole("button", { name: "Notifications : 2 non lues" });
    expect(screen.getByTestId("notification-count")).toHaveTextContent("2");
    fireEvent.click(bell);
    const panel = screen.getByRole("region", { name: "Notifications" });
    const links = within(panel).getAllByRole("link");
    expect(links).toHaveLength(3);
    expect(links[0]).toHaveTextContent("« @Élodie Bernard regarde »");
    expect(links[0]).toHaveAttribute("href", "/leads/41");
    fireEvent.click(links[0]);
    await waitFor(() => expect(calls).toContainEqual({ url: "/api/notifications/1/read", method: "POST" }));
    expect(location).toBe("/leads/41");
    expect(screen.queryByRole("region", { name: "Notifications" })).toBeNull();
    fireEvent.click(bell);
    fireEvent.click(screen.getByRole("button", { name: "Tout marquer comme lu" }));
    await waitFor(() => expect(calls).toContainEqual({ url: "/api/notifications/read-all", method: "POST" }));
  });

  it("polls every 30 s while the tab is visible, not while hidden", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    renderBell();
    await screen.findByRole("button", { name: "Notifications : 2 non lues" });
    const reads = () => calls.filter((c) => c.url.startsWith("/api/notifications?")).length;
    const first = reads();
    await act(async () => {
      await vi.advanceTimersByTimeAsync(30_500);
    });
    await waitFor(() => expect(reads()).toBe(first + 1));
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
    act(() => {
      document.dispatchEvent(new Event("visibilitychange"));
    });
    await act(async () => {
      await vi.advanceTimersByTimeAsync(95_000);
    });
    expect(reads()).toBe(first + 1);
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "visible" });
  });
});

const PEOPLE = [
  { id: 1, full_name: "Marc Durand", email: "marc@x.fr" },
  { id: 2, full_name: "Élodie Bernard", email: "elodie@x.fr" },
  { id: 3, full_name: "Jean Dupont", email: "jd@x.fr" },
];

function Box() {
  const [value, setValue] = useState("");
  return <MentionBox label="Nouveau commentaire" value={value} onChange={setValue} people={PEOPLE} />;
}

describe("MentionBox", () => {
  it("finds the @ being typed, not an e-mail address", () => {
    expect(mentionQuery("Salut @Ma", 9)).toEqual({ at: 6, query: "Ma" });
    expect(mentionQuery("@Jean Du", 8)).toEqual({ at: 0, query: "Jean Du" });
    expect(mentionQuery("écris à jd@x.fr", 15)).toBeNull();
    expect(mentionQuery("@Jean Dupont et puis", 20)).toBeNull();
    expect(matchCandidates(PEOPLE, "du").map((p) => p.id)).toEqual([1, 3]);
    expect(matchCandidates(PEOPLE, "élo").map((p) => p.id)).toEqual([2]);
    expect(matchCandidates(PEOPLE, "jd@").map((p) => p.id)).toEqual([3]);
  });

  it("completes a name with the keyboard and with the mouse", async () => {
    render(<Box />);
    const box = screen.getByRole("textbox", { name: "Nouveau commentaire" }) as HTMLTextAreaElement;
    fireEvent.change(box, { target: { value: "Vu avec @du", selectionStart: 11 } });
    const list = screen.getByRole("listbox", { name: "Personnes à mentionner" });
    expect(within(list).getAllByRole("option").map((o) => o.textContent)).toEqual([
      "Marc Durandmarc@x.fr",
      "Jean Dupontjd@x.fr",
    ]);
    expect(list).toBeVisible();
    expect(box).toHaveAttribute("aria-activedescendant");
    fireEvent.keyDown(box, { key: "ArrowDown" });
    expect(within(list).getAllByRole("option")[1]).toHaveAttribute("aria-selected", "true");
    fireEvent.keyDown(box, { key: "Enter" });
    expect(box.value).toBe("Vu avec @Jean Dupont ");
    expect(list).not.toBeVisible();
    expect(box).not.toHaveAttribute("aria-activedescendant");
    fireEvent.change(box, { target: { value: "Vu avec @Jean Dupont et @él", selectionStart: 27 } });
    fireEvent.mouseDown(screen.getByRole("option", { name: /Élodie Bernard/ }));
    expect(box.value).toBe("Vu avec @Jean Dupont et @Élodie Bernard ");
    fireEvent.change(box, { target: { value: "@zz", selectionStart: 3 } });
    expect(list).not.toBeVisible(); // nobody matches: plain text
  });
});
