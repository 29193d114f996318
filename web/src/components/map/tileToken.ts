// The map's tile token: the leads layer is authenticated by a short-lived tile token in its tile
// URLs (`?token=`, POST /api/auth/tile-token), as the server intends for map clients (docs/tiles.md);
// the public reference layers carry no credential, so an expired token never blanks them.
//
// The token is renewed before it expires (at RENEW_AT of its lifetime); a tile answered 401 makes
// one renewal; a renewal that fails leaves the manager in "error" (the map shows "Réessayer")
// instead of retrying for ever.

import { api, onTokenChange } from "../../api/client";

export interface TileTokenOut {
  token: string;
  expires_in: number;
}

export type TileTokenStatus = "idle" | "pending" | "ready" | "error";

export interface TileTokenSnapshot {
  status: TileTokenStatus;
  token: string | null;
  /** Epoch ms after which the token is refused by the server. */
  expiresAt: number;
}

/** Renew when this share of the token's lifetime has passed (48 min of 60). */
export const RENEW_AT = 0.8;
/** A renewal is never scheduled sooner than this (a server handing out very short tokens). */
export const MIN_RENEW_MS = 5_000;
/** After a failed scheduled renewal, while the token is still valid, try again this much later. */
export const RETRY_MS = 30_000;

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
};

type Listener = (s: TileTokenSnapshot) => void;

export class TileTokenManager {
  private snap: TileTokenSnapshot = { status: "idle", token: null, expiresAt: 0 };
  private inflight: Promise<string | null> | null = null;
  private timer: unknown = null;
  private generation = 0; // bumped by reset(): answers of an older session are dropped
  private listeners = new Set<Listener>();
  /** The token a 401 was already answered for with a renewal (one renewal per token). */
  private renewedAfter401: string | null = null;

  constructor(
    private readonly fetchToken: () => Promise<TileTokenOut>,
    private readonly clock: Clock = realClock,
  ) {}

  snapshot(): TileTokenSnapshot {
    return this.snap;
  }

  /** The token to put in a tile URL: null when there is none or it has expired. */
  current(): string | null {
    const { token, expiresAt } = this.snap;
    return token && this.clock.now() < expiresAt ? token : null;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A valid token, fetched if needed (the first call starts the renewal cycle). */
  async ensure(): Promise<string | null> {
    return this.current() ?? this.renew();
  }

  /** Fetch a new token now (one request at a time; concurrent callers share it). */
  renew(): Promise<string | null> {
    if (this.inflight) return this.inflight;
    const gen = this.generation;
    this.set({ ...this.snap, status: "pending" });
    this.inflight = this.fetchToken()
      .then((out) => {
        if (gen !== this.generation) return null;
        const lifetime = Math.max(0, out.expires_in) * 1000;
        this.set({ status: "ready", token: out.token, expiresAt: this.clock.now() + lifetime });
        this.schedule(Math.max(MIN_RENEW_MS, lifetime * RENEW_AT));
        return out.token;
      })
      .catch(() => {
        if (gen !== this.generation) return null;
        const left = this.snap.expiresAt - this.clock.now();
        if (this.current() && left > RETRY_MS) {
          // The token still works: keep it and try again later, quietly.
          this.set({ ...this.snap, status: "ready" });
          this.schedule(RETRY_MS);
          return this.snap.token;
        }
        this.cancelTimer(); // no renewal on its own any more: "Réessayer" does it
        this.set({ ...this.snap, status: "error" });
        return null;
      })
      .finally(() => {
        if (gen === this.generation) this.inflight = null;
      });
    return this.inflight;
  }

  /** A tile sent with `usedToken` was refused (401). A stale token (renewed since) is ignored;
   * otherwise renew once; a token that was itself the answer to a 401 and is refused too means
   * the session is gone: "error", no loop. */
  unauthorized(usedToken: string | null): Promise<string | null> {
    if (usedToken !== null && usedToken !== this.snap.token) return Promise.resolve(this.current());
    if (this.inflight) return this.inflight;
    if (this.snap.status === "error") return Promise.resolve(null);
    if (usedToken !== null && this.renewedAfter401 === usedToken) {
      this.cancelTimer();
      this.set({ ...this.snap, status: "error" });
      return Promise.resolve(null);
    }
    // The server refused this token: it is not kept as a fallback if the renewal fails.
    this.set({ ...this.snap, expiresAt: Math.min(this.snap.expiresAt, this.clock.now()) });
    return this.renew().then((t) => {
      this.renewedAfter401 = t;
      return t;
    });
  }

  /** Forget the token and stop renewing (logout, another user). */
  reset(): void {
    this.generation += 1;
    this.inflight = null;
    this.renewedAfter401 = null;
    this.cancelTimer();
    this.set({ status: "idle", token: null, expiresAt: 0 });
  }

  private cancelTimer(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(ms: number): void {
    this.cancelTimer();
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      void this.renew();
    }, ms);
  }

  private set(s: TileTokenSnapshot): void {
    this.snap = s;
    this.listeners.forEach((l) => l(s));
  }
}

/** The layer name of a tile URL of ours (`{origin}/tiles/{layer}/…`), else null. */
export function tileLayer(origin: string, url: string): string | null {
  const prefix = `${origin}/tiles/`;
  if (!url.startsWith(prefix)) return null;
  const rest = url.slice(prefix.length);
  const slash = rest.indexOf("/");
  return slash > 0 ? rest.slice(0, slash) : null;
}

/** MapLibre's transformRequest: the tile token on the authenticated layers' tiles only. */
export function tileTransform(origin: string, authed: ReadonlySet<string>, tokens: TileTokenManager) {
  return (url: string) => {
    const layer = tileLayer(origin, url);
    if (layer === null || !authed.has(layer)) return { url };
    const token = tokens.current();
    if (!token) return { url };
    const sep = url.includes("?") ? "&" : "?";
    return { url: `${url}${sep}token=${encodeURIComponent(token)}` };
  };
}

/** The `token` query parameter of a URL (the tile token a request carried), else null. */
export function tokenOf(url: string): string | null {
  const q = url.indexOf("?");
  return q < 0 ? null : new URLSearchParams(url.slice(q + 1)).get("token");
}

/** A map control that appears only when the leads' tiles cannot be authenticated: it says so and
 * offers "Réessayer" (renew, then reload the authenticated sources). The reference layers keep
 * showing meanwhile: they carry no token. */
export class TileTokenControl {
  private el: HTMLDivElement | null = null;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly tokens: TileTokenManager,
    private readonly reload: () => void,
  ) {}

  onAdd(): HTMLElement {
    const el = document.createElement("div");
    el.className = "maplibregl-ctrl maplibregl-ctrl-group lfs-tile-token";
    el.setAttribute("role", "alert");
    el.style.cssText = "padding:6px 8px;max-width:240px;font-size:12px;background:#fff7ed;color:#9a3412";
    const text = document.createElement("span");
    text.textContent = "Les leads ne s'affichent plus : la session de la carte a expiré. ";
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Réessayer";
    button.style.cssText = "width:auto;height:auto;padding:2px 6px;margin-left:4px;text-decoration:underline";
    button.addEventListener("click", () => {
      void this.tokens.renew().then((t) => {
        if (t) this.reload();
      });
    });
    el.append(text, button);
    const show = () => {
      el.style.display = this.tokens.snapshot().status === "error" ? "block" : "none";
    };
    show();
    this.unsubscribe = this.tokens.subscribe(show);
    this.el = el;
    return el;
  }

  onRemove(): void {
    this.unsubscribe?.();
    this.el?.remove();
    this.el = null;
  }
}

/** The app's tile token (one per signed-in session): forgotten when the access token changes. */
export const tileTokens = new TileTokenManager(() =>
  api<TileTokenOut>("/api/auth/tile-token", { method: "POST" }),
);
onTokenChange(() => tileTokens.reset());
