// Dashboard: my leads and tasks; for managers the team's pipeline and what waits for review.
import { Link } from "react-router-dom";
import { ClipboardCheck, KanbanSquare, ListTodo, Map, Users } from "lucide-react";
import { useAuth } from "../../api/auth";
import { useLeads, usePipelineBoard } from "../../api/leads";
import type { LeadFilters, LeadOut, LeadStatus, Role } from "../../api/types";
import { Card, Empty, ErrorState, Loading, PageHeader, ScoreBadge, StatusBadge } from "../../components/ui";
import { age, num, surface } from "../../lib/format";
import { STATUS_COLOR, STATUS_LABEL, boardStatuses } from "../../lib/status";

function LeadList({ filters, empty, testId }: { filters: LeadFilters; empty: string; testId?: string }) {
  const { data, isLoading, error, refetch } = useLeads({ page_size: 8, sort: "-updated_at", ...filters });
  if (isLoading) return <Loading />;
  if (error) return <ErrorState error={error} retry={refetch} />;
  if (!data || data.items.length === 0) return <Empty title={empty} />;
  return (
    <ul className="divide-y divide-slate-100" data-testid={testId}>
      {data.items.map((lead: LeadOut) => (
        <li key={lead.id} className="flex items-center justify-between gap-3 py-2 text-sm">
          <div className="min-w-0">
            <Link to={`/leads/${lead.id}`} className="font-medium hover:underline">
              {lead.name || lead.internal_name}
            </Link>
            <p className="text-xs text-slate-500">
              {lead.commune_name ?? "—"} · {surface(lead.area_m2)} · {age(lead.status_changed_at)}
            </p>
          </div>
          <div className="flex shrink-0 items-center gap-2">
            <ScoreBadge score={lead.quality_score} />
            <StatusBadge status={lead.status as LeadStatus} />
          </div>
        </li>
      ))}
      {data.total > data.items.length && (
        <li className="pt-2 text-xs text-slate-500">
          {num(data.total - data.items.length)} de plus dans le <Link to="/pipeline" className="underline">pipeline</Link>
        </li>
      )}
    </ul>
  );
}

function TeamPipeline({ role }: { role: Role }) {
  const statuses = boardStatuses(role).filter((s) => s !== "ARCHIVED");
  const { data, isLoading, error, refetch } = usePipelineBoard(statuses, {}, 0);
  if (isLoading) return <Loading />;
  if (error) return <ErrorState error={error} retry={refetch} />;
  const max = Math.max(1, ...(data ?? []).map((c) => c.count));
  return (
    <ul className="space-y-1.5" data-testid="team-pipeline">
      {(data ?? []).map((c) => (
        <li key={c.status} className="flex items-center gap-2 text-sm">
          <span className="w-24 shrink-0 text-slate-600">{STATUS_LABEL[c.status]}</span>
          <div className="h-4 flex-1 rounded bg-slate-100">
            <div className="h-4 rounded" style={{ width: `${(c.count / max) * 100}%`, backgroundColor: STATUS_COLOR[c.status] }} />
          </div>
          <span className="w-10 text-right tabular-nums">{num(c.count)}</span>
        </li>
      ))}
    </ul>
  );
}

const SHORTCUT =
  "inline-flex min-h-[2.5rem] items-center gap-1.5 rounded-md border border-slate-300 bg-white px-3 text-sm font-medium text-slate-800 hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-400";

/** The dashboard. */
export default function DashboardPage() {
  const { user, hasRole } = useAuth();
  if (!user) return null;
  const isStaff = hasRole("ADMIN", "MANAGER");
  const isCommercial = user.role === "COMMERCIAL";
  return (
    <div>
      <PageHeader title={`Bonjour ${user.full_name || user.email}`}>
        {/* Shortcuts within a thumb's reach on a phone (and focusable content for the keyboard). */}
        <nav aria-label="Raccourcis" className="flex gap-2">
          {!isCommercial && (
            <Link to="/map" className={SHORTCUT}>
              <Map className="h-4 w-4" aria-hidden /> Carte
            </Link>
          )}
          <Link to="/pipeline" className={SHORTCUT}>
            <KanbanSquare className="h-4 w-4" aria-hidden /> Pipeline
          </Link>
        </nav>
      </PageHeader>
      <div className="grid gap-4 p-4 lg:grid-cols-2">
        {isCommercial ? (
          <>
            <Card title="Prêts pour le client" icon={<ClipboardCheck className="h-4 w-4" />}>
              <LeadList filters={{ status: ["CLIENT_READY"], sort: "-quality_score" }} empty="Aucun lead prêt pour le moment" testId="client-ready" />
            </Card>
            <Card title="Vendus récemment" icon={<ListTodo className="h-4 w-4" />}>
              <LeadList filters={{ status: ["SOLD"] }} empty="Aucune vente" />
            </Card>
          </>
        ) : (
          <>
            <Card title="Mes leads" icon={<ListTodo className="h-4 w-4" />}>
              <LeadList filters={{ assignee_id: user.id }} empty="Aucun lead assigné" testId="my-leads" />
            </Card>
            <Card title="Mes tâches : à enrichir ou qualifier" icon={<ClipboardCheck className="h-4 w-4" />}>
              <LeadList filters={{ assignee_id: user.id, status: ["NEW", "ENRICHED"] }} empty="Rien à faire : bravo !" testId="my-tasks" />
            </Card>
          </>
        )}
        {isStaff && (
          <>
            <Card title="En attente de revue" icon={<ClipboardCheck className="h-4 w-4 text-amber-500" />}>
              <LeadList filters={{ status: ["IN_REVIEW"], sort: "status_changed_at" }} empty="Aucun lead à valider" testId="to-review" />
            </Card>
            <Card title="Pipeline de l'équipe" icon={<Users className="h-4 w-4" />}>
              <TeamPipeline role={user.role as Role} />
            </Card>
          </>
        )}
      </div>
    </div>
  );
}
