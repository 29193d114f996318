// Saved views of the pipeline: the URL's filters and sort under a name, mine and the team's; picking one
// puts its filters back in the URL (list and Kanban alike).
import { useState } from "react";
import toast from "react-hot-toast";
import { Bookmark, Trash2 } from "lucide-react";
import { ApiError } from "../../api/client";
import type { SavedView, ViewFilters } from "../../api/team";
import { useDeleteView, useSaveView, useSavedViews } from "../../api/team";
import Modal from "../../components/Modal";
import { Button, errorMessage } from "../../components/ui";

/** The URL keys a view keeps. */
const KEYS = ["q", "assignee", "department", "score_min", "sort", "view", "archived"] as const;

/** The saved-view filters of the page's URL. */
export function viewFromParams(params: URLSearchParams): ViewFilters {
  const f: ViewFilters = {};
  const q = params.get("q");
  if (q) f.q = q;
  const assignee = params.get("assignee");
  if (assignee && /^\d+$/.test(assignee)) f.assignee = Number(assignee);
  const dept = params.get("department");
  if (dept) f.department = dept;
  const score = params.get("score_min");
  if (score && Number.isFinite(Number(score))) f.score_min = Number(score);
  const sort = params.get("sort");
  if (sort) f.sort = sort as ViewFilters["sort"];
  const view = params.get("view");
  if (view === "board" || view === "list") f.view = view;
  if (params.get("archived") === "1") f.archived = true;
  return f;
}

/** The URL of a saved view's filters (the other query keys kept as they are). */
export function paramsFromView(filters: Record<string, unknown>, current: URLSearchParams): URLSearchParams {
  const next = new URLSearchParams(current);
  KEYS.forEach((k) => next.delete(k));
  if (typeof filters.q === "string") next.set("q", filters.q);
  if (typeof filters.assignee === "number") next.set("assignee", String(filters.assignee));
  if (typeof filters.department === "string") next.set("department", filters.department);
  if (typeof filters.score_min === "number") next.set("score_min", String(filters.score_min));
  if (typeof filters.sort === "string") next.set("sort", filters.sort);
  if (filters.view === "board" || filters.view === "list") next.set("view", filters.view);
  if (filters.archived === true) next.set("archived", "1");
  return next;
}

const same = (a: URLSearchParams, b: URLSearchParams) => KEYS.every((k) => (a.get(k) ?? "") === (b.get(k) ?? ""));

/** The view picker, "Enregistrer la vue" and the delete button of one's own view. */
export default function SavedViews({
  params,
  setParams,
  canShare,
}: {
  params: URLSearchParams;
  setParams: (p: URLSearchParams) => void;
  canShare: boolean;
}) {
  const views = useSavedViews();
  const save = useSaveView();
  const del = useDeleteView();
  const [asking, setAsking] = useState(false);
  const [name, setName] = useState("");
  const [shared, setShared] = useState(false);
  const list: SavedView[] = Array.isArray(views.data) ? views.data : [];
  const current = list.find((v) => same(paramsFromView(v.filters, params), params));
  const mine = list.filter((v) => v.mine);
  const team = list.filter((v) => !v.mine);

  return (
    <>
      <select
        aria-label="Vues enregistrées"
        value={current ? String(current.id) : ""}
        onChange={(e) => {
          const view = list.find((v) => String(v.id) === e.target.value);
          if (view) setParams(paramsFromView(view.filters, params));
        }}
        className="max-w-[12rem] rounded-md border border-slate-300 px-2 py-1 text-sm"
      >
        <option value="">{list.length ? "Vues enregistrées…" : "Aucune vue enregistrée"}</option>
        {mine.length > 0 && (
          <optgroup label="Mes vues">
            {mine.map((v) => (
              <option key={v.id} value={v.id}>
                {v.name}
                {v.shared ? " (partagée)" : ""}
              </option>
            ))}
          </optgroup>
        )}
        {team.length > 0 && (
          <optgroup label="Vues de l'équipe">
            {team.map((v) => (
              <option key={v.id} value={v.id}>
                {v.name} — {v.owner_name}
              </option>
            ))}
          </optgroup>
        )}
      </select>
      {current?.mine && (
        <Button
          variant="ghost"
          title={`Supprimer la vue « ${current.name} »`}
          aria-label={`Supprimer la vue « ${current.name} »`}
          onClick={() =>
            del.mutate(current.id, {
              onSuccess: () => toast.success(`Vue « ${current.name} » supprimée`),
              onError: (err) => toast.error(errorMessage(err)),
            })
          }
        >
          <Trash2 className="h-4 w-4" aria-hidden />
        </Button>
      )}
      <Button variant="secondary" onClick={() => setAsking(true)} title="Enregistrer les filtres actuels sous un nom">
        <Bookmark className="h-4 w-4" aria-hidden /> Enregistrer la vue
      </Button>
      {asking && (
        <Modal title="Enregistrer la vue" onClose={() => setAsking(false)}>
          <form
            className="space-y-3"
            onSubmit={(e) => {
              e.preventDefault();
              if (!name.trim()) return;
              save.mutate(
                { name: name.trim(), filters: viewFromParams(params), shared: canShare && shared },
                {
                  onSuccess: (v) => {
                    toast.success(`Vue « ${v.name} » enregistrée`);
                    setAsking(false);
                    setName("");
                    setShared(false);
                  },
                  onError: (err) =>
                    toast.error(
                      err instanceof ApiError && err.status === 409
                        ? `Vous avez déjà une vue nommée « ${name.trim()} »`
                        : errorMessage(err),
                    ),
                },
              );
            }}
          >
            <label className="block text-sm">
              <span className="text-slate-700">Nom de la vue</span>
              <input
                name="view-name"
                required
                maxLength={80}
                value={name}
                onChange={(e) => setName(e.target.value)}
                className="mt-1 w-full rounded-md border border-slate-300 px-3 py-2 text-sm"
              />
            </label>
            {canShare && (
              <label className="flex items-center gap-2 text-sm text-slate-700">
                <input type="checkbox" checked={shared} onChange={(e) => setShared(e.target.checked)} />
                Partager avec l'équipe
              </label>
            )}
            <div className="flex justify-end gap-2">
              <Button variant="secondary" onClick={() => setAsking(false)}>
                Annuler
              </Button>
              <Button type="submit" disabled={!name.trim()} busy={save.isPending}>
                Enregistrer
              </Button>
            </div>
          </form>
        </Modal>
      )}
    </>
  );
}
