// The pipeline as a team uses it: notifications, @mention candidates, saved views, bulk actions.
import { useEffect, useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, apiResponse, withQuery } from "./client";
import { leadKeys } from "./leads";
import type { components } from "./schema";

type S = components["schemas"];
export type NotificationOut = S["NotificationOut"];
export type NotificationPage = S["NotificationPage"];
export type MentionCandidate = S["MentionCandidate"];
export type SavedView = S["SavedViewOut"];
export type ViewFilters = S["ViewFilters"];
export type BulkOut = S["BulkOut"];
export type BulkResult = S["BulkResult"];

/** How often the bell asks for new notifications (only while the tab is visible). */
export const NOTIFICATION_POLL_MS = 30_000;

/** Whether the page is visible: polling pauses while the tab is hidden. */
export function usePageVisible(): boolean {
  const [visible, setVisible] = useState(() => typeof document === "undefined" || document.visibilityState !== "hidden");
  useEffect(() => {
    const on = () => setVisible(document.visibilityState !== "hidden");
    document.addEventListener("visibilitychange", on);
    return () => document.removeEventListener("visibilitychange", on);
  }, []);
  return visible;
}

export const notificationKeys = { all: ["notifications"] as const };

/** My latest notifications and the unread count, polled every 30 s while the tab is visible. */
export function useNotifications(enabled = true) {
  const visible = usePageVisible();
  return useQuery({
    queryKey: notificationKeys.all,
    queryFn: ({ signal }) => api<NotificationPage>(withQuery("/api/notifications", { page_size: 20 }), { signal }),
    enabled,
    refetchInterval: visible ? NOTIFICATION_POLL_MS : false,
    refetchIntervalInBackground: false,
  });
}

/** Mark one notification read. */
export function useReadNotification() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => api<void>(`/api/notifications/${id}/read`, { method: "POST" }),
    onSettled: () => qc.invalidateQueries({ queryKey: notificationKeys.all }),
  });
}

/** Mark all my notifications read. */
export function useReadAll() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: () => api<void>("/api/notifications/read-all", { method: "POST" }),
    onSettled: () => qc.invalidateQueries({ queryKey: notificationKeys.all }),
  });
}

/** The people a comment on this lead may mention. */
export function useMentionable(leadId: number, enabled: boolean) {
  return useQuery({
    queryKey: ["leads", "mentionable", leadId],
    queryFn: ({ signal }) => api<MentionCandidate[]>(`/api/leads/${leadId}/mentionable`, { signal }),
    enabled,
    staleTime: 60_000,
  });
}

export const viewKeys = { all: ["saved-views"] as const };

/** My saved views and the team's shared ones. */
export function useSavedViews() {
  return useQuery({
    queryKey: viewKeys.all,
    queryFn: ({ signal }) => api<SavedView[]>("/api/saved-views", { signal }),
  });
}

/** Save the current filters under a name. */
export function useSaveView() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: { name: string; filters: ViewFilters; shared: boolean }) =>
      api<SavedView>("/api/saved-views", { method: "POST", body }),
    onSettled: () => qc.invalidateQueries({ queryKey: viewKeys.all }),
  });
}

/** Delete one of my saved views. */
export function useDeleteView() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => api<void>(`/api/saved-views/${id}`, { method: "DELETE" }),
    onSettled: () => qc.invalidateQueries({ queryKey: viewKeys.all }),
  });
}

export type BulkAction =
  | { action: "assign"; ids: number[]; assignee_id: number | null }
  | { action: "transition"; ids: number[]; status: string; reason?: string };

/** Assign or move many leads: one result per lead. */
export function useBulk() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: BulkAction) => api<BulkOut>("/api/leads/bulk", { method: "POST", body }),
    onSettled: () => qc.invalidateQueries({ queryKey: leadKeys.all }),
  });
}

/** Download the selected leads (XLSX, or CSV for French Excel). */
export async function exportSelection(ids: number[], format: "xlsx" | "csv"): Promise<void> {
  const res = await apiResponse("/api/leads/bulk/export", {
    method: "POST",
    body: { ids, format, dialect: "fr" },
    headers: { Accept: "*/*" },
  });
  const blob = await res.blob();
  const match = /filename="?([^";]+)"?/i.exec(res.headers.get("content-disposition") ?? "");
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = match ? match[1] : `leads-selection.${format}`;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
