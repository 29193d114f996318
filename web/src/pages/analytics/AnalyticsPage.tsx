// Analytics: funnel, weekly throughput, score distribution, time in stage, by department.
import type { ReactNode } from "react";
import {
  Bar,
  BarChart,
  CartesianGrid,
  Cell,
  Legend,
  Line,
  LineChart,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import { useAnalytics } from "../../api/reference";
import type { Departments, Funnel, LeadStatus, Scores, StageTimes, Throughput, Weekly } from "../../api/types";
import { Card, Empty, ErrorState, Loading, PageHeader } from "../../components/ui";
import { duration, num, percent, week } from "../../lib/format";
import { STATUS_COLOR, STATUS_LABEL } from "../../lib/status";

function Panel<T>({
  title,
  kind,
  params,
  children,
  isEmpty,
}: {
  title: string;
  kind: string;
  params?: Record<string, unknown>;
  children: (data: T) => ReactNode;
  isEmpty: (data: T) => boolean;
}) {
  const { data, isLoading, error, refetch } = useAnalytics<T>(kind, params);
  return (
    <Card title={title}>
      {/* Focusable: the page scrolls, and a keyboard user scrolls by moving between charts. */}
      <div className="h-64 rounded focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-400" data-testid={`chart-${kind}`} tabIndex={0} role="group" aria-label={title}>
        {isLoading ? (
          <Loading />
        ) : error ? (
          <ErrorState error={error} retry={refetch} />
        ) : !data || isEmpty(data) ? (
          <Empty title="Pas encore de données" />
        ) : (
          children(data)
        )}
      </div>
    </Card>
  );
}

const tick = { fontSize: 11 };

/** The analytics page. */
export default function AnalyticsPage() {
  return (
    <div>
      <PageHeader title="Analyses" />
      <div className="grid gap-4 p-4 xl:grid-cols-2">
        <Panel<Funnel> title="Entonnoir de conversion" kind="funnel" isEmpty={(d) => d.total === 0}>
          {(d) => (
            <div className="flex h-full flex-col">
              {/* Every lead is accounted for: the closed ones off the main path are said. */}
              <p className="mb-1 text-xs text-slate-600" data-testid="funnel-note">
                {num(d.total)} leads : {num(d.total - d.rejected - d.archived)} sur le chemin principal ; {num(d.rejected)}{" "}
                rejeté{d.rejected > 1 ? "s" : ""} et {num(d.archived)} archivé{d.archived > 1 ? "s" : ""}, hors de l'entonnoir
              </p>
              <div className="min-h-0 flex-1">
                <ResponsiveContainer>
                  <BarChart
                    layout="vertical"
                    data={d.stages.map((s) => ({
                      label: STATUS_LABEL[s.status as LeadStatus],
                      status: s.status,
                      reached: s.reached,
                      conv: s.conversion_to_next,
                    }))}
                    margin={{ left: 20 }}
                  >
                    <CartesianGrid strokeDasharray="3 3" horizontal={false} />
                    <XAxis type="number" tick={tick} allowDecimals={false} />
                    <YAxis type="category" dataKey="label" tick={tick} width={80} />
                    <Tooltip
                      formatter={(v: number, _n, item) => {
                        const conv = (item.payload as { conv: number | null }).conv;
                        return [`${num(v)}${conv != null ? ` (→ ${percent(conv)} au suivant)` : ""}`, "Leads atteignant l'étape"];
                      }}
                    />
                    <Bar dataKey="reached" isAnimationActive={false}>
                      {d.stages.map((s) => (
                        <Cell key={s.status} fill={STATUS_COLOR[s.status as LeadStatus]} />
                      ))}
                    </Bar>
                  </BarChart>
                </ResponsiveContainer>
              </div>
            </div>
          )}
        </Panel>
        <Panel<Weekly> title="Activité hebdomadaire" kind="weekly" params={{ weeks: 12 }} isEmpty={(d) => d.weeks.length === 0}>
          {(d) => (
            <ResponsiveContainer>
              <LineChart data={d.weeks}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="week" tick={tick} tickFormatter={(w: string) => week(w).replace("sem. du ", "")} />
                <YAxis tick={tick} allowDecimals={false} />
                <Tooltip labelFormatter={(w: string) => week(w)} formatter={(v: number) => num(v)} />
                <Legend />
                <Line dataKey="created" name="Créés" stroke="#64748b" isAnimationActive={false} />
                <Line dataKey="qualified" name="Qualifiés" stroke="#6366f1" isAnimationActive={false} />
                <Line dataKey="sold" name="Vendus" stroke="#15803d" isAnimationActive={false} />
              </LineChart>
            </ResponsiveContainer>
          )}
        </Panel>
        <Panel<Scores> title="Distribution des scores" kind="scores" isEmpty={(d) => d.scored === 0}>
          {(d) => (
            <div className="flex h-full flex-col">
              <p className="mb-1 text-xs text-slate-500">
                {d.scored} leads notés · moyenne {num(d.average, 1)} · médiane {num(d.median, 1)} · fiabilité moyenne{" "}
                {d.average_completeness == null ? "–" : percent(d.average_completeness)}
              </p>
              <div className="flex-1">
                <ResponsiveContainer>
                  <BarChart data={d.histogram.map((b) => ({ label: `${num((b as unknown as { from: number }).from)}–${num(b.to)}`, count: b.count }))}>
                    <CartesianGrid strokeDasharray="3 3" vertical={false} />
                    <XAxis dataKey="label" tick={tick} />
                    <YAxis tick={tick} allowDecimals={false} />
                    <Tooltip formatter={(v: number) => num(v)} />
                    <Bar dataKey="count" name="Leads" fill="#f7b500" isAnimationActive={false} />
                  </BarChart>
                </ResponsiveContainer>
              </div>
            </div>
          )}
        </Panel>
        <Panel<StageTimes> title="Temps passé par étape" kind="stage-times" isEmpty={(d) => d.stages.every((s) => s.median_days == null)}>
          {(d) => (
            <ResponsiveContainer>
              <BarChart data={d.stages.map((s) => ({ label: STATUS_LABEL[s.status as LeadStatus], median: s.median_days, p90: s.p90_days }))}>
                <CartesianGrid strokeDasharray="3 3" vertical={false} />
                <XAxis dataKey="label" tick={tick} />
                <YAxis tick={tick} width={56} tickFormatter={(v: number) => duration(v)} />
                <Tooltip formatter={(v: number) => duration(v)} />
                <Legend />
                <Bar dataKey="median" name="Médiane" fill="#0ea5e9" isAnimationActive={false} />
                <Bar dataKey="p90" name="90e centile" fill="#94a3b8" isAnimationActive={false} />
              </BarChart>
            </ResponsiveContainer>
          )}
        </Panel>
        <Panel<Departments> title="Par département" kind="departments" isEmpty={(d) => d.departments.length === 0}>
          {(d) => (
            <ResponsiveContainer>
              <BarChart data={d.departments.map((r) => ({ ...r, label: r.department ?? "?" }))}>
                <CartesianGrid strokeDasharray="3 3" vertical={false} />
                <XAxis dataKey="label" tick={tick} />
                <YAxis tick={tick} allowDecimals={false} />
                <Tooltip />
                <Legend />
                <Bar dataKey="leads" name="Leads" fill="#6366f1" isAnimationActive={false} />
                <Bar dataKey="client_ready" name="Prêts client" fill="#10b981" isAnimationActive={false} />
                <Bar dataKey="sold" name="Vendus" fill="#15803d" isAnimationActive={false} />
              </BarChart>
            </ResponsiveContainer>
          )}
        </Panel>
        <Panel<Throughput> title="Production de l'équipe (30 jours)" kind="throughput" params={{ days: 30 }} isEmpty={(d) => d.users.length === 0}>
          {(d) => (
            // A keyboard user must reach a region that scrolls (axe: scrollable-region-focusable).
            <div className="h-full overflow-auto" tabIndex={0} role="region" aria-label="Production de l'équipe">
              <table className="w-full text-sm">
                <thead className="text-left text-xs text-slate-600">
                  <tr>
                    <th className="font-normal">Personne</th>
                    <th className="font-normal">Créés</th>
                    <th className="font-normal">Enrichis</th>
                    <th className="font-normal">Qualifiés</th>
                    <th className="font-normal">Soumis</th>
                    <th className="font-normal">Rejetés</th>
                    <th className="font-normal">En charge</th>
                  </tr>
                </thead>
                <tbody className="tabular-nums">
                  {d.users.map((u) => (
                    <tr key={u.user_id} className="border-t border-slate-100">
                      <td className="py-1">{u.full_name}</td>
                      <td>{u.created}</td>
                      <td>{u.enriched}</td>
                      <td>{u.qualified}</td>
                      <td>{u.submitted}</td>
                      <td>{u.rejected}</td>
                      <td>{u.assigned_now}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Panel>
      </div>
    </div>
  );
}
