// The quality score with its breakdown per criterion and the completeness figure.
// Labels and order come from the server's criteria registry (GET /api/reference/criteria).
import { Gauge } from "lucide-react";
import { useCriteria } from "../../api/reference";
import type { CriterionInfo } from "../../api/reference";
import { Card, ScoreBadge } from "../../components/ui";
import { num, score as formatScore } from "../../lib/format";

type Criterion = { value?: number; weight?: number; points?: number; reason?: string; data?: string };

/** The breakdown's rows in the registry's order, each with its label; keys the registry no longer
 * has (an old breakdown) follow under their key. */
export function orderedCriteria(
  criteria: Record<string, Criterion>,
  registry: CriterionInfo[] | undefined,
): [string, string, Criterion][] {
  const known = (registry ?? []).filter((c) => c.key in criteria).map((c): [string, string, Criterion] => [c.key, c.label, criteria[c.key]]);
  const seen = new Set(known.map(([k]) => k));
  const rest = Object.entries(criteria)
    .filter(([k]) => !seen.has(k))
    .map(([k, c]): [string, string, Criterion] => [k, k, c]);
  return [...known, ...rest];
}

/** Score, completeness and the criteria table. */
export default function ScoreCard({
  score,
  completeness,
  breakdown,
}: {
  score: number | null | undefined;
  completeness: number | null | undefined;
  breakdown: Record<string, unknown> | null | undefined;
}) {
  const registry = useCriteria();
  const criteria = (breakdown?.criteria ?? {}) as Record<string, Criterion>;
  const exclusions = (breakdown?.exclusion_reasons ?? []) as string[];
  return (
    <Card title="Score de qualité" icon={<Gauge className="h-4 w-4 text-slate-600" />}>
      <div className="flex items-center gap-4">
        <div className="text-4xl font-bold tabular-nums" data-testid="score">
          {score == null ? "–" : formatScore(score)}
          <span className="text-base font-normal text-slate-500">/100</span>
        </div>
        <div className="text-sm text-slate-600">
          <p>
            Fiabilité des données : <strong>{completeness == null ? "–" : `${num(completeness * 100)} %`}</strong>
          </p>
          <p className="text-xs text-slate-500">part du poids appuyée sur des données réelles</p>
        </div>
      </div>
      {exclusions.length > 0 && (
        <div role="alert" className="mt-3 rounded bg-red-50 p-2 text-sm text-red-800">
          <p className="font-medium">Exclusion : score ramené à 0</p>
          <ul className="list-inside list-disc text-xs">
            {exclusions.map((r) => (
              <li key={r}>{r}</li>
            ))}
          </ul>
        </div>
      )}
      {Object.keys(criteria).length > 0 ? (
        <table className="mt-3 w-full text-sm">
          <thead>
            <tr className="text-left text-xs text-slate-500">
              <th className="font-normal">Critère</th>
              <th className="font-normal">Note</th>
              <th className="font-normal">Poids</th>
              <th className="font-normal">Points</th>
            </tr>
          </thead>
          <tbody>
            {orderedCriteria(criteria, registry.data?.items).map(([key, label, c]) => (
              <tr key={key} className="border-t border-slate-100 align-top">
                <td className="py-1">
                  <p className="font-medium">{label}</p>
                  <p className="text-xs text-slate-500">
                    {c.reason}
                    {c.data && c.data !== "real" && <span className="ml-1 rounded bg-amber-100 px-1 text-amber-800">{c.data === "estimated" ? "estimé" : c.data === "missing" ? "manquant" : c.data}</span>}
                  </p>
                </td>
                <td className="py-1">
                  <div className="h-1.5 w-16 rounded bg-slate-100">
                    <div className="h-1.5 rounded bg-brand-400" style={{ width: `${Math.round((c.value ?? 0) * 100)}%` }} />
                  </div>
                </td>
                <td className="py-1 tabular-nums">{num(c.weight)}</td>
                <td className="py-1 tabular-nums">{num(c.points, 1)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p className="mt-3 text-sm text-slate-500">
          <ScoreBadge score={null} /> Le détail apparaîtra après l'enrichissement.
        </p>
      )}
    </Card>
  );
}
