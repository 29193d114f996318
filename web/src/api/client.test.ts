import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, api, getToken, setToken, withQuery } from "./client";

afterEach(() => {
  vi.unstubAllGlobals();
  setToken(null);
});

describe("withQuery", () => {
  it("repeats arrays and drops empty values", () => {
    expect(withQuery("/api/leads", { status: ["NEW", "ENRICHED"], q: "", page: 2, x: undefined })).toBe(
      "/api/leads?status=NEW&status=ENRICHED&page=2",
    );
  });
});

describe("api", () => {
  it("sends the bearer token and parses JSON", async () => {
    const fetchMock = vi.fn(async () => new Response(JSON.stringify({ ok: 1 }), { headers: { "content-type": "application/json" } }));
    vi.stubGlobal("fetch", fetchMock);
    setToken("tok");
    expect(await api("/api/x")).toEqual({ ok: 1 });
    const init = (fetchMock.mock.calls[0] as unknown as [string, RequestInit])[1];
    expect((init.headers as Record<string, string>).Authorization).toBe("Bearer tok");
  });

  it("raises the problem in French from its code, and a 401 forgets the token", async () => {
    const problem = {
      type: "about:blank",
      title: "Conflict",
      status: 409,
      code: "transition.refused",
      current_status: "NEW",
      target_status: "SOLD",
      detail: "a lead in NEW can't move to SOLD",
    };
    vi.stubGlobal("fetch", vi.fn(async () => new Response(JSON.stringify(problem), { status: 409 })));
    setToken("tok");
    const err = (await api("/api/leads/1/transition", { method: "POST", body: {} }).catch((e) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(409);
    expect(err.detail).toBe(problem.detail);
    expect(err.code).toBe("transition.refused");
    expect(err.message).toBe("Un lead « Nouveau » ne peut pas passer à « Vendu ».");
    expect(getToken()).toBe("tok");

    vi.stubGlobal("fetch", vi.fn(async () => new Response(JSON.stringify({ title: "Unauthorized", status: 401 }), { status: 401 })));
    await api("/api/leads").catch(() => undefined);
    expect(getToken()).toBeNull();
  });
});
