// TanStack Query hooks for leads, the pipeline, comments, documents, enrichment and PDFs.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, uploadWithProgress, withQuery } from "./client";
import type {
  ActivityOut,
  BoardColumn,
  CommentOut,
  DocumentOut,
  JobOut,
  LeadCreate,
  LeadDetail,
  LeadFilters,
  LeadOut,
  LeadStatus,
  Page,
  PdfOut,
  Pipeline,
} from "./types";

export const leadKeys = {
  all: ["leads"] as const,
  list: (f: LeadFilters) => ["leads", "list", f] as const,
  detail: (id: number) => ["leads", "detail", id] as const,
  comments: (id: number) => ["leads", "comments", id] as const,
  documents: (id: number) => ["leads", "documents", id] as const,
  activity: (id: number) => ["leads", "activity", id] as const,
};

/** A page of leads matching the filters. */
export function useLeads(filters: LeadFilters, enabled = true) {
  return useQuery({
    queryKey: leadKeys.list(filters),
    queryFn: ({ signal }) =>
      api<Page<LeadOut>>(withQuery("/api/leads", filters as Record<string, unknown>), { signal }),
    placeholderData: keepPreviousData,
    enabled,
  });
}

/** One lead with every section. */
export function useLead(id: number) {
  return useQuery({
    queryKey: leadKeys.detail(id),
    queryFn: ({ signal }) => api<LeadDetail>(`/api/leads/${id}`, { signal }),
    enabled: Number.isFinite(id),
  });
}

/** Create a lead (from parcels, a drawn geometry or a point). */
export function useCreateLead() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: LeadCreate) => api<LeadOut>("/api/leads", { method: "POST", body }),
    onSuccess: () => qc.invalidateQueries({ queryKey: leadKeys.all }),
  });
}

/** Update editable fields of a lead (optimistic concurrency with If-Match). */
export function useUpdateLead(id: number) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: ({ version, ...body }: { version: number } & Record<string, unknown>) =>
      api<LeadOut>(`/api/leads/${id}`, {
        method: "PATCH",
        body,
        headers: { "If-Match": `"${version}"` },
      }),
    onSuccess: () => qc.invalidateQueries({ queryKey: leadKeys.all }),
  });
}

/** Move a lead to another status (the server checks the role and the state machine). */
export function useTransition() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: ({ id, status, reason }: { id: number; status: LeadStatus; reason?: string }) =>
      api<LeadOut>(`/api/leads/${id}/transition`, { method: "POST", body: { status, reason } }),
    onSettled: () => qc.invalidateQueries({ queryKey: leadKeys.all }),
  });
}

/** Assign a lead to a user. */
export function useAssign() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: ({ id, assignee_id }: { id: number; assignee_id: number | null }) =>
      api<LeadOut>(`/api/leads/${id}/assign`, { method: "POST", body: { assignee_id } }),
    onSettled: () => qc.invalidateQueries({ queryKey: leadKeys.all }),
  });
}

/** Run the enrichment of one lead now. */
export function useEnrich() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (id: number) =>
      api<Record<string, unknown>>(`/api/enrichment/${id}`, { method: "POST" }),
    onSettled: () => qc.invalidateQueries({ queryKey: leadKeys.all }),
  });
}

/** Start a batch enrichment job. */
export function useEnrichBatch() {
  return useMutation({
    mutationFn: (lead_ids: number[]) =>
      api<{ job_id: number | string }>("/api/enrichment/batch", {
        method: "POST",
        body: { lead_ids },
      }),
  });
}

/** Poll a batch job until it ends. */
export function useJob(jobId: number | string | null) {
  return useQuery({
    queryKey: ["jobs", jobId],
    queryFn: () => api<JobOut>(`/api/enrichment/jobs/${jobId}`),
    enabled: jobId !== null,
    refetchInterval: (q) =>
      q.state.data && ["done", "finished", "failed", "succeeded"].includes(q.state.data.status)
        ? false
        : 1000,
  });
}

/** Comments of a lead. */
export function useComments(id: number) {
  return useQuery({
    queryKey: leadKeys.comments(id),
    queryFn: () => api<CommentOut[] | Page<CommentOut>>(`/api/leads/${id}/comments`),
    select: (d) => (Array.isArray(d) ? d : d.items),
  });
}

/** Add a comment. */
export function useAddComment(id: number) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: string) =>
      api<CommentOut>(`/api/leads/${id}/comments`, { method: "POST", body: { body } }),
    onSuccess: () => {
      qc.invalidateQueries({ queryKey: leadKeys.comments(id) });
      qc.invalidateQueries({ queryKey: leadKeys.activity(id) });
    },
  });
}

/** Delete a comment. */
export function useDeleteComment(id: number) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (commentId: number) =>
      api<void>(`/api/leads/${id}/comments/${commentId}`, { method: "DELETE" }),
    onSuccess: () => qc.invalidateQueries({ queryKey: leadKeys.comments(id) }),
  });
}

/** Activity timeline of a lead. */
export function useActivity(id: number) {
  return useQuery({
    queryKey: leadKeys.activity(id),
    queryFn: () => api<ActivityOut[] | Page<ActivityOut>>(`/api/leads/${id}/activity`),
    select: (d) => (Array.isArray(d) ? d : d.items),
  });
}

/** Documents of a lead. */
export function useDocuments(id: number) {
  return useQuery({
    queryKey: leadKeys.documents(id),
    queryFn: () => api<DocumentOut[] | Page<DocumentOut>>(`/api/leads/${id}/documents`),
    select: (d) => (Array.isArray(d) ? d : d.items),
  });
}

/** Upload a document with progress. */
export function useUploadDocument(id: number) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: ({
      file,
      category,
      onProgress,
    }: {
      file: File;
      category: string;
      onProgress: (f: number) => void;
    }) => {
      const form = new FormData();
      form.append("file", file);
      form.append("category", category);
      return uploadWithProgress<DocumentOut>(`/api/leads/${id}/documents`, form, onProgress);
    },
    onSuccess: () => {
      qc.invalidateQueries({ queryKey: leadKeys.documents(id) });
      qc.invalidateQueries({ queryKey: leadKeys.activity(id) });
    },
  });
}

/** Delete a document. */
export function useDeleteDocument(id: number) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (docId: number) =>
      api<void>(`/api/leads/${id}/documents/${docId}`, { method: "DELETE" }),
    onSuccess: () => qc.invalidateQueries({ queryKey: leadKeys.documents(id) }),
  });
}

/** Generate the PDF dossier of a lead. */
export function useGeneratePdf(id: number) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: () => api<PdfOut>(`/api/leads/${id}/generate-pdf`, { method: "POST" }),
    onSuccess: () => {
      qc.invalidateQueries({ queryKey: leadKeys.documents(id) });
      qc.invalidateQueries({ queryKey: leadKeys.activity(id) });
    },
  });
}

/** A Kanban column's totals for the current filters (the server's one aggregate query). */
export interface ColumnTotals {
  area_m2_total?: number;
  mwc_total?: number | null;
  mwc_known?: number;
}

/**
 * The Kanban columns: GET /api/pipeline gives every column's count and cards in one request, with
 * the list's filters, and each card with the moves the server would accept for this user
 * (`allowed_transitions`: the menu and the drag targets offer only those).
 */
export function usePipelineBoard(
  statuses: LeadStatus[],
  filters: { assignee_id?: string; department?: string; score_min?: string; q?: string; sort?: string },
  perStatus = 50,
) {
  return useQuery({
    queryKey: ["leads", "board", statuses, filters, perStatus],
    placeholderData: keepPreviousData,
    queryFn: async ({ signal }): Promise<(BoardColumn & ColumnTotals)[]> => {
      const p = await api<Pipeline>(
        withQuery("/api/pipeline", {
          assignee_id: filters.assignee_id,
          department: filters.department,
          score_min: filters.score_min,
          q: filters.q,
          sort: filters.sort,
          per_status: perStatus,
          include_archived: statuses.includes("ARCHIVED"),
        }),
        { signal },
      );
      return statuses.map((status) => {
        const col = p.columns.find((c) => c.status === status);
        return {
          status,
          count: col?.count ?? 0,
          cards: (col?.cards ?? []).map((c) => ({ ...c, status })),
          area_m2_total: col?.area_m2_total ?? 0,
          mwc_total: col?.mwc_total ?? null,
          mwc_known: col?.mwc_known ?? 0,
        };
      });
    },
  });
}
