// The layer switcher and legend of the explorer.
import { Layers } from "lucide-react";
import { STATUSES, STATUS_COLOR, STATUS_LABEL } from "../../lib/status";
import { PLU_COLORS, ZONE_COLORS } from "./style";
import type { LayerKey, MapLayerDef } from "./style";

function Swatch({ color, round = false }: { color: string; round?: boolean }) {
  return (
    <span
      className={`inline-block h-3 w-3 shrink-0 border border-black/10 ${round ? "rounded-full" : "rounded-sm"}`}
      style={{ backgroundColor: color }}
    />
  );
}

/** Checkboxes per layer (the server's registry: labels, zoom ranges) with the legend of the visible ones. */
export default function Legend({
  layers,
  visible,
  onToggle,
  zoom,
}: {
  layers: MapLayerDef[];
  visible: LayerKey[];
  onToggle: (key: LayerKey) => void;
  zoom: number;
}) {
  const label = (key: string) => layers.find((d) => d.name === key)?.label ?? key;
  return (
    <div className="max-h-[calc(100vh-12rem)] w-60 overflow-y-auto rounded-lg bg-white/95 p-3 text-xs shadow-lg">
      <h2 className="mb-2 flex items-center gap-1.5 text-sm font-semibold">
        <Layers className="h-4 w-4" aria-hidden /> Couches
      </h2>
      <ul className="space-y-1">
        {layers.map((def) => {
          const key = def.name;
          const hidden = zoom < def.minzoom;
          return (
            <li key={key}>
              <label className="flex items-center gap-2">
                <input
                  type="checkbox"
                  checked={visible.includes(key)}
                  onChange={() => onToggle(key)}
                  data-layer={key}
                />
                <span className={hidden ? "text-slate-400" : ""}>{def.label}</span>
                {hidden && <span className="text-[10px] text-slate-400">(zoom ≥ {def.minzoom})</span>}
              </label>
            </li>
          );
        })}
      </ul>
      {visible.includes("leads") && (
        <details className="mt-3" open>
          <summary className="mb-1 cursor-pointer font-semibold text-slate-600">Leads par statut</summary>
          <ul className="grid grid-cols-2 gap-1">
            {STATUSES.map((s) => (
              <li key={s} className="flex items-center gap-1.5">
                <Swatch color={STATUS_COLOR[s]} /> {STATUS_LABEL[s]}
              </li>
            ))}
          </ul>
        </details>
      )}
      {visible.includes("env_zones") && (
        <details className="mt-2">
          <summary className="mb-1 cursor-pointer font-semibold text-slate-600">{label("env_zones")}</summary>
          <ul className="space-y-0.5">
            {ZONE_COLORS.map(([k, label, c]) => (
              <li key={k} className="flex items-center gap-1.5">
                <Swatch color={c} /> {label}
              </li>
            ))}
          </ul>
        </details>
      )}
      {visible.includes("urban_zones") && (
        <details className="mt-2">
          <summary className="mb-1 cursor-pointer font-semibold text-slate-600">{label("urban_zones")}</summary>
          <ul className="space-y-0.5">
            {PLU_COLORS.filter(([k]) => k !== "AUc").map(([k, label, c]) => (
              <li key={k} className="flex items-center gap-1.5">
                <Swatch color={c} /> {label}
              </li>
            ))}
          </ul>
        </details>
      )}
      {visible.includes("substations") && (
        <details className="mt-2 space-y-0.5">
          <summary className="mb-1 cursor-pointer font-semibold text-slate-600">{label("substations")}</summary>
          <p className="flex items-center gap-1.5">
            <span className="inline-block h-3 w-3 rounded-full border-2 border-green-500 bg-slate-900" /> capacité disponible
          </p>
          <p className="flex items-center gap-1.5">
            <span className="inline-block h-3 w-3 rounded-full border-2 border-red-500 bg-slate-900" /> saturé / inconnu
          </p>
        </details>
      )}
    </div>
  );
}
