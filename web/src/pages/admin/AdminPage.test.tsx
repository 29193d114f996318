import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MemoryRouter } from "react-router-dom";
import { Toaster } from "react-hot-toast";
import { AuthProvider } from "../../api/auth";
import { setToken } from "../../api/client";
import AdminPage from "./AdminPage";

const USERS = {
  items: [
    { id: 1, email: "admin@x.fr", full_name: "Alice", role: "ADMIN", is_active: true, created_at: "2026-01-01T00:00:00Z" },
    { id: 2, email: "ops@x.fr", full_name: "Olivia", role: "OPS", is_active: true, created_at: "2026-01-01T00:00:00Z" },
  ],
  total: 2,
  page: 1,
  page_size: 200,
};

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

let calls: { url: string; method: string; body: unknown }[] = [];

function renderPage() {
  calls = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init?: RequestInit) => {
      const method = init?.method ?? "GET";
      calls.push({ url: String(url), method, body: init?.body ? JSON.parse(String(init.body)) : undefined });
      if (method === "PATCH") return json({ ...USERS.items[1], ...JSON.parse(String(init?.body)) });
      if (method === "POST" && String(url).endsWith("/password-reset")) return json({ password: "Zr4-generated-pw" });
      return json(USERS);
    }),
  );
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={qc}>
      <MemoryRouter>
        <AuthProvider>
          <AdminPage />
          <Toaster />
        </AuthProvider>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

beforeEach(() => {
  sessionStorage.setItem("lfs.token", "t");
  sessionStorage.setItem("lfs.user", JSON.stringify({ id: 1, email: "admin@x.fr", full_name: "Alice", role: "ADMIN" }));
  setToken("t");
});
afterEach(() => {
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

const patches = () => calls.filter((c) => c.method === "PATCH");

describe("AdminPage", () => {
  it("asks before making someone Administrateur, and Escape changes nothing", async () => {
    renderPage();
    await screen.findByText("ops@x.fr");
    fireEvent.change(screen.getByLabelText("Rôle de ops@x.fr"), { target: { value: "ADMIN" } });
    const dialog = await screen.findByRole("dialog", { name: "Changer le rôle" });
    expect(within(dialog).getByText(/gère tous les comptes/)).toBeInTheDocument();
    // the focus is in the dialog on a safe choice, not on "Fermer"
    expect(document.activeElement).toBe(within(dialog).getByRole("button", { name: "Annuler" }));
    fireEvent.keyDown(document, { key: "Escape" });
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    expect(patches()).toEqual([]);
    fireEvent.change(screen.getByLabelText("Rôle de ops@x.fr"), { target: { value: "ADMIN" } });
    fireEvent.click(await screen.findByRole("button", { name: "Confirmer" }));
    await waitFor(() => expect(patches()).toEqual([{ url: "/api/users/2", method: "PATCH", body: { role: "ADMIN" } }]));
  });

  it("renames a user and resets a password, showing the generated one once", async () => {
    renderPage();
    await screen.findByText("ops@x.fr");
    fireEvent.click(screen.getByRole("button", { name: "Modifier le nom de ops@x.fr" }));
    const name = await screen.findByLabelText("Nom complet");
    expect(document.activeElement).toBe(name);
    fireEvent.change(name, { target: { value: "Olivia Martin" } });
    fireEvent.click(screen.getByRole("button", { name: "Enregistrer" }));
    await waitFor(() => expect(patches()).toEqual([{ url: "/api/users/2", method: "PATCH", body: { full_name: "Olivia Martin" } }]));
    fireEvent.click(screen.getByRole("button", { name: "Réinitialiser le mot de passe de ops@x.fr" }));
    fireEvent.click(await screen.findByRole("button", { name: "Générer" }));
    const shown = (await screen.findByLabelText("Mot de passe généré")) as HTMLInputElement;
    expect(shown.value).toBe("Zr4-generated-pw");
    expect(calls.some((c) => c.method === "POST" && c.url === "/api/users/2/password-reset")).toBe(true);
  });

  it("keeps Tab inside a dialog", async () => {
    renderPage();
    await screen.findByText("ops@x.fr");
    fireEvent.click(screen.getByRole("button", { name: "Modifier le nom de ops@x.fr" }));
    const dialog = await screen.findByRole("dialog");
    const save = within(dialog).getByRole("button", { name: "Enregistrer" });
    save.focus();
    fireEvent.keyDown(document, { key: "Tab" });
    expect(document.activeElement).toBe(within(dialog).getByRole("button", { name: "Fermer" }));
    fireEvent.keyDown(document, { key: "Tab", shiftKey: true });
    expect(document.activeElement).toBe(save);
  });
});
