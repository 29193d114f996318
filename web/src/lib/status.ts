// Labels and colours of the pipeline statuses, shared by the Kanban, badges and the map legend.
import type { LeadStatus, Role } from "../api/types";

export const STATUSES: LeadStatus[] = [
  "NEW",
  "ENRICHED",
  "QUALIFIED",
  "IN_REVIEW",
  "CLIENT_READY",
  "SOLD",
  "REJECTED",
  "ARCHIVED",
];

export const STATUS_LABEL: Record<LeadStatus, string> = {
  NEW: "Nouveau",
  ENRICHED: "Enrichi",
  QUALIFIED: "Qualifié",
  IN_REVIEW: "En revue",
  CLIENT_READY: "Prêt client",
  SOLD: "Vendu",
  REJECTED: "Rejeté",
  ARCHIVED: "Archivé",
};

export const STATUS_COLOR: Record<LeadStatus, string> = {
  NEW: "#64748b",
  ENRICHED: "#0ea5e9",
  QUALIFIED: "#6366f1",
  IN_REVIEW: "#f59e0b",
  CLIENT_READY: "#10b981",
  SOLD: "#15803d",
  REJECTED: "#ef4444",
  ARCHIVED: "#a8a29e",
};

/** Badge backgrounds dark enough for white text (WCAG AA 4.5:1; the map keeps STATUS_COLOR). */
export const STATUS_BADGE: Record<LeadStatus, string> = {
  NEW: "#475569",
  ENRICHED: "#0369a1",
  QUALIFIED: "#4f46e5",
  IN_REVIEW: "#b45309",
  CLIENT_READY: "#047857",
  SOLD: "#166534",
  REJECTED: "#b91c1c",
  ARCHIVED: "#57534e",
};

export const ROLE_LABEL: Record<Role, string> = {
  ADMIN: "Administrateur",
  MANAGER: "Manager",
  OPS: "Opérations",
  COMMERCIAL: "Commercial",
};

/** Statuses a role sees as Kanban columns (COMMERCIAL only sees client-ready and sold leads). */
export function boardStatuses(role: Role | undefined): LeadStatus[] {
  if (role === "COMMERCIAL") return ["CLIENT_READY", "SOLD"];
  return STATUSES;
}
