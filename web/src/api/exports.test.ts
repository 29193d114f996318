import { afterEach, describe, expect, it, vi } from "vitest";
import { setToken } from "./client";
import { exportLeads } from "./exports";

afterEach(() => {
  vi.unstubAllGlobals();
  setToken(null);
});

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

const job = (status: string, extra: Record<string, unknown> = {}) => ({
  id: 7,
  format: "xlsx",
  dialect: "standard",
  status,
  rows: null,
  size_bytes: null,
  filename: "leads-20261206-0900.xlsx",
  created_at: "2026-12-06T09:00:00Z",
  finished_at: null,
  expires_at: null,
  error: null,
  file_url: null,
  ...extra,
});

describe("exportLeads", () => {
  it("asks with the filters, polls until written, then downloads the file", async () => {
    const calls: string[] = [];
    const answers = [
      json(job("queued"), 202),
      json(job("running")),
      json(job("done", { rows: 3, file_url: "/api/leads/exports/7/file" })),
      new Response(new Blob(["x"]), { headers: { "content-disposition": 'attachment; filename="leads.xlsx"' } }),
    ];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string, init: RequestInit) => {
        calls.push(`${init.method ?? "GET"} ${url}`);
        return answers.shift()!;
      }),
    );
    vi.stubGlobal("URL", { ...URL, createObjectURL: () => "blob:x", revokeObjectURL: () => undefined });
    setToken("tok");
    const done = await exportLeads("xlsx", { department: "69", q: "" }, { pollMs: 1 });
    expect(done.rows).toBe(3);
    expect(calls).toEqual([
      "POST /api/leads/exports?department=69&format=xlsx",
      "GET /api/leads/exports/7",
      "GET /api/leads/exports/7",
      "GET /api/leads/exports/7/file",
    ]);
  });

  it("says so when the worker failed, without downloading", async () => {
    const fetchMock = vi.fn(async () => json(job("failed", { error: "the export could not be written (OSError)" })));
    vi.stubGlobal("fetch", fetchMock);
    setToken("tok");
    await expect(exportLeads("csv", {}, { pollMs: 1 })).rejects.toThrow(/échoué/);
    expect(fetchMock).toHaveBeenCalledTimes(1);
  });

  it("gives up after the timeout", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => json(job("queued"))));
    setToken("tok");
    await expect(exportLeads("csv", {}, { pollMs: 5, timeoutMs: 1 })).rejects.toThrow(/pas prêt/);
  });
});
