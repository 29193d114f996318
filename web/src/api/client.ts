// The one HTTP client of the app: bearer token (in memory), problem+json errors, an expired token
// renewed from the session cookie, a session that ended → back to the login page saying why.
import { problemMessage } from "../lib/problems";

export class ApiError extends Error {
  /** An RFC 9457 problem returned by the API (or a network failure, status 0). `message` is
   * the French text for the user (from `code`); `detail` is the server's English detail. */
  status: number;
  title: string;
  detail: string;
  code: string;
  body: Record<string, unknown>;

  constructor(status: number, body: Record<string, unknown>) {
    super(problemMessage(status, body));
    this.status = status;
    this.title = String(body.title ?? "Erreur");
    this.detail = String(body.detail ?? body.title ?? `HTTP ${status}`);
    this.code = typeof body.code === "string" ? body.code : "";
    this.body = body;
  }
}

type TokenListener = (token: string | null) => void;

let currentToken: string | null = null;
const listeners = new Set<TokenListener>();

/** The bearer token used by every request. */
export function getToken(): string | null {
  return currentToken;
}

/** Set (or clear) the bearer token and tell the auth provider. */
export function setToken(token: string | null): void {
  currentToken = token;
  listeners.forEach((l) => l(token));
}

let sessionEnd: string | null = null;

/** Say why the session ended (shown once by the login page). */
export function noteSessionEnd(reason: string): void {
  sessionEnd = reason;
}

/** Why the session ended, once (null after a deliberate logout or when it never started). */
export function takeSessionEnd(): string | null {
  const reason = sessionEnd;
  sessionEnd = null;
  return reason;
}

/** End the session in this tab, saying why on the login page. */
export function endSession(reason: string): void {
  noteSessionEnd(reason);
  setToken(null);
}

/** The user of the session, kept in sessionStorage for the first render after a reload (the
 * access token itself lives in memory only: a reload gets a new one from the session cookie). */
export const USER_KEY = "lfs.user";

/** Start (or renew) the session: the access token in memory, the user for the provider. */
export function startSession(token: string, user: unknown): void {
  try {
    sessionStorage.setItem(USER_KEY, JSON.stringify(user));
  } catch {
    // Storage refused (private mode): the provider keeps the user in its state anyway.
  }
  setToken(token);
}

export interface SessionOut {
  access_token: string;
  user: Record<string, unknown>;
}

const SESSION_PATH = "/api/auth/session";
let refreshing: Promise<SessionOut> | null = null;

/** A new access token from the httpOnly session cookie (POST /api/auth/session). One refresh
 * at a time in this tab, and across the app's tabs through a Web Lock: each cookie is used once
 * (the server revokes a session whose used cookie comes back), so two tabs must not send the
 * same one; the second waits and sends the cookie the first one got. */
export function refreshSession(): Promise<SessionOut> {
  refreshing ??= (async () => {
    const send = () =>
      fetch(SESSION_PATH, { method: "POST", credentials: "same-origin", headers: { Accept: "application/json" } });
    let res: Response;
    try {
      const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
      res = locks ? await locks.request("lfs-session-refresh", send) : await send();
    } catch {
      throw new ApiError(0, { title: "Réseau", detail: "Le serveur ne répond pas." });
    }
    if (!res.ok) throw await parseError(res);
    return (await res.json()) as SessionOut;
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/** Called when the token changes (login, logout, 401). */
export function onTokenChange(listener: TokenListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Raw body (FormData, Blob) sent as is. */
  raw?: BodyInit;
}

/** Build a URL with query parameters; arrays repeat the key, empty values are dropped. */
export function withQuery(path: string, params?: Record<string, unknown>): string {
  if (!params) return path;
  const qs = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    if (Array.isArray(value)) value.forEach((v) => qs.append(key, String(v)));
    else qs.append(key, String(value));
  }
  const s = qs.toString();
  return s ? `${path}?${s}` : path;
}

async function parseError(res: Response): Promise<ApiError> {
  let body: Record<string, unknown> = {};
  try {
    const text = await res.text();
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { title: res.statusText };
  }
  return new ApiError(res.status, body);
}

/** Send a request to the API and parse its JSON answer (undefined for 204). */
export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const res = await apiResponse(path, opts);
  if (res.status === 204) return undefined as T;
  const type = res.headers.get("content-type") ?? "";
  if (type.includes("json")) return (await res.json()) as T;
  return (await res.text()) as unknown as T;
}

/** Send a request and return the raw Response (after error handling). */
export async function apiResponse(path: string, opts: RequestOptions = {}, retried = false): Promise<Response> {
  const headers: Record<string, string> = { Accept: "application/json", ...opts.headers };
  const sent = currentToken;
  if (sent) headers.Authorization = `Bearer ${sent}`;
  let body: BodyInit | undefined = opts.raw;
  if (opts.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.body);
  }
  let res: Response;
  try {
    res = await fetch(path, { method: opts.method ?? "GET", headers, body, signal: opts.signal });
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    throw new ApiError(0, { title: "Réseau", detail: "Le serveur ne répond pas." });
  }
  if (!res.ok) {
    const error = await parseError(res);
    if (res.status === 401 && sent && !path.startsWith("/api/auth/login") && !path.startsWith(SESSION_PATH)) {
      // Another request renewed the token meanwhile: try again with the new one.
      if (!retried && currentToken && currentToken !== sent) return apiResponse(path, opts, true);
      // An expired access token: the session cookie gets a new one, then the request goes again.
      if (!retried && error.code === "auth.session_expired" && currentToken === sent) {
        try {
          const out = await refreshSession();
          startSession(out.access_token, out.user);
          return apiResponse(path, opts, true);
        } catch (err) {
          // The session itself is over: say why (expired, revoked, password changed, disabled).
          if (currentToken === sent) endSession(err instanceof ApiError && err.status === 401 ? err.message : error.message);
          throw error;
        }
      }
      // Revoked, password changed, account deactivated: the session is over, the router sends
      // the user back to the login page, which says why.
      if (currentToken === sent) endSession(error.message);
    }
    throw error;
  }
  return res;
}

/** Upload a file with progress (fetch has no upload progress; XMLHttpRequest does). */
export function uploadWithProgress<T>(
  path: string,
  form: FormData,
  onProgress: (fraction: number) => void,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    if (currentToken) xhr.setRequestHeader("Authorization", `Bearer ${currentToken}`);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      let body: Record<string, unknown> = {};
      try {
        body = xhr.responseText ? JSON.parse(xhr.responseText) : {};
      } catch {
        body = {};
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body as T);
      else {
        if (xhr.status === 401 && currentToken) endSession(new ApiError(401, body).message);
        reject(new ApiError(xhr.status, body));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, { detail: "Le serveur ne répond pas." }));
    xhr.send(form);
  });
}

/** Download an authenticated file by creating a temporary object URL. */
export async function downloadFile(path: string, fallbackName: string): Promise<void> {
  const res = await apiResponse(path, { headers: { Accept: "*/*" } });
  const blob = await res.blob();
  const disposition = res.headers.get("content-disposition") ?? "";
  const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
  const name = match ? decodeURIComponent(match[1]) : fallbackName;
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
