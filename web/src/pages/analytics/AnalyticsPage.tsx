// Analytics: funnel, weekly throughput, score distribution, time in stage, by department, the
// team (OPS moves, managers' QA reviews); filtered by period, département and person, in the URL.
import type { ReactNode } from "react";
import { useSearchParams } from "react-router-dom";
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
import { useAnalytics, useUsers } from "../../api/reference";
import type { Departments, Funnel, LeadStatus, Scores, StageTimes, Throughput, Weekly } from "../../api/types";
import { Card, Empty, ErrorState, Loading, PageHeader } from "../../components/ui";
import { date, duration, num, percent, week } from "../../lib/format";
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

/** The filters every panel takes (the query parameters of /api/analytics/*). */
export interface AnalyticsFilters {
  from?: string;
  to?: string;
  department?: string;
  person?: string;
}

const FILTER_KEYS = ["from", "to", "department", "person"] as const;
const DEPARTMENT = /^(\d{2}|2A|2B|97\d)$/;

/** The filters as the URL holds them (invalid values dropped rather than sent). */
export function filtersFrom(search: URLSearchParams): AnalyticsFilters {
  const out: AnalyticsFilters = {};
  const day = /^\d{4}-\d{2}-\d{2}$/;
  const from = search.get("from") ?? "";
  const to = search.get("to") ?? "";
  if (day.test(from)) out.from = from;
  if (day.test(to) && !(out.from && to < out.from)) out.to = to;
  const dept = (search.get("department") ?? "").toUpperCase();
  if (DEPARTMENT.test(dept)) out.department = dept;
  const person = search.get("person") ?? "";
  if (/^[1-9]\d*$/.test(person)) out.person = person;
  return out;
}

/** "du 1 mars 2026 au 31 mars 2026", "depuis le …", "jusqu'au …", or the default period. */
export function periodLabel(f: AnalyticsFilters, fallback: string): string {
  if (f.from && f.to) return `du ${date(f.from)} au ${date(f.to)}`;
  if (f.from) return `depuis le ${date(f.from)}`;
  if (f.to) return `jusqu'au ${date(f.to)}`;
  return fallback;
}

function FilterBar({ filters, onChange }: { filters: AnalyticsFilters; onChange: (f: AnalyticsFilters) => void }) {
  const users = useUsers({}, true);
  const people = (users.data?.items ?? []).filter((u) => u.role !== "COMMERCIAL");
  const input = "mt-1 rounded-md border border-slate-300 px-2 py-1 text-sm";
  return (
    <form className="flex flex-wrap items-end gap-3 px-4 pt-4 text-sm" aria-label="Filtres des analyses" onSubmit={(e) => e.preventDefault()}>
      <label className="flex flex-col">
        <span className="text-slate-700">Du</span>
        <input type="date" className={input} value={filters.from ?? ""} max={filters.to} onChange={(e) => onChange({ ...filters, from: e.target.value || undefined })} />
      </label>
      <label className="flex flex-col">
        <span className="text-slate-700">Au</span>
        <input type="date" className={input} value={filters.to ?? ""} min={filters.from} onChange={(e) => onChange({ ...filters, to: e.target.value || undefined })} />
      </label>
      <label className="flex flex-col">
        <span className="text-slate-700">Département</span>
        <input
          className={`${input} w-24`}
          inputMode="text"
          placeholder="69"
          maxLength={3}
          defaultValue={filters.department ?? ""}
          key={filters.department ?? ""}
          onBlur={(e) => {
            const v = e.target.value.trim().toUpperCase();
            onChange({ ...filters, department: DEPARTMENT.test(v) ? v : undefined });
          }}
          onKeyDown={(e) => {
            if (e.key === "Enter") (e.target as HTMLInputElement).blur();
          }}
        />
      </label>
      <label className="flex flex-col">
        <span className="text-slate-700">Personne</span>
        <select className={input} value={filters.person ?? ""} onChange={(e) => onChange({ ...filters, person: e.target.value || undefined })}>
          <option value="">Toute l'équipe</option>
          {people.map((u) => (
            <option key={u.id} value={String(u.id)}>
              {u.full_name || u.email}
            </option>
          ))}
        </select>
      </label>
      {FILTER_KEYS.some((k) => filters[k]) && (
        <button type="button" className="rounded-md px-2 py-1 text-sky-800 underline" onClick={() => onChange({})}>
          Effacer les filtres
        </button>
      )}
      <p className="basis-full text-xs text-slate-600" data-testid="filters-note">
        La période compte les leads créés pendant celle-ci (entonnoir, scores, départements) et les mouvements faits pendant
        celle-ci (activité, temps par étape, équipe). Une personne : ses leads, assignés ou créés par elle.
      </p>
    </form>
  );
}

/** The analytics page. */
export default function AnalyticsPage() {
  const [search, setSearch] = useSearchParams();
  const filters = filtersFrom(search);
  const setFilters = (f: AnalyticsFilters) => {
    const next = new URLSearchParams();
    for (const k of FILTER_KEYS) if (f[k]) next.set(k, f[k] as string);
    setSearch(next);
  };
  const p = filters as Record<string, unknown>;
  const team = periodLabel(filters, "30 derniers jours");
  return (
    <div>
      <PageHeader title="Analyses" />
      <FilterBar filters={filters} onChange={setFilters} />
      <div className="grid gap-4 p-4 xl:grid-cols-2">
        <Panel<Funnel> title="Entonnoir de conversion" kind="funnel" params={p} isEmpty={(d) => d.total === 0}>
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
                    data={[
                      ...d.stages.map((s) => ({
                        label: STATUS_LABEL[s.status as LeadStatus],
                        status: s.status,
                        reached: s.reached,
                        conv: s.conversion_to_next,
                      })),
                      // Off the main path, shown too: every lead of the total is on the chart.
                      ...(["REJECTED", "ARCHIVED"] as const)
                        .filter((st) => d.counts[st] > 0)
                        .map((st) => ({ label: STATUS_LABEL[st], status: st, reached: d.counts[st], conv: null })),
                    ]}
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
                      {[...d.stages.map((s) => s.status), ...(["REJECTED", "ARCHIVED"] as const).filter((st) => d.counts[st] > 0)].map((st) => (
                        <Cell key={st} fill={STATUS_COLOR[st as LeadStatus]} />
                      ))}
                    </Bar>
                  </BarChart>
                </ResponsiveContainer>
              </div>
            </div>
          )}
        </Panel>
        <Panel<Weekly> title="Activité hebdomadaire" kind="weekly" params={{ weeks: 12, ...p }} isEmpty={(d) => d.weeks.length === 0}>
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
        <Panel<Scores> title="Distribution des scores" kind="scores" params={p} isEmpty={(d) => d.scored === 0}>
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
        <Panel<StageTimes> title="Temps passé par étape" kind="stage-times" params={p} isEmpty={(d) => d.stages.every((s) => s.median_days == null)}>
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
        <Panel<Departments> title="Par département" kind="departments" params={p} isEmpty={(d) => d.departments.length === 0}>
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
        <Panel<Throughput>
          title={`Production de l'équipe (${team})`}
          kind="throughput"
          params={{ days: 30, ...p }}
          isEmpty={(d) => d.users.length === 0 && d.reviews.length === 0}
        >
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
              <h3 className="mt-3 text-xs font-semibold uppercase tracking-wide text-slate-600">Revues qualité (managers)</h3>
              <table className="w-full text-sm" data-testid="reviews">
                <thead className="text-left text-xs text-slate-600">
                  <tr>
                    <th className="font-normal">Personne</th>
                    <th className="font-normal">Décisions</th>
                    <th className="font-normal">Approuvés</th>
                    <th className="font-normal">Renvoyés</th>
                    <th className="font-normal">Rejetés</th>
                    <th className="font-normal">Taux d'approbation</th>
                    <th className="font-normal">Délai médian</th>
                  </tr>
                </thead>
                <tbody className="tabular-nums">
                  {d.reviews.map((r) => (
                    <tr key={r.user_id} className="border-t border-slate-100">
                      <td className="py-1">{r.full_name}</td>
                      <td>{num(r.decisions)}</td>
                      <td>{num(r.approved)}</td>
                      <td>{num(r.sent_back)}</td>
                      <td>{num(r.rejected)}</td>
                      <td>{r.approval_rate == null ? "–" : percent(r.approval_rate)}</td>
                      <td>{r.median_review_days == null ? "–" : duration(r.median_review_days)}</td>
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
