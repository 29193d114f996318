// The pipeline as a list (phones, or by choice): one row per lead, grouped by status, with the
// same move menu as the board's cards; big enough to use with a thumb.
import { useRef } from "react";
import { Link } from "react-router-dom";
import type { BoardCard, LeadStatus } from "../../api/types";
import { ScoreBadge, StatusBadge } from "../../components/ui";
import { age, num, surface } from "../../lib/format";
import { STATUS_LABEL } from "../../lib/status";
import { movesOf } from "./LeadCard";
import { type Totals, sumTotals, totalsText, totalsTitle } from "./totals";

/** The ids of the rows from one to another, in the list's order (a shift-click's range). */
export function rangeOf(order: number[], from: number, to: number): number[] {
  const a = order.indexOf(from);
  const b = order.indexOf(to);
  if (a < 0 || b < 0) return [to];
  return order.slice(Math.min(a, b), Math.max(a, b) + 1);
}

/** Leads of every column, one list per status; MANAGER/ADMIN select rows for bulk actions. */
export default function LeadList({
  columns,
  statuses,
  onMove,
  busy,
  selected,
  onSelect,
}: {
  columns: (Totals & { status: LeadStatus; cards: BoardCard[] })[];
  statuses: LeadStatus[];
  onMove: (card: BoardCard, to: LeadStatus) => void;
  busy: boolean;
  /** The selected lead ids (rows show a checkbox when given). */
  selected?: Set<number>;
  onSelect?: (ids: number[], checked: boolean) => void;
}) {
  const anchor = useRef<number | null>(null);
  const order = columns.flatMap((c) => c.cards.map((card) => card.id));
  const all = sumTotals(columns);
  function toggle(id: number, checked: boolean, shift: boolean) {
    const ids = shift && anchor.current !== null ? rangeOf(order, anchor.current, id) : [id];
    anchor.current = id;
    onSelect?.(ids, checked);
  }
  return (
    <div className="flex-1 space-y-4 overflow-y-auto p-3" data-testid="lead-list" aria-busy={busy}>
      {columns.map((col) => (
        <section key={col.status} aria-label={STATUS_LABEL[col.status]} data-list-status={col.status}>
          <h2 className="mb-1 flex flex-wrap items-center gap-2 text-sm font-semibold text-slate-700">
            {selected && col.cards.length > 0 && (
              <input
                type="checkbox"
                aria-label={`Sélectionner les leads « ${STATUS_LABEL[col.status]} » affichés`}
                checked={col.cards.every((c) => selected.has(c.id))}
                onChange={(e) => onSelect?.(col.cards.map((c) => c.id), e.target.checked)}
                className="h-4 w-4"
              />
            )}
            <StatusBadge status={col.status} /> <span data-testid={`list-count-${col.status}`}>{num(col.count)}</span>
            <span className="text-xs font-normal tabular-nums text-slate-600" data-testid={`list-totals-${col.status}`} title={totalsTitle(col)}>
              {totalsText(col)}
            </span>
          </h2>
          {col.cards.length === 0 ? (
            <p className="px-2 text-xs text-slate-600">Aucun lead</p>
          ) : (
            <ul className="divide-y divide-slate-100 rounded-lg border border-slate-200 bg-white">
              {col.cards.map((lead) => {
                const name = lead.name || lead.internal_name;
                const moves = movesOf(lead, statuses);
                return (
                  <li
                    key={lead.id}
                    data-lead-id={lead.id}
                    className={`flex items-center gap-2 px-3 py-2 ${selected?.has(lead.id) ? "bg-sky-50" : ""}`}
                  >
                    {selected && (
                      <input
                        type="checkbox"
                        aria-label={`Sélectionner ${name}`}
                        checked={selected.has(lead.id)}
                        onChange={(e) => toggle(lead.id, e.target.checked, (e.nativeEvent as MouseEvent).shiftKey === true)}
                        className="h-5 w-5 shrink-0"
                      />
                    )}
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
      <footer className="rounded-lg border border-slate-200 bg-white px-3 py-2 text-sm text-slate-700" data-testid="list-totals">
        <span className="font-semibold">Total</span> : {num(all.count)} lead{all.count > 1 ? "s" : ""} ·{" "}
        <span className="tabular-nums" title={totalsTitle(all)}>
          {totalsText(all)}
        </span>
      </footer>
    </div>
  );
}
