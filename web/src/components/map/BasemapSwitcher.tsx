// "Fond de carte": Plan / Photo / Aucun (the server's basemaps), under the layer switcher; a
// discreet French notice when none is configured or its tiles fail (the data layers still work).
import type { Basemap } from "../../api/selection";

export default function BasemapSwitcher({
  basemaps,
  value,
  onChange,
  failed,
  unavailable,
}: {
  basemaps: Basemap[];
  value: string | null;
  onChange: (key: string | null) => void;
  /** The shown basemap's tiles fail to load. */
  failed: boolean;
  /** The list could not be read. */
  unavailable?: boolean;
}) {
  const options: { key: string | null; label: string }[] = [
    ...basemaps.map((b) => ({ key: b.key, label: b.label })),
    { key: null, label: "Aucun" },
  ];
  return (
    <fieldset className="w-60 rounded-lg bg-white/95 p-3 text-xs shadow-lg" data-testid="basemap-switcher">
      <legend className="sr-only">Fond de carte</legend>
      <p aria-hidden className="mb-1.5 font-semibold text-slate-800">
        Fond de carte
      </p>
      {basemaps.length === 0 ? (
        <p className="text-slate-600" role="status">
          {unavailable ? "Fonds de carte indisponibles" : "Aucun fond de carte configuré"} : les couches de données
          restent affichées.
        </p>
      ) : (
        <div className="flex flex-wrap gap-1" role="radiogroup" aria-label="Fond de carte">
          {options.map((o) => {
            const on = o.key === value;
            return (
              <button
                key={o.key ?? "none"}
                type="button"
                role="radio"
                aria-checked={on}
                onClick={() => onChange(o.key)}
                className={`rounded-md border px-2 py-1 font-medium focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-400 ${
                  on ? "border-sky-700 bg-sky-700 text-white" : "border-slate-300 bg-white text-slate-700 hover:bg-slate-50"
                }`}
              >
                {o.label}
              </button>
            );
          })}
        </div>
      )}
      {failed && value !== null && (
        <p className="mt-1.5 text-amber-800" role="status" data-testid="basemap-failed">
          Fond de carte indisponible (les tuiles ne répondent pas) : les couches de données restent affichées.
        </p>
      )}
    </fieldset>
  );
}
