// What a selection touches before it is a lead (POST /api/parcels/constraints): protected zones
// and PLU zones (French labels, share of the selection), the nearest poste source with its
// distance and capacity, the leads already holding its parcels, and "données absentes" where a
// layer has no data there — and the selection's export (GeoJSON / KML).
import { useState } from "react";
import toast from "react-hot-toast";
import { Download } from "lucide-react";
import { downloadSelection, useConstraints } from "../../api/selection";
import type { SelectionConstraints as Constraints } from "../../api/selection";
import { errorMessage } from "../../components/ui";
import { distance, num, percent } from "../../lib/format";
import { pluLabel } from "../../lib/labels";
import { STATUS_LABEL } from "../../lib/status";
import type { LeadStatus } from "../../api/types";

function Absent({ message }: { message?: string | null }) {
  return message ? <p className="text-amber-800">{message}</p> : null;
}

/** The constraints as French lines (also used by the tests). */
export function ConstraintsView({ c }: { c: Constraints }) {
  const env = c.env_zones;
  const plu = c.urban_zones;
  const grid = c.substations;
  return (
    <dl className="space-y-2 text-xs" data-testid="constraints">
      <div>
        <dt className="font-semibold text-slate-800">Zones protégées</dt>
        <dd>
          {env.items.length > 0 ? (
            <ul className="list-disc pl-4">
              {env.items.map((z) => (
                <li key={`${z.zone_type}-${z.code}`}>
                  {z.label}
                  {z.name ? ` — ${z.name}` : ""} ({percent(z.share)} de la sélection)
                </li>
              ))}
            </ul>
          ) : env.status === "absent" ? null : (
            <p>Aucune zone protégée touchée</p>
          )}
          <Absent message={env.message} />
        </dd>
      </div>
      <div>
        <dt className="font-semibold text-slate-800">Zonage PLU</dt>
        <dd>
          {plu.items.length > 0 ? (
            <ul className="list-disc pl-4">
              {plu.items.map((z) => (
                <li key={`${z.zone_type}-${z.label}-${z.commune_insee}`}>
                  {z.label === z.zone_type ? pluLabel(z.zone_type) : `${z.label} (${pluLabel(z.zone_type)})`} —{" "}
                  {percent(z.share)}
                </li>
              ))}
            </ul>
          ) : plu.status === "absent" ? null : (
            <p>Aucune zone PLU sous la sélection</p>
          )}
          <Absent message={plu.message} />
        </dd>
      </div>
      <div>
        <dt className="font-semibold text-slate-800">Poste source le plus proche</dt>
        <dd>
          {grid.nearest ? (
            <p>
              {grid.nearest.name ?? grid.nearest.code} à {distance(grid.nearest.distance_m)} · capacité disponible{" "}
              {grid.nearest.capacity_available_mw === null || grid.nearest.capacity_available_mw === undefined
                ? "inconnue"
                : `${num(grid.nearest.capacity_available_mw, 1)} MW`}
            </p>
          ) : grid.status === "absent" ? null : (
            <p>Aucun poste dans un rayon de {num(grid.radius_m / 1000, 0)} km dans les données chargées</p>
          )}
          <Absent message={grid.message} />
        </dd>
      </div>
      <div>
        <dt className="font-semibold text-slate-800">Leads existants</dt>
        <dd>
          {c.leads.length === 0 && c.hidden_leads === 0 && <p>Aucune parcelle déjà dans un lead actif</p>}
          {c.leads.length > 0 && (
            <ul className="list-disc pl-4" data-testid="constraints-leads">
              {c.leads.map((l) => (
                <li key={l.id}>
                  <a href={`/leads/${l.id}`} className="text-sky-800 underline">
                    {l.name || l.internal_name}
                  </a>{" "}
                  ({STATUS_LABEL[l.status as LeadStatus] ?? l.status}) : {l.parcel_ids.join(", ")}
                </li>
              ))}
            </ul>
          )}
          {c.hidden_leads > 0 && (
            <p>
              {c.hidden_leads} autre{c.hidden_leads > 1 ? "s" : ""} lead{c.hidden_leads > 1 ? "s" : ""} actif
              {c.hidden_leads > 1 ? "s" : ""} (non visible{c.hidden_leads > 1 ? "s" : ""} pour vous)
            </p>
          )}
        </dd>
      </div>
    </dl>
  );
}

/** The constraints of the current selection, asked again when it changes, and its export. */
export default function SelectionConstraints({ ids }: { ids: string[] }) {
  const q = useConstraints(ids);
  const [open, setOpen] = useState(true);
  return (
    <section className="mt-3 border-t pt-2" aria-label="Contraintes de la sélection">
      <div className="flex items-center justify-between">
        <button
          type="button"
          aria-expanded={open}
          onClick={() => setOpen((o) => !o)}
          className="text-left text-sm font-semibold text-slate-800 hover:underline"
        >
          Contraintes de la sélection
        </button>
        <ExportSelection ids={ids} />
      </div>
      {open && (
        <div className="mt-1.5">
          {q.isLoading && <p className="text-xs text-slate-600">Analyse de la sélection…</p>}
          {q.error && <p className="text-xs text-red-700">{errorMessage(q.error)}</p>}
          {q.data && <ConstraintsView c={q.data} />}
        </div>
      )}
    </section>
  );
}

function ExportSelection({ ids }: { ids: string[] }) {
  const [open, setOpen] = useState(false);
  return (
    <div className="relative">
      <button
        type="button"
        aria-haspopup="menu"
        aria-expanded={open}
        onClick={() => setOpen((o) => !o)}
        onKeyDown={(e) => e.key === "Escape" && setOpen(false)}
        className="inline-flex items-center gap-1 rounded border border-slate-300 px-2 py-0.5 text-xs text-slate-700 hover:bg-slate-50"
      >
        <Download className="h-3.5 w-3.5" aria-hidden /> Exporter
      </button>
      {open && (
        <ul role="menu" className="absolute right-0 z-20 mt-1 w-44 rounded-md border border-slate-200 bg-white py-1 text-xs shadow-lg">
          {(
            [
              ["geojson", "GeoJSON (QGIS)"],
              ["kml", "KML (Google Earth)"],
            ] as const
          ).map(([format, label]) => (
            <li key={format} role="none">
              <button
                type="button"
                role="menuitem"
                className="w-full px-3 py-1.5 text-left hover:bg-slate-50 focus:bg-slate-50 focus:outline-none"
                onClick={() => {
                  setOpen(false);
                  downloadSelection(ids, format).catch((err) => toast.error(`Export impossible : ${errorMessage(err)}`));
                }}
              >
                {label}
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
