// The app frame: a left navigation by role, the user and logout; pages render in <Outlet/>.
import { Suspense } from "react";
import { NavLink, Outlet, useNavigate } from "react-router-dom";
import { BarChart3, KanbanSquare, LayoutDashboard, LogOut, Map, ScanSearch, Sun, Users } from "lucide-react";
import { useAuth } from "../api/auth";
import type { Role } from "../api/types";
import { ROLE_LABEL } from "../lib/status";
import NotificationBell from "./NotificationBell";
import { Loading } from "./ui";

const NAV: { to: string; label: string; icon: typeof Map; roles?: Role[] }[] = [
  { to: "/dashboard", label: "Tableau de bord", icon: LayoutDashboard },
  { to: "/map", label: "Carte", icon: Map, roles: ["ADMIN", "MANAGER", "OPS"] },
  { to: "/prospection", label: "Prospection", icon: ScanSearch, roles: ["ADMIN", "MANAGER", "OPS"] },
  { to: "/pipeline", label: "Pipeline", icon: KanbanSquare },
  { to: "/analytics", label: "Analyses", icon: BarChart3, roles: ["ADMIN", "MANAGER"] },
  { to: "/admin", label: "Utilisateurs", icon: Users, roles: ["ADMIN"] },
];

/** The frame around every authenticated page. */
export default function Layout() {
  const { user, logout, hasRole } = useAuth();
  const navigate = useNavigate();
  return (
    <div className="flex h-screen overflow-hidden">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:z-50 focus:bg-white focus:p-2">
        Aller au contenu
      </a>
      <nav aria-label="Navigation principale" className="flex w-14 shrink-0 flex-col bg-slate-900 text-slate-200 sm:w-48 2xl:w-56">
        <div className="flex items-center gap-2 px-4 py-4 text-white">
          <Sun className="h-6 w-6 text-brand-400" aria-hidden />
          <span className="hidden font-semibold tracking-tight sm:inline">Lead Factory</span>
        </div>
        <ul className="flex-1 space-y-0.5 px-2">
          {NAV.filter((n) => !n.roles || hasRole(...n.roles)).map(({ to, label, icon: Icon }) => (
            <li key={to}>
              <NavLink
                to={to}
                className={({ isActive }) =>
                  `flex items-center gap-2.5 rounded-md px-3 py-2 text-sm focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-400 ${
                    isActive ? "bg-slate-700 text-white" : "hover:bg-slate-800"
                  }`
                }
              >
                <Icon className="h-4 w-4 shrink-0" aria-hidden />
                {/* Narrow screens (a phone, 390 px): icons only, the names still read out. */}
                <span className="sr-only sm:not-sr-only">{label}</span>
              </NavLink>
            </li>
          ))}
        </ul>
        <div className="border-t border-slate-700 p-2 text-sm sm:p-3">
          <NotificationBell />
          <p className="sr-only truncate font-medium text-white sm:not-sr-only" data-testid="current-user">
            {user?.full_name || user?.email}
          </p>
          <p className="sr-only text-xs text-slate-400 sm:not-sr-only">{user ? ROLE_LABEL[user.role as Role] : ""}</p>
          <button
            type="button"
            onClick={() =>
              // The next person to log in starts from their own home, not this page.
              void logout().then(() => navigate("/login", { replace: true, state: null }))
            }
            className="mt-2 flex items-center gap-1.5 rounded px-2 py-1 text-xs text-slate-300 hover:bg-slate-800 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-400"
          >
            <LogOut className="h-3.5 w-3.5 shrink-0" aria-hidden /> <span className="sr-only sm:not-sr-only">Se déconnecter</span>
          </button>
        </div>
      </nav>
      <main id="main" className="flex min-w-0 flex-1 flex-col overflow-auto">
        <Suspense fallback={<Loading />}>
          <Outlet />
        </Suspense>
      </main>
    </div>
  );
}
