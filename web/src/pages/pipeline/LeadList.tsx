// The pipeline as a list (phones, or by choice): one row per lead, grouped by status, with the
// same move menu as the board's cards; big enough to use with a thumb.
import { Link } from "react-router-dom";
import type { BoardCard, LeadStatus } from "../../api/types";
import { ScoreBadge, StatusBadge } from "../../components/ui";
import { age, num, surface } from "../../lib/format";
import { STATUS_LABEL } from "../../lib/status";
import { movesOf } from "./LeadCard";

/** Leads of every column, one list per status. */
export default function LeadList({
  columns,
  statuses,
  onMove,
  busy,
}: {
  columns: { status: LeadStatus; count: number; cards: BoardCard[] }[];
  statuses: LeadStatus[];
  onMove: (card: BoardCard, to: LeadStatus) => void;
  busy: boolean;
}) {
  return (
    <div className="flex-1 space-y-4 overflow-y-auto p-3" data-testid="lead-list" aria-busy={busy}>
      {columns.map((col) => (
        <section key={col.status} aria-label={STATUS_LABEL[col.status]} data-list-status={col.status}>
          <h2 className="mb-1 flex items-center gap-2 text-sm font-semibold text-slate-700">
            <StatusBadge status={col.status} /> <span data-testid={`list-count-${col.status}`}>{num(col.count)}</span>
          </h2>
          {col.cards.length === 0 ? (
            <p className="px-2 text-xs text-slate-600">Aucun lead</p>
          ) : (
            <ul className="divide-y divide-slate-100 rounded-lg border border-slate-200 bg-white">
              {col.cards.map((lead) => {
                const name = lead.name || lead.internal_name;
                const moves = movesOf(lead, statuses);
                return (
                  <li key={lead.id} data-lead-id={lead.id} className="flex items-center gap-2 px-3 py-2">
                    <Link to={`/leads/${lead.id}`} className="min-w-0 flex-1 py-1 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-400">
                      <span className="block truncate font-medium text-slate-900">{name}</span>
                      <span className="block truncate text-xs text-slate-600">
                        {lead.commune_name ?? lead.commune_insee ?? "Commune inconnue"} · {surface(lead.area_m2)} ·{" "}
                        {age(lead.status_changed_at)} · {lead.assignee_name ?? "Non assigné"}
                      </span>
                      {lead.rejection_reason && (
                        <span className="block truncate text-xs text-rose-700">Motif : {lead.rejection_reason}</span>
                      )}
                    </Link>
                    <ScoreBadge score={lead.quality_score} />
                    <select
                      aria-label={`Déplacer ${name}`}
                      value=""
                      disabled={moves.length === 0}
                      title={moves.length ? undefined : "Aucun déplacement possible pour vous"}
                      onChange={(e) => e.target.value && onMove(lead, e.target.value as LeadStatus)}
                      className="h-10 w-24 shrink-0 rounded-md border border-slate-300 bg-white px-1 text-xs text-slate-700 disabled:opacity-50"
                    >
                      <option value="">Déplacer…</option>
                      {moves.map((s) => (
                        <option key={s} value={s}>
                          {STATUS_LABEL[s]}
                        </option>
                      ))}
                    </select>
                  </li>
                );
              })}
              {col.count > col.cards.length && (
                <li className="px-3 py-2 text-center text-xs text-slate-600">+ {num(col.count - col.cards.length)} autres</li>
              )}
            </ul>
          )}
        </section>
      ))}
    </div>
  );
}
