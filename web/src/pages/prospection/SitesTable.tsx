// The run's sites as a sortable table: a checkbox per site for "Créer les leads", a row button
// opening its card. Sorting is on the loaded sites (a run keeps a few hundred at most).
import { Link } from "react-router-dom";
import { ArrowDown, ArrowUp } from "lucide-react";
import type { Site } from "../../api/siteSearches";
import { ScoreBadge } from "../../components/ui";
import { distance, num, surface } from "../../lib/format";
import { posteOf } from "./logic";
import type { SortDir, SortKey } from "./logic";

const COLUMNS: { key: SortKey; label: string; className?: string }[] = [
  { key: "rank", label: "Rang" },
  { key: "score", label: "Score" },
  { key: "buildable_m2", label: "Constructible" },
  { key: "area_m2", label: "Surface", className: "hidden 2xl:table-cell" },
  { key: "parcels", label: "Parcelles", className: "hidden 2xl:table-cell" },
  { key: "poste_distance", label: "Poste source" },
  { key: "completeness", label: "Fiabilité", className: "hidden 2xl:table-cell" },
];

export default function SitesTable({
  sites,
  sort,
  onSort,
  selected,
  onToggle,
  onToggleAll,
  focused,
  onFocus,
}: {
  sites: Site[];
  sort: { key: SortKey; dir: SortDir };
  onSort: (key: SortKey) => void;
  selected: Set<number>;
  onToggle: (rank: number) => void;
  onToggleAll: (on: boolean) => void;
  focused: number | null;
  onFocus: (rank: number) => void;
}) {
  const selectable = sites.filter((s) => s.lead_id == null);
  const allOn = selectable.length > 0 && selectable.every((s) => selected.has(s.rank));
  return (
    <div className="overflow-x-auto">
      <table className="w-full text-sm" aria-label="Sites candidats">
        <thead className="sticky top-0 bg-slate-50 text-left text-xs text-slate-600">
          <tr>
            <th scope="col" className="px-1.5 py-1.5">
              <input
                type="checkbox"
                aria-label="Sélectionner tous les sites"
                checked={allOn}
                disabled={selectable.length === 0}
                onChange={(e) => onToggleAll(e.target.checked)}
                className="h-4 w-4 accent-slate-900"
              />
            </th>
            {COLUMNS.map((c) => {
              const active = sort.key === c.key;
              return (
                <th
                  key={c.key}
                  scope="col"
                  aria-sort={active ? (sort.dir === "asc" ? "ascending" : "descending") : "none"}
                  className={`px-1.5 py-1.5 font-medium ${c.className ?? ""}`}
                >
                  <button
                    type="button"
                    onClick={() => onSort(c.key)}
                    className="inline-flex items-center gap-0.5 rounded hover:text-slate-900 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-400"
                  >
                    {c.label}
                    {active &&
                      (sort.dir === "asc" ? (
                        <ArrowUp className="h-3 w-3" aria-hidden />
                      ) : (
                        <ArrowDown className="h-3 w-3" aria-hidden />
                      ))}
                  </button>
                </th>
              );
            })}
            <th scope="col" className="px-1.5 py-1.5 font-medium">
              Lead
            </th>
          </tr>
        </thead>
        <tbody>
          {sites.map((s) => {
            const { poste, note } = posteOf(s);
            return (
              <tr
                key={s.rank}
                data-rank={s.rank}
                className={`border-t border-slate-100 ${focused === s.rank ? "bg-sky-50" : selected.has(s.rank) ? "bg-blue-50/50" : ""}`}
              >
                <td className="px-1.5 py-1">
                  <input
                    type="checkbox"
                    aria-label={`Sélectionner le site n° ${s.rank}`}
                    checked={selected.has(s.rank)}
                    disabled={s.lead_id != null}
                    onChange={() => onToggle(s.rank)}
                    className="h-4 w-4 accent-slate-900"
                  />
                </td>
                <td className="px-1.5 py-1">
                  <button
                    type="button"
                    onClick={() => onFocus(s.rank)}
                    aria-label={`Voir le site n° ${s.rank}`}
                    aria-pressed={focused === s.rank}
                    className="rounded px-1 font-semibold tabular-nums text-sky-800 underline-offset-2 hover:underline focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-400"
                  >
                    n° {s.rank}
                  </button>
                </td>
                <td className="whitespace-nowrap px-1.5 py-1">
                  <ScoreBadge score={s.score} />
                  {s.completeness < 1 && (
                    // Where the reliability column is hidden: a site partly on missing data says so.
                    <span className="ml-1 text-[11px] text-amber-800 2xl:hidden" title="Fiabilité des données">
                      fiab. {num(s.completeness * 100)} %
                    </span>
                  )}
                </td>
                <td className="whitespace-nowrap px-1.5 py-1 tabular-nums">{surface(s.buildable_m2)}</td>
                <td className="hidden whitespace-nowrap px-1.5 py-1 tabular-nums 2xl:table-cell">{surface(s.area_m2)}</td>
                <td className="hidden px-1.5 py-1 tabular-nums 2xl:table-cell">{num(s.facts.parcel_count ?? s.parcel_ids.length)}</td>
                <td className="whitespace-nowrap px-1.5 py-1">
                  {poste ? (
                    <span className="flex items-baseline gap-1">
                      <span className="inline-block max-w-[7rem] truncate align-bottom" title={poste.name ?? poste.code ?? ""}>
                        {poste.name ?? poste.code}
                      </span>
                      <span className="text-slate-600">{distance(poste.distance_m)}</span>
                      {note && <span className="sr-only">({note})</span>}
                      {note && <span aria-hidden title={note} className="text-slate-600">*</span>}
                    </span>
                  ) : (
                    <span className="text-slate-600">{note}</span>
                  )}
                </td>
                <td className="hidden px-1.5 py-1 tabular-nums 2xl:table-cell">{num(s.completeness * 100)} %</td>
                <td className="px-1.5 py-1">
                  {s.lead_id != null ? (
                    <Link to={`/leads/${s.lead_id}`} aria-label={`Lead du site n° ${s.rank}`} className="text-sky-700 underline">
                      lead
                    </Link>
                  ) : (
                    <span className="text-slate-600">—</span>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
