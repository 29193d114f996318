import { afterEach, describe, expect, it, vi } from "vitest";
import { waitFor } from "@testing-library/react";
import { restoreSession } from "./auth";
import { api, getToken, refreshSession, setToken, takeSessionEnd } from "./client";

const user = { id: 3, email: "o@x.fr", full_name: "Olivia", role: "OPS" };

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

function problem(code: string): Response {
  return json({ type: "about:blank", title: "Not authenticated", status: 401, code, detail: "English" }, 401);
}

afterEach(() => {
  vi.unstubAllGlobals();
  setToken(null);
  sessionStorage.clear();
  takeSessionEnd();
});

describe("a session kept by the httpOnly cookie", () => {
  it("a new tab or a reload gets its access token from the cookie, kept in memory only", async () => {
    const fetchMock = vi.fn(async () => json({ access_token: "T-new", token_type: "bearer", expires_in: 60, user }));
    vi.stubGlobal("fetch", fetchMock);
    await restoreSession();
    expect(getToken()).toBe("T-new");
    const [path, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
    expect(path).toBe("/api/auth/session");
    expect(init.method).toBe("POST");
    expect(init.credentials).toBe("same-origin");
    expect((init.headers as Record<string, string>).Authorization).toBeUndefined();
    // The user is kept for the next render; the token is stored nowhere the page could leak it.
    expect(JSON.parse(sessionStorage.getItem("lfs.user") ?? "{}").email).toBe("o@x.fr");
    expect(JSON.stringify({ ...sessionStorage })).not.toContain("T-new");
    expect(JSON.stringify({ ...localStorage })).not.toContain("T-new");
    expect(takeSessionEnd()).toBeNull();
  });

  it("no session says nothing; a session that ended says why, in French", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => problem("auth.required")));
    await restoreSession();
    expect(getToken()).toBeNull();
    expect(takeSessionEnd()).toBeNull();
    for (const [code, words] of [
      ["auth.account_disabled", /désactivé/],
      ["auth.password_changed", /mot de passe a été changé/],
      ["auth.session_expired", /expiré/],
      ["auth.session_revoked", /fermée/],
    ] as const) {
      vi.stubGlobal("fetch", vi.fn(async () => problem(code)));
      await restoreSession();
      expect(getToken()).toBeNull();
      expect(takeSessionEnd(), code).toMatch(words);
    }
  });

  it("two refreshes at once send the cookie once (each cookie is used once)", async () => {
    let calls = 0;
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => {
        calls += 1;
        await new Promise((r) => setTimeout(r, 20));
        return json({ access_token: `T-${calls}`, user });
      }),
    );
    const [a, b] = await Promise.all([refreshSession(), refreshSession()]);
    expect(calls).toBe(1);
    expect(a.access_token).toBe("T-1");
    expect(b.access_token).toBe("T-1");
  });

  it("an expired access token is renewed and the request goes again", async () => {
    setToken("T-old");
    const seen: string[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (path: string, init: RequestInit) => {
        if (path === "/api/auth/session") return json({ access_token: "T-fresh", user });
        const auth = (init.headers as Record<string, string>).Authorization;
        seen.push(auth);
        return auth === "Bearer T-fresh" ? json({ items: [] }) : problem("auth.session_expired");
      }),
    );
    expect(await api("/api/leads")).toEqual({ items: [] });
    expect(seen).toEqual(["Bearer T-old", "Bearer T-fresh"]);
    expect(getToken()).toBe("T-fresh");
  });

  it("a deactivation or a password change mid-session ends it, saying which", async () => {
    setToken("T");
    vi.stubGlobal("fetch", vi.fn(async () => problem("auth.account_disabled")));
    await api("/api/leads").catch(() => undefined);
    expect(getToken()).toBeNull();
    expect(takeSessionEnd()).toMatch(/désactivé/);
    // Expired, and the session behind it was ended by a password change elsewhere.
    setToken("T");
    vi.stubGlobal(
      "fetch",
      vi.fn(async (path: string) => (path === "/api/auth/session" ? problem("auth.password_changed") : problem("auth.session_expired"))),
    );
    await api("/api/leads").catch(() => undefined);
    expect(getToken()).toBeNull();
    expect(takeSessionEnd()).toMatch(/mot de passe a été changé/);
  });
});

describe("the app's tabs", () => {
  it("a login in another tab logs this one in from the cookie; a logout there ends it here", async () => {
    expect(typeof BroadcastChannel).toBe("function");
    vi.stubGlobal("fetch", vi.fn(async () => problem("auth.required")));
    await restoreSession(); // no session yet: this tab shows the login page
    vi.stubGlobal("fetch", vi.fn(async () => json({ access_token: "T-shared", user })));
    const other = new BroadcastChannel("lfs-session");
    other.postMessage({ type: "login" });
    await waitFor(() => expect(getToken()).toBe("T-shared"));
    other.postMessage({ type: "logout" });
    await waitFor(() => expect(getToken()).toBeNull());
    expect(takeSessionEnd()).toBe("Vous vous êtes déconnecté dans un autre onglet.");
    expect(takeSessionEnd()).toBeNull(); // said once
    other.close();
  });
});
