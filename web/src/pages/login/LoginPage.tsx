// Login: email + password → token; back to the page that asked for it.
import { useState } from "react";
import type { FormEvent } from "react";
import { Navigate, useLocation, useNavigate } from "react-router-dom";
import { Sun } from "lucide-react";
import { useAuth } from "../../api/auth";
import { takeSessionEnd } from "../../api/client";
import { Button, errorMessage } from "../../components/ui";

/** The login form. */
export default function LoginPage() {
  const { user, login } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  // Why the previous session ended (expired, revoked, logged out in another tab), said once.
  const [ended] = useState(() => takeSessionEnd());
  const [busy, setBusy] = useState(false);
  const from = (location.state as { from?: string } | null)?.from ?? "/";

  if (user) return <Navigate to={from} replace />;

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(email, password);
      navigate(from, { replace: true });
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="flex min-h-full items-center justify-center bg-gradient-to-br from-slate-900 via-slate-800 to-sky-900 p-4">
      <form
        onSubmit={submit}
        className="w-full max-w-sm space-y-4 rounded-xl bg-white p-8 shadow-xl"
        aria-labelledby="login-title"
      >
        <div className="flex items-center gap-2">
          <Sun className="h-8 w-8 text-brand-500" aria-hidden />
          <div>
            <h1 id="login-title" className="text-xl font-semibold">
              LFS Lead Factory
            </h1>
            <p className="text-sm text-slate-500">Prospection foncière photovoltaïque</p>
          </div>
        </div>
        <label className="block text-sm">
          <span className="text-slate-700">Adresse e-mail</span>
          <input
            type="email"
            name="email"
            autoComplete="username"
            required
            autoFocus
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            className="mt-1 w-full rounded-md border border-slate-300 px-3 py-2 focus:border-sky-500 focus:outline-none focus:ring-1 focus:ring-sky-500"
          />
        </label>
        <label className="block text-sm">
          <span className="text-slate-700">Mot de passe</span>
          <input
            type="password"
            name="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            className="mt-1 w-full rounded-md border border-slate-300 px-3 py-2 focus:border-sky-500 focus:outline-none focus:ring-1 focus:ring-sky-500"
          />
        </label>
        {ended && !error && (
          <p role="status" className="rounded bg-amber-50 px-3 py-2 text-sm text-amber-900" data-testid="session-ended">
            {ended}
          </p>
        )}
        {error && (
          <p role="alert" className="rounded bg-red-50 px-3 py-2 text-sm text-red-700">
            {error}
          </p>
        )}
        <Button type="submit" busy={busy} className="w-full py-2">
          Se connecter
        </Button>
      </form>
    </main>
  );
}
