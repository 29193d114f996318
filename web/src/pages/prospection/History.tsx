// Past searches (the caller's; all for MANAGER/ADMIN) and the runs of the one open.
import { History as HistoryIcon } from "lucide-react";
import type { SiteSearch } from "../../api/siteSearches";
import { useRuns, useSiteSearches } from "../../api/siteSearches";
import { errorMessage } from "../../components/ui";
import { dateTime, num } from "../../lib/format";
import { RUN_STATUS_LABEL, territoryLabel } from "./logic";

export default function History({
  searchId,
  runId,
  onOpenSearch,
  onOpenRun,
  ownerOf,
}: {
  /** Who made a search not the caller's (MANAGER/ADMIN see everyone's), or null. */
  ownerOf?: (ownerId: number | null) => string | null;
  searchId: number | null;
  runId: number | null;
  onOpenSearch: (s: SiteSearch) => void;
  onOpenRun: (searchId: number, runId: number) => void;
}) {
  const searches = useSiteSearches();
  const runs = useRuns(searchId);
  const items = searches.data?.items ?? [];
  return (
    <details className="rounded-md border border-slate-200 bg-white">
      <summary className="flex cursor-pointer items-center gap-1.5 px-3 py-2 text-sm font-semibold text-slate-800 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-400">
        <HistoryIcon className="h-4 w-4" aria-hidden /> Recherches enregistrées ({num(items.length)})
      </summary>
      <div className="space-y-3 border-t border-slate-100 p-3">
        {searches.isLoading && <p className="text-xs text-slate-600">Chargement…</p>}
        {searches.error && <p role="alert" className="text-xs text-red-700">{errorMessage(searches.error)}</p>}
        {!searches.isLoading && items.length === 0 && <p className="text-xs text-slate-600">Aucune recherche pour l'instant.</p>}
        <ul className="max-h-48 space-y-0.5 overflow-y-auto" aria-label="Recherches">
          {items.map((s) => (
            <li key={s.id}>
              <button
                type="button"
                onClick={() => onOpenSearch(s)}
                aria-current={s.id === searchId ? "true" : undefined}
                className={`w-full rounded px-2 py-1 text-left text-xs hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-400 ${
                  s.id === searchId ? "bg-slate-100 font-semibold" : ""
                }`}
              >
                <span className="block truncate">{s.name}</span>
                <span className="block truncate text-slate-600">
                  {territoryLabel(s.territory)} · {dateTime(s.updated_at)}
                  {ownerOf?.(s.owner_id) && ` · par ${ownerOf(s.owner_id)}`}
                </span>
              </button>
            </li>
          ))}
        </ul>
        {searchId != null && (
          <div>
            <h2 className="mb-1 text-xs font-semibold text-slate-600">Exécutions de la recherche</h2>
            {runs.isLoading && <p className="text-xs text-slate-600">Chargement…</p>}
            {runs.data?.length === 0 && <p className="text-xs text-slate-600">Jamais lancée.</p>}
            <ul className="max-h-40 space-y-0.5 overflow-y-auto" aria-label="Exécutions">
              {(runs.data ?? []).map((r) => (
                <li key={r.id}>
                  <button
                    type="button"
                    onClick={() => onOpenRun(searchId, r.id)}
                    aria-current={r.id === runId ? "true" : undefined}
                    className={`w-full rounded px-2 py-1 text-left text-xs hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-400 ${
                      r.id === runId ? "bg-slate-100 font-semibold" : ""
                    }`}
                  >
                    {dateTime(r.started_at)} — {RUN_STATUS_LABEL[r.status] ?? r.status}
                    {r.counts?.sites_kept != null && ` — ${num(r.counts.sites_kept)} site${r.counts.sites_kept > 1 ? "s" : ""}`}
                  </button>
                </li>
              ))}
            </ul>
          </div>
        )}
      </div>
    </details>
  );
}
