// Lead exports written by the server's worker (POST /api/leads/exports): ask, poll until the
// file is written, download it. A large workbook takes seconds to write; written in the request
// it held the API process and slowed every other user (docs/decisions.md).
import { api, downloadFile, withQuery } from "./client";
import type { components } from "./schema";

export type LeadExport = components["schemas"]["ExportOut"];

export interface ExportOptions {
  /** Time between two polls (ms). */
  pollMs?: number;
  /** Give up after this long (ms). */
  timeoutMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Ask for the filtered leads as a file, wait until the worker has written it, download it. */
export async function exportLeads(
  format: "csv" | "xlsx",
  params: Record<string, unknown>,
  { pollMs = 1000, timeoutMs = 300_000 }: ExportOptions = {},
): Promise<LeadExport> {
  let job = await api<LeadExport>(withQuery("/api/leads/exports", { ...params, format }), { method: "POST" });
  const deadline = Date.now() + timeoutMs;
  while (job.status === "queued" || job.status === "running") {
    if (Date.now() > deadline) {
      throw new Error("L'export n'est toujours pas prêt : le serveur est très occupé, réessayez plus tard.");
    }
    await sleep(pollMs);
    job = await api<LeadExport>(`/api/leads/exports/${job.id}`);
  }
  if (job.status !== "done" || !job.file_url) {
    throw new Error("L'export a échoué côté serveur : réessayez ou prévenez un administrateur.");
  }
  await downloadFile(job.file_url, job.filename);
  return job;
}
