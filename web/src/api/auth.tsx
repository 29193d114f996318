// Who is logged in. The token lives in memory and in sessionStorage: it survives a reload of the
// tab but not closing it. A new tab of the app (Ctrl+click, a pasted URL) asks the open ones for
// theirs over a BroadcastChannel, so the session lasts as long as one tab of it is open; a
// logout in one tab ends it in all (docs/web.md, "Session").
import { createContext, useCallback, useContext, useEffect, useMemo, useState } from "react";
import type { ReactNode } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { api, getToken, noteSessionEnd, onTokenChange, setToken } from "./client";
import type { Role, TokenOut, UserOut } from "./types";

const TOKEN_KEY = "lfs.token";
const USER_KEY = "lfs.user";

interface AuthValue {
  user: UserOut | null;
  token: string | null;
  login: (email: string, password: string) => Promise<UserOut>;
  logout: () => Promise<void>;
  hasRole: (...roles: Role[]) => boolean;
}

const AuthContext = createContext<AuthValue | null>(null);

function readStored(): { token: string | null; user: UserOut | null } {
  try {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const user = sessionStorage.getItem(USER_KEY);
    return { token, user: token && user ? (JSON.parse(user) as UserOut) : null };
  } catch {
    return { token: null, user: null };
  }
}

type SessionMessage =
  | { type: "ask" }
  | { type: "share"; token: string; user: UserOut }
  | { type: "logout" };

let channel: BroadcastChannel | null = null;

function keep(token: string, user: UserOut): void {
  sessionStorage.setItem(TOKEN_KEY, token);
  sessionStorage.setItem(USER_KEY, JSON.stringify(user));
}

/** The tabs' channel: answers a new tab's question with this tab's session, takes a session
 * offered while this tab has none, ends this tab's session when another logs out. */
function bus(): BroadcastChannel | null {
  if (channel || typeof BroadcastChannel === "undefined") return channel;
  channel = new BroadcastChannel("lfs-session");
  channel.onmessage = (e: MessageEvent<SessionMessage>) => {
    const msg = e.data;
    if (msg?.type === "ask") {
      const { token, user } = readStored();
      if (token && user && getToken() === token) channel?.postMessage({ type: "share", token, user } satisfies SessionMessage);
    } else if (msg?.type === "share" && !getToken() && typeof msg.token === "string" && msg.user) {
      performance.mark?.("lfs:session-shared"); // the browser suite reports the wait
      keep(msg.token, msg.user);
      setToken(msg.token);
    } else if (msg?.type === "logout" && getToken()) {
      noteSessionEnd("Vous vous êtes déconnecté dans un autre onglet.");
      setToken(null);
    }
  };
  return channel;
}

/** Tell the other tabs (a login shares the session, a logout ends it everywhere). */
function tell(msg: SessionMessage): void {
  bus()?.postMessage(msg);
}

/** Restore this tab's session before the first render (deep links work after a reload); with
 * none, ask the app's other open tabs for theirs (the answer arrives within milliseconds and
 * logs this tab in; the login page meanwhile sends it on to the page asked for). */
export function restoreSession(): void {
  const { token } = readStored();
  if (token) setToken(token);
  bus();
  if (!token) {
    performance.mark?.("lfs:session-asked");
    tell({ type: "ask" });
  }
}

/** Provides the current user, login and logout. */
export function AuthProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [token, setTokenState] = useState<string | null>(getToken());
  const [user, setUser] = useState<UserOut | null>(() => (getToken() ? readStored().user : null));

  useEffect(() => {
    const changed = (t: string | null) => {
      setTokenState(t);
      if (t) {
        const stored = readStored();
        if (stored.token === t && stored.user) setUser(stored.user);
      } else {
        setUser(null);
        sessionStorage.removeItem(TOKEN_KEY);
        sessionStorage.removeItem(USER_KEY);
        queryClient.clear();
      }
    };
    const stop = onTokenChange(changed);
    // A session another tab shared between the first render and this subscription.
    const now = getToken();
    if (now) changed(now);
    return stop;
  }, [queryClient]);

  const login = useCallback(async (email: string, password: string) => {
    const out = await api<TokenOut>("/api/auth/login", { method: "POST", body: { email, password } });
    keep(out.access_token, out.user);
    setUser(out.user);
    setToken(out.access_token);
    tell({ type: "share", token: out.access_token, user: out.user });
    return out.user;
  }, []);

  const logout = useCallback(async () => {
    try {
      if (getToken()) await api("/api/auth/logout", { method: "POST" });
    } catch {
      // The token may already be expired or revoked: forgetting it locally is what matters.
    }
    tell({ type: "logout" });
    setToken(null);
  }, []);

  const value = useMemo<AuthValue>(
    () => ({
      user,
      token,
      login,
      logout,
      hasRole: (...roles: Role[]) => !!user && roles.includes(user.role as Role),
    }),
    [user, token, login, logout],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

/** The auth context (user, login, logout, hasRole). */
export function useAuth(): AuthValue {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error("useAuth outside AuthProvider");
  return ctx;
}
