// The bulk actions bar of the lead list (MANAGER/ADMIN): assign, move or export the selected
// leads. The server applies each lead on its own and says, per lead, ok or why not.
import { useState } from "react";
import toast from "react-hot-toast";
import { Download, X } from "lucide-react";
import type { BulkOut } from "../../api/team";
import { exportSelection, useBulk } from "../../api/team";
import type { BoardCard, LeadStatus } from "../../api/types";
import ReasonDialog from "../../components/ReasonDialog";
import { Button, errorMessage } from "../../components/ui";
import { num } from "../../lib/format";
import { problemMessage } from "../../lib/problems";
import { STATUS_LABEL } from "../../lib/status";

/** "3 leads" / "1 lead". */
export const leads = (n: number) => `${num(n)} lead${n > 1 ? "s" : ""}`;

/** The French summary of a bulk answer, and one line per refused lead. */
export function bulkSummary(out: BulkOut, names: Map<number, string>, done: string): { text: string; refused: string[] } {
  const refused = out.results
    .filter((r) => !r.ok)
    .map((r) => {
      // The French message of the refusal's code (as for a single lead), else the server's.
      const why = r.code ? problemMessage(r.status, { code: r.code, ...(r.extensions ?? {}) }) : r.message;
      return `${names.get(r.id) ?? `Lead ${r.id}`} : ${why ?? "refusé"}`;
    });
  const text = out.failed
    ? `${leads(out.ok)} ${done}, ${leads(out.failed)} refusé${out.failed > 1 ? "s" : ""}`
    : `${leads(out.ok)} ${done}`;
  return { text, refused };
}

/** The bar shown while rows are selected. */
export default function BulkBar({
  selected,
  cards,
  statuses,
  users,
  onClear,
}: {
  selected: number[];
  cards: BoardCard[];
  statuses: LeadStatus[];
  users: { id: number; label: string }[];
  onClear: () => void;
}) {
  const bulk = useBulk();
  const [assignee, setAssignee] = useState("");
  const [target, setTarget] = useState<LeadStatus | "">("");
  const [asking, setAsking] = useState(false);
  const [refused, setRefused] = useState<string[]>([]);
  const names = new Map(cards.map((c) => [c.id, c.name || c.internal_name]));

  function report(out: BulkOut, done: string) {
    const { text, refused: lines } = bulkSummary(out, names, done);
    setRefused(lines);
    if (out.failed) toast.error(text, { id: "bulk" });
    else {
      toast.success(text, { id: "bulk" });
      onClear();
    }
  }

  function assign() {
    if (!assignee) return;
    bulk.mutate(
      { action: "assign", ids: selected, assignee_id: assignee === "none" ? null : Number(assignee) },
      {
        onSuccess: (out) => report(out, assignee === "none" ? "désassignés" : "assignés"),
        onError: (err) => toast.error(`Assignation impossible : ${errorMessage(err)}`),
      },
    );
  }

  function move(reason?: string) {
    if (!target) return;
    if (target === "REJECTED" && !reason) {
      setAsking(true);
      return;
    }
    bulk.mutate(
      { action: "transition", ids: selected, status: target, reason },
      {
        onSuccess: (out) => report(out, `passés à « ${STATUS_LABEL[target]} »`),
        onError: (err) => toast.error(`Déplacement impossible : ${errorMessage(err)}`),
      },
    );
  }

  const download = (format: "xlsx" | "csv") =>
    exportSelection(selected, format).catch((err) => toast.error(`Export impossible : ${errorMessage(err)}`));

  return (
    <div
      role="region"
      aria-label="Actions groupées"
      data-testid="bulk-bar"
      className="sticky top-0 z-20 border-b border-sky-200 bg-sky-50 px-3 py-2 text-sm text-slate-800"
    >
      <div className="flex flex-wrap items-center gap-2">
        <strong data-testid="bulk-count">{leads(selected.length)} sélectionné{selected.length > 1 ? "s" : ""}</strong>
        <select
          aria-label="Responsable des leads sélectionnés"
          value={assignee}
          onChange={(e) => setAssignee(e.target.value)}
          className="rounded-md border border-slate-300 bg-white px-2 py-1"
        >
          <option value="">Assigner à…</option>
          <option value="none">Personne (désassigner)</option>
          {users.map((u) => (
            <option key={u.id} value={u.id}>
              {u.label}
            </option>
          ))}
        </select>
        <Button variant="secondary" onClick={assign} disabled={!assignee} busy={bulk.isPending}>
          Assigner
        </Button>
        <select
          aria-label="Nouveau statut des leads sélectionnés"
          value={target}
          onChange={(e) => setTarget(e.target.value as LeadStatus | "")}
          className="rounded-md border border-slate-300 bg-white px-2 py-1"
        >
          <option value="">Passer à…</option>
          {statuses.map((s) => (
            <option key={s} value={s}>
              {STATUS_LABEL[s]}
            </option>
          ))}
        </select>
        <Button variant="secondary" onClick={() => move()} disabled={!target} busy={bulk.isPending}>
          Déplacer
        </Button>
        <Button variant="secondary" onClick={() => void download("xlsx")} title="Les leads sélectionnés, au format Excel">
          <Download className="h-4 w-4" aria-hidden /> Excel
        </Button>
        <Button variant="secondary" onClick={() => void download("csv")} title="Les leads sélectionnés en CSV (séparateur point-virgule)">
          <Download className="h-4 w-4" aria-hidden /> CSV (;)
        </Button>
        <Button variant="ghost" onClick={onClear}>
          <X className="h-4 w-4" aria-hidden /> Tout désélectionner
        </Button>
      </div>
      {refused.length > 0 && (
        <div role="status" className="mt-2 rounded-md border border-rose-200 bg-white p-2 text-xs text-rose-800" data-testid="bulk-refused">
          <p className="font-semibold">Refusés :</p>
          <ul className="list-disc pl-4">
            {refused.map((line) => (
              <li key={line}>{line}</li>
            ))}
          </ul>
        </div>
      )}
      {asking && (
        <ReasonDialog
          title={`Rejeter ${leads(selected.length)}`}
          onCancel={() => setAsking(false)}
          onConfirm={(reason) => {
            setAsking(false);
            move(reason);
          }}
        />
      )}
    </div>
  );
}
