// One Kanban column: a drop target with its count and cards.
import { useState } from "react";
import type { BoardCard, LeadStatus } from "../../api/types";
import { num } from "../../lib/format";
import { STATUS_COLOR, STATUS_LABEL } from "../../lib/status";
import LeadCard from "./LeadCard";
import { type Totals, totalsText, totalsTitle } from "./totals";

export const DRAG_TYPE = "application/x-lfs-lead";

/** A column of the board. */
export default function Column({
  status,
  cards,
  total,
  statuses,
  onMove,
  dragging = null,
  onDrag,
  totals = {},
}: {
  status: LeadStatus;
  cards: BoardCard[];
  total: number;
  statuses: LeadStatus[];
  onMove: (card: BoardCard, to: LeadStatus) => void;
  /** The card being dragged, if any: the column says before the drop whether it takes it. */
  dragging?: BoardCard | null;
  onDrag?: (card: BoardCard | null) => void;
  /** The column's area and power totals (the server's). */
  totals?: Omit<Totals, "count">;
}) {
  const [over, setOver] = useState(false);
  // While a card is dragged: "allowed" (the server would accept the move), "refused" (dimmed,
  // no drop), or "home" (the card's own column).
  const drop = !dragging
    ? null
    : dragging.status === status
      ? "home"
      : (dragging.allowed_transitions ?? []).includes(status)
        ? "allowed"
        : "refused";
  return (
    <section
      aria-label={STATUS_LABEL[status]}
      data-column={status}
      data-drop={drop ?? undefined}
      onDragOver={(e) => {
        // Only a column the server would accept takes the drop (the others show "no drop").
        if (e.dataTransfer.types.includes(DRAG_TYPE) && (drop === "allowed" || (drop === null && !onDrag))) {
          e.preventDefault();
          setOver(true);
        }
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        e.preventDefault();
        setOver(false);
        const raw = e.dataTransfer.getData(DRAG_TYPE);
        const card = dragging ?? (raw ? (JSON.parse(raw) as BoardCard) : null);
        onDrag?.(null);
        if (card && (card.allowed_transitions ?? []).includes(status)) onMove(card, status);
      }}
      className={`flex min-w-[8.75rem] max-w-[22rem] flex-1 basis-0 flex-col rounded-lg border bg-slate-100 ${
        over
          ? "border-sky-400 ring-2 ring-sky-200"
          : drop === "allowed"
            ? "border-dashed border-emerald-500"
            : "border-slate-200"
      } ${drop === "refused" ? "opacity-40" : ""}`}
    >
      <header className="flex items-center justify-between gap-1 border-b border-slate-200 px-2.5 py-2">
        <span className="flex min-w-0 items-center gap-1.5 truncate text-sm font-semibold">
          <span className="h-2.5 w-2.5 rounded-full" style={{ backgroundColor: STATUS_COLOR[status] }} />
          {STATUS_LABEL[status]}
        </span>
        <span className="rounded-full bg-white px-2 text-xs font-medium text-slate-600" data-testid={`count-${status}`}>
          {num(total)}
        </span>
      </header>
      <p className="border-b border-slate-200 px-2.5 py-1 text-xs tabular-nums text-slate-700" data-testid={`totals-${status}`} title={totalsTitle({ count: total, ...totals })}>
        {totalsText({ count: total, ...totals })}
      </p>
      {drop === "allowed" && (
        <p className="border-b border-emerald-200 bg-emerald-50 px-2.5 py-1 text-xs text-emerald-800">Déposer ici</p>
      )}
      {drop === "refused" && (
        <p className="border-b border-slate-200 px-2.5 py-1 text-xs text-slate-700">Déplacement impossible</p>
      )}
      <ul className="flex-1 space-y-2 overflow-y-auto p-1.5">
        {cards.length === 0 && <li className="p-3 text-center text-xs text-slate-600">Aucun lead</li>}
        {cards.map((card) => (
          <LeadCard key={card.id} lead={card} statuses={statuses} onMove={onMove} onDrag={onDrag} />
        ))}
        {total > cards.length && (
          <li className="text-center text-xs text-slate-500">+ {num(total - cards.length)} autres</li>
        )}
      </ul>
    </section>
  );
}
