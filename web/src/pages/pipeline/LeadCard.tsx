// A Kanban card: drag it, or use its menu from the keyboard to move it.
import { Link } from "react-router-dom";
import { MapPin, User } from "lucide-react";
import type { BoardCard, LeadStatus } from "../../api/types";
import { ScoreBadge } from "../../components/ui";
import { age, surface } from "../../lib/format";
import { STATUS_LABEL } from "../../lib/status";
import { DRAG_TYPE } from "./Column";

/**
 * The moves a card offers: the ones the server said it would accept for this user
 * (`allowed_transitions`), in the board's order, then any other (ARCHIVED when its column is
 * hidden). None when the server said none.
 */
export function movesOf(lead: BoardCard, statuses: LeadStatus[]): LeadStatus[] {
  const allowed = lead.allowed_transitions ?? [];
  return [...statuses.filter((s) => allowed.includes(s)), ...allowed.filter((s) => !statuses.includes(s))].filter(
    (s) => s !== lead.status,
  );
}

/** One lead on the board. */
export default function LeadCard({
  lead,
  statuses,
  onMove,
  onDrag,
}: {
  lead: BoardCard;
  statuses: LeadStatus[];
  onMove: (lead: BoardCard, to: LeadStatus) => void;
  /** The card being dragged (null when the drag ends): the columns say where it may go. */
  onDrag?: (lead: BoardCard | null) => void;
}) {
  const moves = movesOf(lead, statuses);
  const name = lead.name || lead.internal_name;
  return (
    <li
      draggable={moves.length > 0}
      data-lead-id={lead.id}
      onDragStart={(e) => {
        e.dataTransfer.setData(DRAG_TYPE, JSON.stringify(lead));
        e.dataTransfer.effectAllowed = "move";
        onDrag?.(lead);
      }}
      onDragEnd={() => onDrag?.(null)}
      className={`rounded-md border border-slate-200 bg-white p-2.5 text-sm shadow-sm hover:border-slate-300 ${
        moves.length > 0 ? "cursor-grab active:cursor-grabbing" : ""
      }`}
    >
      <div className="flex items-start justify-between gap-2">
        <Link to={`/leads/${lead.id}`} className="min-w-0 break-words font-medium text-slate-900 hover:underline focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-400">
          {lead.name || lead.internal_name}
        </Link>
        <ScoreBadge score={lead.quality_score} />
      </div>
      <p className="mt-1 flex items-center gap-1 text-xs text-slate-500">
        <MapPin className="h-3 w-3" aria-hidden />
        {lead.commune_name ?? lead.commune_insee ?? "Commune inconnue"}
        {lead.department ? ` (${lead.department})` : ""}
      </p>
      <div className="mt-1.5 flex items-center justify-between text-xs text-slate-600">
        <span>{surface(lead.area_m2)}</span>
        <span title="Depuis le dernier changement de statut">{age(lead.status_changed_at)}</span>
      </div>
      {lead.rejection_reason && (
        <p className="mt-1 line-clamp-2 text-xs text-rose-700" title={lead.rejection_reason} data-testid="rejection-reason">
          Motif : {lead.rejection_reason}
        </p>
      )}
      <div className="mt-1.5 flex items-center justify-between gap-1">
        <span className="flex min-w-0 items-center gap-1 text-xs text-slate-500" title={lead.assignee_name ?? "Non assigné"}>
          <User className="h-3 w-3 shrink-0" aria-hidden />
          <span className="truncate">{lead.assignee_name ?? "Non assigné"}</span>
        </span>
        {/* The keyboard way to move a card (drag and drop needs a mouse). */}
        <select
          aria-label={`Déplacer ${name}`}
          title={moves.length ? "Déplacer vers…" : "Aucun déplacement possible pour vous"}
          value=""
          disabled={moves.length === 0}
          onChange={(e) => e.target.value && onMove(lead, e.target.value as LeadStatus)}
          className="w-8 shrink-0 cursor-pointer appearance-none rounded border border-slate-200 bg-slate-50 text-center text-xs text-slate-600 hover:bg-slate-100 disabled:cursor-not-allowed disabled:opacity-50"
        >
          <option value="">⇄</option>
          {moves.map((s) => (
            <option key={s} value={s}>
              {STATUS_LABEL[s]}
            </option>
          ))}
        </select>
      </div>
    </li>
  );
}
