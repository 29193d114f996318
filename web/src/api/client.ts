// The one HTTP client of the app: bearer token, problem+json errors, 401 → back to login.
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
export async function apiResponse(path: string, opts: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { Accept: "application/json", ...opts.headers };
  if (currentToken) headers.Authorization = `Bearer ${currentToken}`;
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
    // An expired or revoked token: forget it, the router sends the user back to the login page.
    if (res.status === 401 && currentToken && !path.startsWith("/api/auth/login")) {
      noteSessionEnd(error.message);
      setToken(null);
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
        if (xhr.status === 401 && currentToken) {
          noteSessionEnd(new ApiError(401, body).message);
          setToken(null);
        }
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
