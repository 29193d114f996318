// Pipeline Kanban: one column per status, drag a card to transition it; the server decides.
import { useEffect, useMemo, useRef, useState } from "react";
import { useSearchParams } from "react-router-dom";
import toast from "react-hot-toast";
import { Columns3, Download, List } from "lucide-react";
import { useAuth } from "../../api/auth";
import { exportLeads } from "../../api/exports";
import { usePipelineBoard, useTransition } from "../../api/leads";
import { useUsers } from "../../api/reference";
import type { BoardCard, LeadStatus, Role } from "../../api/types";
import ReasonDialog from "../../components/ReasonDialog";
import { Button, ErrorState, Loading, PageHeader, errorMessage } from "../../components/ui";
import { STATUS_LABEL, boardStatuses } from "../../lib/status";
import BulkBar from "./BulkBar";
import Column from "./Column";
import LeadList from "./LeadList";
import SavedViews from "./SavedViews";
import { DEPARTMENT, filterHref, useNarrow } from "./filters";

/** The orders of the cards (the list's sort keys; "" is the server's default, latest change). */
export const SORTS: [string, string][] = [
  ["", "Tri : dernière modification"],
  ["-created_at", "Tri : plus récents"],
  ["-quality_score", "Tri : meilleur score"],
  ["-area_m2", "Tri : plus grande surface"],
  ["status_changed_at", "Tri : plus longtemps dans le statut"],
  ["internal_name", "Tri : référence"],
];

/** The Kanban board. */
/** An export written by the server's worker: a toast while it is prepared, then the download. */
function startExport(format: "csv" | "xlsx", params: Record<string, unknown>): void {
  toast
    .promise(exportLeads(format, params), {
      loading: "Export en préparation…",
      success: (job) => `Export prêt : ${job.rows ?? 0} lead${(job.rows ?? 0) > 1 ? "s" : ""}`,
      error: (err) => `Export impossible : ${errorMessage(err)}`,
    })
    .catch(() => undefined); // said by the toast
}

export default function PipelinePage() {
  const { user, hasRole } = useAuth();
  const [params, setParams] = useSearchParams();
  const showArchived = params.get("archived") === "1";
  const statuses = boardStatuses(user?.role as Role).filter((s) => showArchived || s !== "ARCHIVED");
  const isStaff = hasRole("ADMIN", "MANAGER");
  const users = useUsers({}, isStaff);
  const transition = useTransition();
  // Cards moved but not yet confirmed by the server: shown in their new column meanwhile.
  const [pending, setPending] = useState<Record<number, LeadStatus>>({});
  const [asking, setAsking] = useState<{ card: BoardCard; to: LeadStatus } | null>(null);
  // The card being dragged: every column says before the drop whether the server would take it.
  const [dragging, setDragging] = useState<BoardCard | null>(null);
  // The list's selected rows (MANAGER/ADMIN bulk actions).
  const [selected, setSelected] = useState<Set<number>>(new Set());
  function select(ids: number[], checked: boolean) {
    setSelected((prev) => {
      const next = new Set(prev);
      ids.forEach((id) => (checked ? next.add(id) : next.delete(id)));
      return next;
    });
  }

  const filters = {
    assignee_id: params.get("assignee") ?? undefined,
    department: params.get("department") ?? undefined,
    score_min: params.get("score_min") ?? undefined,
    q: params.get("q") ?? undefined,
    sort: params.get("sort") ?? undefined,
  };
  const board = usePipelineBoard(statuses, filters);

  const columns = useMemo(() => {
    const data = board.data ?? [];
    const moved = new Map<LeadStatus, BoardCard[]>();
    const cols = data.map((col) => ({
      ...col,
      cards: col.cards.filter((c) => {
        const to = pending[c.id];
        if (to && to !== col.status) {
          moved.set(to, [...(moved.get(to) ?? []), { ...c, status: to }]);
          return false;
        }
        return true;
      }),
    }));
    return cols.map((col) => ({ ...col, cards: [...(moved.get(col.status) ?? []), ...col.cards] }));
  }, [board.data, pending]);

  // Only the selected rows still shown (a filter change hides some: they are not acted on).
  const visibleSelection = useMemo(
    () => columns.flatMap((c) => c.cards.map((card) => card.id)).filter((id) => selected.has(id)),
    [columns, selected],
  );

  function move(card: BoardCard, to: LeadStatus, reason?: string) {
    if (card.status === to) return;
    if (to === "REJECTED" && !reason) {
      setAsking({ card, to });
      return;
    }
    const label = card.name || card.internal_name;
    setPending((p) => ({ ...p, [card.id]: to }));
    transition.mutate(
      { id: card.id, status: to, reason },
      {
        onSuccess: () => toast.success(`${label} → ${STATUS_LABEL[to]}`),
        // Refused: the card snaps back to its column and the server's reason is shown.
        onError: (err) => toast.error(`Déplacement refusé : ${errorMessage(err)}`, { id: `refused-${card.id}` }),
        onSettled: () =>
          setPending((p) => {
            const next = { ...p };
            delete next[card.id];
            return next;
          }),
      },
    );
  }

  // Every filter is in the URL: a reload, a shared link, Back and Forward give the same board.
  // Lists and boxes push a history entry; typed text follows the URL after a pause (one entry
  // per search, not per key).
  function setFilter(key: string, value: string, replace = false) {
    const next = filterHref(params, key, value);
    if (next.toString() !== params.toString()) setParams(next, { replace });
  }
  const [q, setQ] = useState(filters.q ?? "");
  const [dept, setDept] = useState(filters.department ?? "");
  // What the text boxes last sent to the URL: when the URL says otherwise (Back/Forward, a
  // link), the boxes show what the board is filtered on.
  const sent = useRef({ q: filters.q ?? "", department: filters.department ?? "" });
  useEffect(() => {
    const urlQ = params.get("q") ?? "";
    const urlDept = params.get("department") ?? "";
    if (urlQ !== sent.current.q) setQ(urlQ);
    if (urlDept !== sent.current.department) setDept(urlDept);
    sent.current = { q: urlQ, department: urlDept };
  }, [params]);
  const typing = useRef<number | undefined>(undefined);
  function typed(key: "q" | "department", value: string) {
    window.clearTimeout(typing.current);
    typing.current = window.setTimeout(() => {
      sent.current = { ...sent.current, [key]: value };
      setFilter(key, value);
    }, 350);
  }
  useEffect(() => () => window.clearTimeout(typing.current), []);
  const deptIncomplete = dept !== "" && !DEPARTMENT.test(dept);
  const narrow = useNarrow();
  const view = params.get("view") ?? (narrow ? "list" : "board");
  const exportParams = {
    assignee_id: filters.assignee_id,
    department: filters.department,
    score_min: filters.score_min,
    q: filters.q,
  };

  return (
    <div className="flex h-full flex-col">
      <PageHeader title="Pipeline">
        <input
          type="search"
          placeholder="Rechercher…"
          aria-label="Rechercher un lead"
          value={q}
          onChange={(e) => {
            setQ(e.target.value);
            typed("q", e.target.value.trim());
          }}
          className="w-44 rounded-md border border-slate-300 px-2 py-1 text-sm"
        />
        {isStaff && (
          <select
            aria-label="Filtrer par responsable"
            value={params.get("assignee") ?? ""}
            onChange={(e) => setFilter("assignee", e.target.value)}
            className="rounded-md border border-slate-300 px-2 py-1 text-sm"
          >
            <option value="">Tous les responsables</option>
            {users.data?.items.map((u) => (
              <option key={u.id} value={u.id}>
                {u.full_name || u.email}
              </option>
            ))}
          </select>
        )}
        <input
          aria-label="Département"
          placeholder="Dépt."
          maxLength={3}
          value={dept}
          aria-invalid={deptIncomplete}
          title={deptIncomplete ? "Un département : 2 chiffres (ou 2A, 2B, 97x)" : undefined}
          onChange={(e) => {
            const v = e.target.value.trim().toUpperCase();
            setDept(v);
            // An incomplete code ("6" on the way to "69") filters on nothing, never on the
            // previous department.
            typed("department", DEPARTMENT.test(v) ? v : "");
          }}
          className={`w-20 rounded-md border px-2 py-1 text-sm ${deptIncomplete ? "border-amber-500" : "border-slate-300"}`}
        />
        <select
          aria-label="Score minimum"
          value={params.get("score_min") ?? ""}
          onChange={(e) => setFilter("score_min", e.target.value)}
          className="rounded-md border border-slate-300 px-2 py-1 text-sm"
        >
          <option value="">Tous les scores</option>
          <option value="40">Score ≥ 40</option>
          <option value="60">Score ≥ 60</option>
          <option value="80">Score ≥ 80</option>
        </select>
        <select
          aria-label="Trier les leads"
          value={params.get("sort") ?? ""}
          onChange={(e) => setFilter("sort", e.target.value)}
          className="rounded-md border border-slate-300 px-2 py-1 text-sm"
        >
          {SORTS.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
        <SavedViews params={params} setParams={(p) => setParams(p)} canShare={isStaff} />
        <Button
          variant="secondary"
          title="Les leads filtrés, au format Excel"
          onClick={() => startExport("xlsx", exportParams)}
        >
          <Download className="h-4 w-4" aria-hidden /> Exporter
        </Button>
        <Button
          variant="secondary"
          title="Les leads filtrés en CSV pour Excel en français (séparateur point-virgule)"
          onClick={() => startExport("csv", { ...exportParams, dialect: "fr" })}
        >
          <Download className="h-4 w-4" aria-hidden /> CSV (;)
        </Button>
        <div role="group" aria-label="Affichage" className="flex rounded-md border border-slate-300">
          <button
            type="button"
            aria-pressed={view === "board"}
            onClick={() => setFilter("view", "board")}
            className={`flex items-center gap-1 rounded-l-md px-2 py-1 text-sm ${view === "board" ? "bg-slate-800 text-white" : "bg-white text-slate-700"}`}
          >
            <Columns3 className="h-4 w-4" aria-hidden /> Tableau
          </button>
          <button
            type="button"
            aria-pressed={view === "list"}
            onClick={() => setFilter("view", "list")}
            className={`flex items-center gap-1 rounded-r-md px-2 py-1 text-sm ${view === "list" ? "bg-slate-800 text-white" : "bg-white text-slate-700"}`}
          >
            <List className="h-4 w-4" aria-hidden /> Liste
          </button>
        </div>
        {user?.role !== "COMMERCIAL" && (
          <label className="flex items-center gap-1 text-sm text-slate-600">
            <input type="checkbox" checked={showArchived} onChange={(e) => setFilter("archived", e.target.checked ? "1" : "")} />
            Archivés
          </label>
        )}
      </PageHeader>
      {board.error ? (
        <ErrorState error={board.error} retry={() => board.refetch()} />
      ) : board.isLoading ? (
        <Loading />
      ) : view === "list" ? (
        <>
          {isStaff && visibleSelection.length > 0 && (
            <BulkBar
              selected={visibleSelection}
              cards={columns.flatMap((c) => c.cards)}
              statuses={statuses}
              users={(users.data?.items ?? [])
                .filter((u) => u.is_active && u.role !== "COMMERCIAL")
                .map((u) => ({ id: u.id, label: u.full_name || u.email }))}
              onClear={() => setSelected(new Set())}
            />
          )}
          <LeadList
            columns={columns}
            statuses={statuses}
            onMove={move}
            busy={board.isFetching}
            selected={isStaff ? selected : undefined}
            onSelect={select}
          />
        </>
      ) : (
        <div className="flex flex-1 gap-2 overflow-x-auto p-3" data-testid="kanban" aria-busy={board.isFetching}>
          {columns.map((col) => (
            <Column
              key={col.status}
              status={col.status}
              cards={col.cards}
              total={col.count}
              statuses={statuses}
              onMove={move}
              dragging={dragging}
              onDrag={setDragging}
              totals={col}
            />
          ))}
        </div>
      )}
      {asking && (
        <ReasonDialog
          title={`Rejeter « ${asking.card.name || asking.card.internal_name} »`}
          onCancel={() => setAsking(null)}
          onConfirm={(reason) => {
            move(asking.card, asking.to, reason);
            setAsking(null);
          }}
        />
      )}
    </div>
  );
}
