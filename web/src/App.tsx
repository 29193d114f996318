// Routes: every page is its own chunk (React.lazy), loaded when first visited.
import { lazy, Suspense } from "react";
import type { ReactNode } from "react";
import { Navigate, Route, Routes, useLocation } from "react-router-dom";
import { useAuth } from "./api/auth";
import type { Role } from "./api/types";
import Layout from "./components/Layout";
import { Loading } from "./components/ui";
import LoginPage from "./pages/login/LoginPage";

const DashboardPage = lazy(() => import("./pages/dashboard/DashboardPage"));
const MapPage = lazy(() => import("./pages/map/MapPage"));
const PipelinePage = lazy(() => import("./pages/pipeline/PipelinePage"));
const LeadPage = lazy(() => import("./pages/lead/LeadPage"));
const AnalyticsPage = lazy(() => import("./pages/analytics/AnalyticsPage"));
const AdminPage = lazy(() => import("./pages/admin/AdminPage"));
const ProspectionPage = lazy(() => import("./pages/prospection/ProspectionPage"));

function RequireAuth({ children, roles }: { children: ReactNode; roles?: Role[] }) {
  const { user, hasRole, ready } = useAuth();
  const location = useLocation();
  // The session cookie is being exchanged for a token: the page asked for, not the login.
  if (!user && !ready) return <Loading />;
  if (!user) return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  if (roles && !hasRole(...roles)) return <Navigate to="/dashboard" replace />;
  return <>{children}</>;
}

/** The login page once the session cookie was tried (it then says why a session ended). */
function AfterRestore({ children }: { children: ReactNode }) {
  const { ready } = useAuth();
  return ready ? <>{children}</> : <Loading />;
}

/** Home by role: OPS prospect on the map, COMMERCIAL sell from the pipeline. */
function Home() {
  const { user } = useAuth();
  if (user?.role === "OPS") return <Navigate to="/map" replace />;
  return <Navigate to="/dashboard" replace />;
}

/** The application's routes. */
export default function App() {
  return (
    <Suspense fallback={<Loading />}>
      <Routes>
        <Route
          path="/login"
          element={
            <AfterRestore>
              <LoginPage />
            </AfterRestore>
          }
        />
        <Route
          element={
            <RequireAuth>
              <Layout />
            </RequireAuth>
          }
        >
          <Route index element={<Home />} />
          <Route path="dashboard" element={<DashboardPage />} />
          <Route
            path="map"
            element={
              <RequireAuth roles={["ADMIN", "MANAGER", "OPS"]}>
                <MapPage />
              </RequireAuth>
            }
          />
          <Route
            path="prospection"
            element={
              <RequireAuth roles={["ADMIN", "MANAGER", "OPS"]}>
                <ProspectionPage />
              </RequireAuth>
            }
          />
          <Route path="pipeline" element={<PipelinePage />} />
          <Route path="leads/:id" element={<LeadPage />} />
          <Route
            path="analytics"
            element={
              <RequireAuth roles={["ADMIN", "MANAGER"]}>
                <AnalyticsPage />
              </RequireAuth>
            }
          />
          <Route
            path="admin"
            element={
              <RequireAuth roles={["ADMIN"]}>
                <AdminPage />
              </RequireAuth>
            }
          />
          <Route path="*" element={<Navigate to="/" replace />} />
        </Route>
      </Routes>
    </Suspense>
  );
}
