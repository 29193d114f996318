// The French message of every problem the API answers, keyed on its stable machine `code`
// (geo/errors.py CODES; the list is api/problemCodes.json, kept equal to the server's by
// tests/test_error_codes.py). The English `detail` of the API is never shown to the user.
import codes from "../api/problemCodes.json";
import { ROLE_LABEL, STATUS_LABEL } from "./status";
import { bytes } from "./format";
import type { LeadStatus, Role } from "../api/types";

export type ProblemBody = Record<string, unknown>;
type Message = string | ((p: ProblemBody) => string);

/** Every code the server declares. */
export const PROBLEM_CODES: readonly string[] = codes;

const status = (v: unknown): string =>
  `« ${STATUS_LABEL[v as LeadStatus] ?? (typeof v === "string" ? v : "?")} »`;

/** French names of the request fields a 422 may name (the last part of `body.email`). */
export const FIELD_LABEL: Record<string, string> = {
  email: "adresse e-mail",
  password: "mot de passe",
  new_password: "nouveau mot de passe",
  current_password: "mot de passe actuel",
  full_name: "nom",
  role: "rôle",
  is_active: "statut du compte",
  name: "nom",
  geometry: "géométrie",
  parcel_ids: "parcelles",
  commune_insee: "commune",
  status: "statut",
  reason: "motif",
  body: "texte",
  file: "fichier",
  category: "catégorie",
  assignee_id: "responsable",
  score_min: "score minimum",
  score_max: "score maximum",
  bbox: "emprise",
  q: "recherche",
};

function fieldNames(p: ProblemBody): string {
  const errors = Array.isArray(p.errors) ? (p.errors as ProblemBody[]) : [];
  const names = errors.map((e) => {
    const last = String(e.field ?? "").split(".").pop() ?? "";
    return FIELD_LABEL[last] ?? last;
  });
  return [...new Set(names.filter(Boolean))].join(", ");
}

function invalid(p: ProblemBody): string {
  const errors = Array.isArray(p.errors) ? (p.errors as ProblemBody[]) : [];
  // The password rules' message is the server's own French (api.security.password_problem).
  const policy = errors.find((e) => e.type === "password_policy");
  if (policy) return typeof policy.message === "string" && policy.message ? policy.message : "Mot de passe trop faible.";
  const single = typeof p.field === "string" ? FIELD_LABEL[p.field.split(".").pop() ?? ""] ?? p.field : "";
  const names = fieldNames(p) || single;
  return names ? `Valeur invalide : ${names}.` : "Une des valeurs envoyées est invalide.";
}

export const PROBLEM_MESSAGES: Record<string, Message> = {
  "request.bad": "La requête est mal formée.",
  "request.malformed_json": "La requête est mal formée (JSON illisible).",
  "request.invalid": invalid,
  "request.rate_limited": (p) =>
    `Trop de tentatives : réessayez dans ${typeof p.retry_after === "number" ? `${p.retry_after} s` : "quelques secondes"}.`,
  "auth.required": "Votre session a expiré ou a été fermée : reconnectez-vous.",
  "auth.forbidden": "Votre rôle ne permet pas cette action.",
  "resource.not_found": "Élément introuvable (supprimé, ou vous n'y avez pas accès).",
  "resource.conflict": "L'opération est impossible dans l'état actuel de l'élément.",
  "resource.stale": "L'élément a été modifié par quelqu'un d'autre : rechargez la page puis recommencez.",
  "http.not_found": "Cette adresse n'existe pas.",
  "http.method_not_allowed": "Cette opération n'est pas disponible ici.",
  "http.not_acceptable": "Le format demandé n'est pas disponible.",
  "http.error": "La requête a échoué.",
  "upload.too_large": (p) =>
    typeof p.limit === "number"
      ? `Fichier trop volumineux : la limite est de ${bytes(p.limit)}.`
      : "Fichier trop volumineux.",
  "upload.unsupported_type": "Ce type de fichier n'est pas accepté (PDF, image, tableur ou texte).",
  "service.unavailable": "Un service est momentanément indisponible : réessayez dans un instant.",
  "service.not_ready": "Le serveur démarre : réessayez dans un instant.",
  "service.timeout": "La recherche a pris trop de temps : réduisez la zone ou les filtres.",
  "server.error": "Erreur interne du serveur : l'équipe technique est prévenue.",
  "auth.bad_credentials": "Adresse e-mail ou mot de passe incorrect.",
  "auth.account_disabled": "Ce compte est désactivé : demandez à un administrateur de le réactiver.",
  "auth.wrong_current_password": "Le mot de passe actuel est incorrect.",
  // Why a session ended, said on the login page (docs/security.md, "Web sessions").
  "auth.session_expired": "Votre session a expiré : reconnectez-vous.",
  "auth.session_revoked": "Votre session a été fermée (déconnexion ailleurs) : reconnectez-vous.",
  "auth.password_changed":
    "Votre mot de passe a été changé depuis l'ouverture de cette session : reconnectez-vous avec le nouveau.",
  "user.not_found": "Utilisateur introuvable.",
  "user.email_taken": "Un utilisateur existe déjà avec cette adresse e-mail.",
  "user.self_demotion": "Un administrateur ne peut pas retirer son propre rôle ni désactiver son propre compte.",
  "lead.not_found": "Lead introuvable (supprimé, ou vous n'y avez pas accès).",
  "lead.not_assigned":
    "Ce lead n'est pas assigné à vous : seuls l'opérateur assigné, un manager ou un administrateur peuvent le modifier.",
  "transition.refused": (p) =>
    `Un lead ${status(p.current_status)} ne peut pas passer à ${status(p.target_status)}.`,
  "transition.role_refused": (p) =>
    `Le rôle ${ROLE_LABEL[p.role as Role] ?? "actuel"} ne peut pas faire passer un lead de ${status(
      p.current_status,
    )} à ${status(p.target_status)}.`,
  "transition.reason_required": (p) => `Un motif est obligatoire pour passer un lead à ${status(p.target_status)}.`,
  "transition.needs_enrichment": "Ce lead n'a pas encore été enrichi : lancez l'enrichissement avant de le passer à « Enrichi ».",
  "transition.needs_score": "Ce lead n'a pas de score : enrichissez-le avant de le passer à « Qualifié ».",
  "lead.parcels_taken": (p) => {
    const others = (p.other_leads as { internal_name?: string }[] | undefined) ?? [];
    const names = others.map((o) => o.internal_name).filter(Boolean).join(", ");
    return `Une parcelle est déjà dans un lead actif${names ? ` (${names})` : ""} : confirmez le doublon en donnant un motif.`;
  },
  "lead.overlaps": (p) => {
    const others = (p.other_leads as { internal_name?: string }[] | undefined) ?? [];
    const names = others.map((o) => o.internal_name).filter(Boolean).join(", ");
    return `Le contour dessiné recouvre un lead actif${names ? ` (${names})` : ""} : confirmez le doublon en donnant un motif.`;
  },
  "import.failed": "Le fichier n'a pas pu être importé ; rien n'a été enregistré.",
  "export.not_found": "Cet export n'existe pas ou a expiré : relancez-le.",
  "export.not_ready": "L'export n'est pas encore prêt.",
  "export.too_many": "Vous avez déjà des exports en préparation : attendez qu'ils soient prêts.",
};

/** French fallbacks by HTTP status, for a problem without a known code. */
const BY_STATUS: Record<number, string> = {
  0: "Le serveur ne répond pas.",
  400: "La requête est mal formée.",
  401: "Votre session a expiré : reconnectez-vous.",
  403: "Votre rôle ne permet pas cette action.",
  404: "Élément introuvable.",
  409: "L'opération est impossible dans l'état actuel de l'élément.",
  412: "L'élément a été modifié entre-temps : rechargez la page.",
  413: "Envoi trop volumineux.",
  415: "Type de fichier non accepté.",
  422: "Une des valeurs envoyées est invalide.",
  429: "Trop de requêtes : réessayez dans un instant.",
  500: "Erreur interne du serveur.",
  502: "Le serveur est injoignable.",
  503: "Service momentanément indisponible.",
  504: "Le serveur a mis trop de temps à répondre.",
};

/** The French message of a problem+json answer (never its English detail). */
export function problemMessage(statusCode: number, body: ProblemBody): string {
  const code = typeof body.code === "string" ? body.code : "";
  const msg = PROBLEM_MESSAGES[code];
  if (typeof msg === "function") return msg(body);
  if (typeof msg === "string") return msg;
  if (statusCode === 0 && typeof body.detail === "string") return body.detail; // our own, French
  return BY_STATUS[statusCode] ?? `La requête a échoué (erreur ${statusCode}).`;
}
