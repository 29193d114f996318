// Who is logged in. The access token lives in memory only; the session itself is an httpOnly
// cookie the page cannot read (POST /api/auth/login sets it, POST /api/auth/session turns it into
// a new access token). A reload, a new tab (Ctrl+click, a pasted URL), even after every tab was
// closed, gets its token from the cookie before the first page renders; the tabs tell each other
// over a BroadcastChannel when one logs in (the others take the session) or out (all end).
// docs/web.md, "Session"; docs/security.md, "Web sessions".
import { createContext, useCallback, useContext, useEffect, useMemo, useState } from "react";
import type { ReactNode } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { ApiError, USER_KEY, api, getToken, noteSessionEnd, onTokenChange, refreshSession, setToken, startSession } from "./client";
import type { Role, TokenOut, UserOut } from "./types";

interface AuthValue {
  user: UserOut | null;
  token: string | null;
  /** False while the session cookie is being exchanged for a token (first render only). */
  ready: boolean;
  login: (email: string, password: string) => Promise<UserOut>;
  logout: () => Promise<void>;
  hasRole: (...roles: Role[]) => boolean;
}

const AuthContext = createContext<AuthValue | null>(null);

function readUser(): UserOut | null {
  try {
    const user = sessionStorage.getItem(USER_KEY);
    return user ? (JSON.parse(user) as UserOut) : null;
  } catch {
    return null;
  }
}

type SessionMessage = { type: "login" } | { type: "logout" };

let channel: BroadcastChannel | null = null;
let restoring: Promise<void> | null = null;

/** The tabs' channel: a login elsewhere logs this tab in too (from the shared cookie), a logout
 * elsewhere ends this tab's session. Tokens never travel on it. */
function bus(): BroadcastChannel | null {
  if (channel || typeof BroadcastChannel === "undefined") return channel;
  channel = new BroadcastChannel("lfs-session");
  channel.onmessage = (e: MessageEvent<SessionMessage>) => {
    const msg = e.data;
    if (msg?.type === "login" && !getToken()) {
      void restoreSession();
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

/** Get this tab's access token from the session cookie before the first render (a deep link
 * lands on its page, not on the login). With no session, nothing is said; a session that ended
 * (expired, revoked, password changed, account deactivated) is said on the login page. */
export function restoreSession(): Promise<void> {
  bus();
  if (getToken()) return Promise.resolve();
  if (!restoring) performance.mark?.("lfs:session-asked"); // the browser suites report the wait
  restoring ??= refreshSession()
    .then((out) => {
      performance.mark?.("lfs:session-shared");
      startSession(out.access_token, out.user);
    })
    .catch((err: unknown) => {
      if (err instanceof ApiError && err.status === 401 && err.code !== "auth.required") noteSessionEnd(err.message);
      try {
        sessionStorage.removeItem(USER_KEY);
      } catch {
        // nothing stored
      }
    })
    .finally(() => {
      restoring = null;
    });
  return restoring;
}

/** Provides the current user, login and logout. */
export function AuthProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [token, setTokenState] = useState<string | null>(getToken());
  const [user, setUser] = useState<UserOut | null>(() => (getToken() ? readUser() : null));
  const [ready, setReady] = useState(() => restoring === null);

  useEffect(() => {
    const changed = (t: string | null) => {
      setTokenState(t);
      if (t) {
        const stored = readUser();
        if (stored) setUser(stored);
      } else {
        setUser(null);
        try {
          sessionStorage.removeItem(USER_KEY);
        } catch {
          // nothing stored
        }
        queryClient.clear();
      }
    };
    const stop = onTokenChange(changed);
    // A session restored between the first render and this subscription.
    const now = getToken();
    if (now) changed(now);
    let live = true;
    if (restoring) void restoring.then(() => live && setReady(true));
    else setReady(true);
    return () => {
      live = false;
      stop();
    };
  }, [queryClient]);

  const login = useCallback(async (email: string, password: string) => {
    const out = await api<TokenOut>("/api/auth/login", { method: "POST", body: { email, password } });
    startSession(out.access_token, out.user);
    setUser(out.user);
    tell({ type: "login" });
    return out.user;
  }, []);

  const logout = useCallback(async () => {
    try {
      // Ends the cookie session and revokes this access token (and its tile tokens).
      await api("/api/auth/session", { method: "DELETE" });
    } catch {
      // The server may be unreachable: forgetting the token locally is what matters here.
    }
    tell({ type: "logout" });
    setToken(null);
  }, []);

  const value = useMemo<AuthValue>(
    () => ({
      user,
      token,
      ready,
      login,
      logout,
      hasRole: (...roles: Role[]) => !!user && roles.includes(user.role as Role),
    }),
    [user, token, ready, login, logout],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

/** The auth context (user, login, logout, hasRole). */
export function useAuth(): AuthValue {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error("useAuth outside AuthProvider");
  return ctx;
}
