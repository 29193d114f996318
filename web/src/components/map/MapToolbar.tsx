// The explorer's tools: lasso, measure a distance, measure an area (Shift + drag draws a
// selection box at any time), with the measure's result in French units.
import { Lasso, Ruler, Square } from "lucide-react";
import type { LonLat } from "./geo";
import { formatArea, formatLength } from "./geo";
import type { Tool } from "./useMapTools";
import { measureOf } from "./useMapTools";

const TOOLS: { tool: Tool; label: string; Icon: typeof Lasso }[] = [
  { tool: "lasso", label: "Lasso", Icon: Lasso },
  { tool: "measure-line", label: "Mesurer une distance", Icon: Ruler },
  { tool: "measure-area", label: "Mesurer une surface", Icon: Square },
];

const HINTS: Record<Tool, string> = {
  none: "Maj + glisser : sélection rectangle",
  lasso: "Maintenez le bouton et entourez les parcelles à ajouter",
  "measure-line": "Cliquez les points ; double-clic ou Entrée pour finir, Échap pour effacer",
  "measure-area": "Cliquez les sommets ; double-clic ou Entrée pour finir, Échap pour effacer",
};

export default function MapToolbar({
  tool,
  onTool,
  points,
  finished,
  onClear,
}: {
  tool: Tool;
  onTool: (t: Tool) => void;
  points: LonLat[];
  finished: boolean;
  onClear: () => void;
}) {
  const measuring = tool === "measure-line" || tool === "measure-area";
  const m = measureOf(tool, points);
  return (
    <div className="pointer-events-none flex flex-col items-start gap-1.5" data-testid="map-tools">
      <div role="toolbar" aria-label="Outils de la carte" className="pointer-events-auto flex gap-1 rounded-lg bg-white/95 p-1 shadow-lg">
        {TOOLS.map(({ tool: t, label, Icon }) => (
          <button
            key={t}
            type="button"
            aria-pressed={tool === t}
            title={label}
            aria-label={label}
            onClick={() => onTool(tool === t ? "none" : t)}
            className={`rounded-md p-1.5 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-400 ${
              tool === t ? "bg-sky-700 text-white" : "text-slate-700 hover:bg-slate-100"
            }`}
          >
            <Icon className="h-4 w-4" aria-hidden />
          </button>
        ))}
      </div>
      <p className="rounded bg-slate-900/80 px-2 py-0.5 text-xs text-white">{HINTS[tool]}</p>
      {measuring && (
        <div className="pointer-events-auto rounded-lg bg-white/95 px-3 py-2 text-sm shadow-lg" role="status" aria-live="polite" data-testid="measure-result">
          {tool === "measure-line" ? (
            <span>
              Distance : <strong>{formatLength(m.length_m)}</strong>
            </span>
          ) : (
            <span>
              Surface : <strong>{m.area_m2 === null ? "—" : formatArea(m.area_m2)}</strong>
              {m.area_m2 !== null && <span className="text-slate-600"> · périmètre {formatLength(m.length_m)}</span>}
            </span>
          )}
          <span className="ml-2 text-xs text-slate-600">
            {points.length} point{points.length > 1 ? "s" : ""}
            {finished ? " · terminé" : ""}
          </span>
          {points.length > 0 && (
            <button type="button" onClick={onClear} className="ml-2 text-xs text-sky-800 underline">
              Effacer
            </button>
          )}
        </div>
      )}
    </div>
  );
}
