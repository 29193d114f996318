// The enrichment results by section: sun, environment, grid, urbanism, land, economics.
import { lazy, Suspense } from "react";
import type { ReactNode } from "react";
import { Banknote, Landmark, Leaf, PlugZap, Sun, Building2 } from "lucide-react";
import { Card, Facts, Loading } from "../../components/ui";
import { distance, euros, num, surface } from "../../lib/format";
import { pluLabel, zoneLabel } from "../../lib/labels";

const MonthlyChart = lazy(() => import("./MonthlyChart"));

type Rec = Record<string, unknown>;
const asList = (v: unknown): Rec[] => (Array.isArray(v) ? (v as Rec[]) : []);
const n = (v: unknown) => (typeof v === "number" ? v : v === null || v === undefined ? null : Number(v));

function Missing({ children = "Pas encore enrichi." }: { children?: ReactNode }) {
  return <p className="text-sm text-slate-500">{children}</p>;
}

const VERDICT: Record<string, [string, string]> = {
  ok: ["Compatible", "bg-emerald-100 text-emerald-800"],
  penalty: ["Pénalité", "bg-amber-100 text-amber-800"],
  exclusion: ["Exclusion", "bg-red-100 text-red-800"],
};

/** Sun: yield, irradiation, production and the monthly chart. */
export function SunSection({ technical }: { technical?: Rec | null }) {
  const t = technical ?? {};
  const estimate = t.source === "estimate";
  return (
    <Card title="Ensoleillement et production" icon={<Sun className="h-4 w-4 text-amber-500" />}
      actions={t.source ? <span className={`rounded px-1.5 py-0.5 text-xs ${estimate ? "bg-amber-100 text-amber-800" : "bg-sky-100 text-sky-800"}`}>{estimate ? "Estimation hors ligne" : "PVGIS"}</span> : null}>
      {!technical ? <Missing /> : (
        <div className="grid gap-4 lg:grid-cols-2">
          <Facts rows={[
            ["Surface mesurée", surface(n(t.surface_m2))],
            ["Surface utile", surface(n(t.usable_surface_m2))],
            ["Irradiation", t.irradiation_kwh_m2 != null ? `${num(t.irradiation_kwh_m2)} kWh/m²/an` : "—"],
            ["Productible", t.specific_yield_kwh_kwc != null ? `${num(t.specific_yield_kwh_kwc)} kWh/kWc/an` : "—"],
            ["Puissance installable", t.installable_mwc != null ? `${num(t.installable_mwc, 2)} MWc` : "—"],
            ["Production annuelle", t.annual_production_mwh != null ? `${num(t.annual_production_mwh)} MWh` : "—"],
            ["Inclinaison optimale", t.optimal_tilt_deg != null ? `${num(t.optimal_tilt_deg)}°` : "—"],
            ["Base de rayonnement", String(t.radiation_database ?? "—")],
          ]} />
          <div className="h-48" data-testid="monthly-chart">
            {asList(t.monthly).length > 0 ? (
              <Suspense fallback={<Loading label="" />}>
                <MonthlyChart rows={asList(t.monthly)} />
              </Suspense>
            ) : (
              <Missing>Pas de détail mensuel{estimate ? " (estimation)" : ""}.</Missing>
            )}
          </div>
        </div>
      )}
    </Card>
  );
}

/** Environment: protected zones touched and nearby, verdict. */
export function EnvironmentSection({ regulatory }: { regulatory?: Rec | null }) {
  const r = regulatory ?? {};
  const zones = asList(r.zones);
  const nearby = asList(r.nearby_zones);
  const verdict = VERDICT[String(r.verdict)] ;
  return (
    <Card title="Environnement" icon={<Leaf className="h-4 w-4 text-green-600" />}
      actions={verdict ? <span className={`rounded px-1.5 py-0.5 text-xs font-medium ${verdict[1]}`}>{verdict[0]}</span> : null}>
      {!regulatory ? <Missing /> : (
        <div className="space-y-2 text-sm">
          {zones.length === 0 ? <p className="text-emerald-700">Aucune zone protégée touchée.</p> : (
            <ul className="space-y-1">
              {zones.map((z, i) => (
                <li key={i} className="rounded bg-red-50 px-2 py-1">
                  <span className="font-medium">{String(z.name ?? z.code)}</span>{" "}
                  <span className="text-xs text-slate-500">{zoneLabel(z.type ?? z.zone_type)}{z.code ? ` · ${String(z.code)}` : ""}</span>
                  {z.overlap_pct != null && <span className="ml-1 text-xs">— {num(z.overlap_pct, 1)} % du site</span>}
                </li>
              ))}
            </ul>
          )}
          {nearby.length > 0 && (
            <div>
              <p className="text-xs font-medium text-slate-500">À moins de 5 km</p>
              <ul className="text-xs text-slate-600">
                {nearby.slice(0, 6).map((z, i) => (
                  <li key={i}>{String(z.name ?? z.code)} ({zoneLabel(z.type ?? z.zone_type)}) — {distance(n(z.distance_m))}</li>
                ))}
              </ul>
            </div>
          )}
          {asList(r.reasons).length > 0 || Array.isArray(r.reasons) ? (
            <ul className="list-inside list-disc text-xs text-slate-600">
              {(r.reasons as string[]).map((reason, i) => <li key={i}>{reason}</li>)}
            </ul>
          ) : null}
        </div>
      )}
    </Card>
  );
}

/** A figure that depends on data the site lacks (no poste in range, no data): never a number. */
const NOT_COMPUTABLE = "non calculable";

/** Grid: nearest postes sources, chosen one, capacity and connection cost. */
export function GridSection({ network }: { network?: Rec | null }) {
  const g = network ?? {};
  const nearest = asList(g.nearest);
  return (
    <Card title="Réseau électrique" icon={<PlugZap className="h-4 w-4 text-sky-600" />}>
      {!network ? <Missing /> : (
        <div className="space-y-3">
          <Facts rows={[
            ["Distance au poste", distance(n(g.distance_m))],
            ["Capacité disponible", g.capacity_available_mw != null ? `${num(g.capacity_available_mw, 1)} MW` : "—"],
            ["Capacité suffisante", g.capacity_ok == null ? "—" : g.capacity_ok ? "Oui" : "Non"],
            ["Raccordement", String(g.connection_voltage ?? "—")],
            ["Quote-part S3REnR", g.quote_part_eur_kw != null ? `${num(g.quote_part_eur_kw, 2)} €/kW` : "—"],
            // No poste in the data around the site: the cost is not computable, not zero.
            ["Coût de raccordement", g.connection_cost_eur != null ? euros(n(g.connection_cost_eur)) : NOT_COMPUTABLE],
          ]} />
          {nearest.length === 0 && (
            <p className="text-xs text-amber-700">
              Aucun poste source dans les données chargées autour du site (données absentes pour cette zone,
              ou aucun poste dans le rayon de recherche) : coût de raccordement, LCOE et temps de retour non calculables.
            </p>
          )}
          {nearest.length > 0 && (
            <table className="w-full text-xs">
              <thead className="text-left text-slate-500"><tr><th>Poste</th><th>Tension</th><th>Distance</th><th>Dispo.</th></tr></thead>
              <tbody>
                {nearest.slice(0, 5).map((s, i) => (
                  <tr key={i} className="border-t border-slate-100">
                    <td className="py-0.5 font-medium">{String(s.name ?? s.code)}</td>
                    <td>{String(s.voltage_kv ?? "—")}</td>
                    <td>{distance(n(s.distance_m))}</td>
                    <td>{s.capacity_available_mw != null ? `${num(s.capacity_available_mw, 1)} MW` : "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      )}
    </Card>
  );
}

/** Urbanism: PLU zone(s). */
export function UrbanismSection({ regulatory }: { regulatory?: Rec | null }) {
  const r = regulatory ?? {};
  const plu = asList(r.plu_zones);
  return (
    <Card title="Urbanisme" icon={<Building2 className="h-4 w-4 text-orange-600" />}>
      {!regulatory ? <Missing /> : plu.length === 0 ? (
        <p className="text-sm text-slate-500">Pas de zone PLU connue (carte communale ou RNU).</p>
      ) : (
        <ul className="space-y-1 text-sm">
          {plu.map((z, i) => (
            <li key={i}>
              <span className="font-medium">{String(z.label ?? z.type)}</span>{" "}
              <span className="text-xs text-slate-600">{pluLabel(z.type)}{z.share_pct != null ? ` · ${num(z.share_pct, 1)} % du site` : ""}</span>
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}

/** Land: parcels, owners (when the role may see them), agreement. */
export function LandSection({ foncier }: { foncier?: Rec | null }) {
  const f = foncier ?? {};
  const parcels = asList(f.parcels);
  const owners = Array.isArray(f.owners) ? asList(f.owners) : null;
  const AGREEMENT: Record<string, string> = {
    none: "Aucun contact", contacted: "Contacté", promise_signed: "Promesse signée", lease_signed: "Bail signé",
  };
  return (
    <Card title="Foncier" icon={<Landmark className="h-4 w-4 text-stone-600" />}>
      {!foncier ? <Missing /> : (
        <div className="space-y-2 text-sm">
          <Facts rows={[
            ["Parcelles", String(parcels.length)],
            ["Propriétaires", String(f.owner_count ?? 0)],
            ["Accord foncier", AGREEMENT[String(f.agreement_status)] ?? String(f.agreement_status ?? "—")],
          ]} />
          {parcels.length > 0 && (
            <p className="text-xs text-slate-600">{parcels.map((p) => String(p.id)).slice(0, 12).join(", ")}{parcels.length > 12 ? "…" : ""}</p>
          )}
          {owners && owners.length > 0 && (
            <ul className="text-xs">
              {owners.map((o, i) => <li key={i}>{String(o.name)} ({String(o.type)})</li>)}
            </ul>
          )}
        </div>
      )}
    </Card>
  );
}

/** Economics: CAPEX, revenue, payback, LCOE with the tariff used. */
export function EconomicsSection({ economic }: { economic?: Rec | null }) {
  const e = economic ?? {};
  return (
    <Card title="Économie du projet" icon={<Banknote className="h-4 w-4 text-emerald-700" />}>
      {!economic ? <Missing /> : (
        <Facts rows={[
          ["CAPEX", euros(n(e.capex_eur))],
          ["OPEX annuel", euros(n(e.opex_eur_yr))],
          ["Raccordement", e.connection_cost_eur != null ? euros(n(e.connection_cost_eur)) : NOT_COMPUTABLE],
          ["Revenu annuel", euros(n(e.annual_revenue_eur))],
          ["Loyer foncier annuel", euros(n(e.land_rent_eur_yr))],
          ["Temps de retour", e.simple_payback_years != null ? `${num(e.simple_payback_years, 1)} ans` : NOT_COMPUTABLE],
          ["LCOE", e.lcoe_eur_mwh != null ? `${num(e.lcoe_eur_mwh, 1)} €/MWh` : NOT_COMPUTABLE],
          ["Tarif retenu", e.tariff_eur_mwh != null ? `${num(e.tariff_eur_mwh)} €/MWh` : "—"],
        ]} />
      )}
    </Card>
  );
}
