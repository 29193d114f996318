// A candidate site: surfaces, poste, each criterion's verdict with its reason (the terrain's:
// slope and north-facing share), the score's breakdown — its labels and order are the server's
// criteria registry's (GET /api/reference/criteria), as on a lead's ScoreCard.
import { Link } from "react-router-dom";
import { X } from "lucide-react";
import { useCriteria } from "../../api/reference";
import type { CriterionInfo } from "../../api/reference";
import type { Site } from "../../api/siteSearches";
import { Card, Facts } from "../../components/ui";
import { distance, num, surface } from "../../lib/format";
import { orderedCriteria } from "../lead/ScoreCard";
import { VERDICT_CRITERION, VERDICT_LABEL, posteOf, terrainText } from "./logic";
import type { Terrain } from "./logic";

const VERDICT_STYLE: Record<string, string> = {
  pass: "bg-green-100 text-green-800",
  absent: "bg-amber-100 text-amber-800",
  off: "bg-slate-100 text-slate-600",
};

const DATA_LABEL: Record<string, string> = { estimated: "estimé", missing: "données absentes" };

export default function SiteCard({
  site,
  onClose,
  scoreCriteria,
}: {
  site: Site;
  onClose: () => void;
  /** The site's score criteria (GET …/defaults: the registry's and the site-only terrain). */
  scoreCriteria?: CriterionInfo[];
}) {
  const f = site.facts;
  const { poste, note } = posteOf(site);
  const verdicts = Object.entries(f.verdicts ?? {});
  const registry = useCriteria();
  const breakdown = orderedCriteria(f.breakdown ?? {}, scoreCriteria ?? registry.data?.items);
  return (
    <Card
      title={`Site n° ${site.rank} — score ${num(site.score, 1)}/100`}
      actions={
        <button
          type="button"
          onClick={onClose}
          aria-label="Fermer la fiche du site"
          className="rounded p-1 text-slate-500 hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-400"
        >
          <X className="h-4 w-4" aria-hidden />
        </button>
      }
    >
      <div data-testid="site-card" className="space-y-3">
        <Facts
          rows={[
            ["Surface constructible", surface(site.buildable_m2)],
            ["Surface des parcelles", surface(site.area_m2)],
            ["Parcelles", num(f.parcel_count ?? site.parcel_ids.length)],
            ["Puissance estimée", f.estimated_mwc != null ? `${num(f.estimated_mwc, 1)} MWc` : "données absentes"],
            [
              "Poste source",
              poste
                ? `${poste.name ?? poste.code} à ${distance(poste.distance_m)}${
                    poste.capacity_available_mw != null ? `, ${num(poste.capacity_available_mw, 1)} MW disponibles` : ""
                  }${note ? ` — ${note}` : ""}`
                : (note ?? "données absentes"),
            ],
            // Runs from before the terrain criteria have no `terrain` fact at all: no row.
            ...("terrain" in f ? [["Terrain", terrainText(f.terrain as Terrain | null)] as [string, string]] : []),
            ["Fiabilité des données", `${num(site.completeness * 100)} %`],
          ]}
        />
        {f.over_cap && (
          <p className="rounded bg-amber-50 p-2 text-xs text-amber-800">
            Site découpé d'un ensemble plus grand : il dépasse légèrement le plafond d'un site.
          </p>
        )}
        <section aria-label="Critères">
          <h3 className="mb-1 text-xs font-semibold uppercase tracking-wide text-slate-500">Critères</h3>
          <ul className="space-y-1 text-sm">
            {verdicts.map(([key, v]) => (
              <li key={key} className="flex flex-wrap items-baseline gap-x-2">
                <span className="font-medium">{VERDICT_CRITERION[key] ?? key}</span>
                <span className={`rounded px-1.5 text-[11px] ${VERDICT_STYLE[v.verdict] ?? "bg-slate-100"}`}>
                  {VERDICT_LABEL[v.verdict] ?? v.verdict}
                </span>
                {v.reason && <span className="text-xs text-slate-600">{v.reason}</span>}
              </li>
            ))}
          </ul>
        </section>
        {(f.excluded_zones?.length ?? 0) > 0 && (
          <section aria-label="Zones retirées">
            <h3 className="mb-1 text-xs font-semibold uppercase tracking-wide text-slate-500">Zones retirées</h3>
            <ul className="list-inside list-disc text-xs text-slate-700">
              {f.excluded_zones!.map((z, i) => (
                <li key={i}>
                  {z.name ?? z.type}
                  {z.buffer_m != null && ` (tampon ${num(z.buffer_m)} m)`}
                </li>
              ))}
            </ul>
          </section>
        )}
        <section aria-label="Détail du score">
          <h3 className="mb-1 text-xs font-semibold uppercase tracking-wide text-slate-500">Détail du score</h3>
          {breakdown.length === 0 ? (
            <p className="text-xs text-slate-500">Pas de détail pour ce site.</p>
          ) : (
            <table className="w-full text-sm">
              <thead>
                <tr className="text-left text-xs text-slate-500">
                  <th scope="col" className="font-normal">
                    Critère
                  </th>
                  <th scope="col" className="font-normal">
                    Poids
                  </th>
                  <th scope="col" className="font-normal">
                    Points
                  </th>
                </tr>
              </thead>
              <tbody>
                {breakdown.map(([key, label, c]) => (
                  <tr key={key} className="border-t border-slate-100 align-top">
                    <td className="py-1 pr-2">
                      <p className="font-medium">{label}</p>
                      <p className="text-xs text-slate-500">
                        {c.reason}
                        {c.data && c.data !== "real" && (
                          <span className="ml-1 rounded bg-amber-100 px-1 text-amber-800">{DATA_LABEL[c.data] ?? c.data}</span>
                        )}
                      </p>
                    </td>
                    <td className="py-1 tabular-nums">{num(c.weight)}</td>
                    <td className="py-1 tabular-nums">{num(c.points, 1)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
        <details className="text-xs text-slate-600">
          <summary className="cursor-pointer">Parcelles ({num(site.parcel_ids.length)})</summary>
          <p className="mt-1 break-all font-mono">{site.parcel_ids.join(", ")}</p>
        </details>
        {site.lead_id != null && (
          <p className="text-sm">
            Déjà un lead :{" "}
            <Link to={`/leads/${site.lead_id}`} className="text-sky-700 underline">
              ouvrir le lead
            </Link>
          </p>
        )}
      </div>
    </Card>
  );
}
