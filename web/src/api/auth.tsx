// Who is logged in. The token lives in memory and in sessionStorage: it survives a reload of the
// tab but not closing it, and is not shared with other tabs (docs/web.md, "Session").
import { createContext, useCallback, useContext, useEffect, useMemo, useState } from "react";
import type { ReactNode } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { api, getToken, onTokenChange, setToken } from "./client";
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

/** Restore a token kept by this tab before the first render (so deep links work after reload). */
export function restoreSession(): void {
  const { token } = readStored();
  if (token) setToken(token);
}

/** Provides the current user, login and logout. */
export function AuthProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [token, setTokenState] = useState<string | null>(getToken());
  const [user, setUser] = useState<UserOut | null>(() => (getToken() ? readStored().user : null));

  useEffect(
    () =>
      onTokenChange((t) => {
        setTokenState(t);
        if (!t) {
          setUser(null);
          sessionStorage.removeItem(TOKEN_KEY);
          sessionStorage.removeItem(USER_KEY);
          queryClient.clear();
        }
      }),
    [queryClient],
  );

  const login = useCallback(async (email: string, password: string) => {
    const out = await api<TokenOut>("/api/auth/login", { method: "POST", body: { email, password } });
    sessionStorage.setItem(TOKEN_KEY, out.access_token);
    sessionStorage.setItem(USER_KEY, JSON.stringify(out.user));
    setUser(out.user);
    setToken(out.access_token);
    return out.user;
  }, []);

  const logout = useCallback(async () => {
    try {
      if (getToken()) await api("/api/auth/logout", { method: "POST" });
    } catch {
      // The token may already be expired or revoked: forgetting it locally is what matters.
    }
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
