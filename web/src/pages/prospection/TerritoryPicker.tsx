// Where to search: communes or départements found by the reference search (or typed as codes), or
// a polygon drawn on the map — one kind at a time, as the API takes it.
import { useEffect, useId, useState } from "react";
import { MapPin, Pencil, X } from "lucide-react";
import { useSearch } from "../../api/reference";
import type { Territory } from "../../api/siteSearches";
import { Button } from "../../components/ui";
import { departementOf, departementOfInsee, inseeOf, territoryLabel } from "./logic";

interface Option {
  kind: "commune" | "departement";
  code: string;
  label: string;
  bbox?: [number, number, number, number];
}

export interface TerritoryProps {
  territory: Territory;
  names: Record<string, string>;
  onChange: (t: Territory, names?: Record<string, string>) => void;
  onFly: (bbox: [number, number, number, number]) => void;
  drawing: boolean;
  onStartDrawing: () => void;
  onFinishDrawing: () => void;
  onCancelDrawing: () => void;
  drawCount: number;
  maxCommunes: number;
  maxDepartements: number;
}

/** The options a typed text offers: the search's communes, their départements, and codes typed as is. */
export function territoryOptions(text: string, hits: { kind: string; id: string; label: string; bbox: [number, number, number, number] }[]): Option[] {
  const out: Option[] = [];
  const seen = new Set<string>();
  const add = (o: Option) => {
    const key = `${o.kind}:${o.code}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(o);
    }
  };
  const dep = departementOf(text);
  if (dep) add({ kind: "departement", code: dep, label: `Département ${dep}` });
  for (const h of hits.filter((h) => h.kind === "commune")) add({ kind: "commune", code: h.id, label: h.label, bbox: h.bbox });
  const insee = inseeOf(text);
  if (insee) add({ kind: "commune", code: insee, label: `Commune ${insee} (code INSEE)` });
  for (const h of hits.filter((h) => h.kind === "commune")) {
    const d = departementOfInsee(h.id);
    add({ kind: "departement", code: d, label: `Département ${d}` });
  }
  return out.slice(0, 12);
}

/** The territory picker. */
export default function TerritoryPicker(props: TerritoryProps) {
  const { territory } = props;
  const [text, setText] = useState("");
  const [debounced, setDebounced] = useState("");
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  const listId = useId();
  const hintId = useId();
  useEffect(() => {
    const t = setTimeout(() => setDebounced(text), 200);
    return () => clearTimeout(t);
  }, [text]);
  const search = useSearch(debounced);
  const options = debounced.trim().length >= 2 ? territoryOptions(debounced, search.data?.items ?? []) : [];
  const [limitNote, setLimitNote] = useState<string | null>(null);

  function pick(o: Option) {
    setText("");
    setOpen(false);
    setLimitNote(null);
    if (o.bbox) props.onFly(o.bbox);
    const key = o.kind === "commune" ? "communes" : "departements";
    const current = territory[key] ?? [];
    const max = o.kind === "commune" ? props.maxCommunes : props.maxDepartements;
    if (current.includes(o.code)) return;
    if (current.length >= max) {
      setLimitNote(`${max} ${o.kind === "commune" ? "communes" : "départements"} au plus par recherche`);
      return;
    }
    const name = o.kind === "commune" ? o.label.replace(/\s*\([^)]*\)\s*$/, "") : "";
    const names = o.kind === "commune" && !o.label.startsWith("Commune ") ? { [o.code]: name } : undefined;
    // One kind of territory at a time: picking the other kind starts over.
    props.onChange({ [key]: [...current, o.code] }, names);
  }

  function remove(kind: "communes" | "departements", code: string) {
    const rest = (territory[kind] ?? []).filter((c) => c !== code);
    props.onChange(rest.length ? { [kind]: rest } : {});
  }

  const chips: { kind: "communes" | "departements"; code: string; label: string }[] = [
    ...(territory.communes ?? []).map((c) => ({
      kind: "communes" as const,
      code: c,
      label: props.names[c] ? `${props.names[c]} (${c})` : `Commune ${c}`,
    })),
    ...(territory.departements ?? []).map((d) => ({ kind: "departements" as const, code: d, label: `Département ${d}` })),
  ];

  return (
    <fieldset className="space-y-2">
      <legend className="text-sm font-semibold text-slate-800">Territoire</legend>
      <div className="relative">
        <label htmlFor="territory-search" className="mb-1 block text-xs text-slate-600">
          Commune ou département (nom, code INSEE ou numéro)
        </label>
        <input
          id="territory-search"
          type="search"
          role="combobox"
          autoComplete="off"
          aria-expanded={open && options.length > 0}
          aria-controls={listId}
          aria-describedby={hintId}
          aria-activedescendant={open && options[active] ? `${listId}-${active}` : undefined}
          placeholder="ex. 69114, Villefranche, 69"
          value={text}
          onChange={(e) => {
            setText(e.target.value);
            setOpen(true);
            setActive(0);
          }}
          onFocus={() => setOpen(true)}
          onBlur={() => setTimeout(() => setOpen(false), 150)}
          onKeyDown={(e) => {
            if (e.key === "ArrowDown") {
              e.preventDefault();
              setActive((a) => Math.min(a + 1, options.length - 1));
            } else if (e.key === "ArrowUp") {
              e.preventDefault();
              setActive((a) => Math.max(a - 1, 0));
            } else if (e.key === "Enter" && options[active]) {
              e.preventDefault();
              pick(options[active]);
            } else if (e.key === "Escape") setOpen(false);
          }}
          className="w-full rounded-md border border-slate-300 px-2.5 py-1.5 text-sm focus:border-sky-500 focus:outline-none focus:ring-1 focus:ring-sky-500"
        />
        <p id={hintId} className="sr-only">
          Flèches pour choisir, Entrée pour ajouter au territoire
        </p>
        {open && debounced.trim().length >= 2 && (
          <ul
            id={listId}
            role="listbox"
            aria-label="Territoires trouvés"
            className="absolute z-20 mt-1 max-h-64 w-full overflow-y-auto rounded-md border border-slate-200 bg-white text-sm shadow-lg"
          >
            {search.isFetching && options.length === 0 && <li className="px-3 py-2 text-slate-500">Recherche…</li>}
            {search.error && <li className="px-3 py-2 text-red-600">Recherche indisponible</li>}
            {!search.isFetching && !search.error && options.length === 0 && (
              <li className="px-3 py-2 text-slate-500">Aucun résultat</li>
            )}
            {options.map((o, i) => (
              <li
                key={`${o.kind}-${o.code}`}
                id={`${listId}-${i}`}
                role="option"
                aria-selected={i === active}
                onMouseDown={(e) => {
                  e.preventDefault();
                  pick(o);
                }}
                className={`cursor-pointer px-3 py-1.5 ${i === active ? "bg-sky-50" : "hover:bg-slate-50"}`}
              >
                <span className="mr-2 rounded bg-slate-100 px-1.5 py-0.5 text-[10px] uppercase text-slate-500">
                  {o.kind === "commune" ? "commune" : "département"}
                </span>
                {o.label}
              </li>
            ))}
          </ul>
        )}
      </div>
      {limitNote && (
        <p role="alert" className="text-xs text-red-700">
          {limitNote}
        </p>
      )}
      {chips.length > 0 && (
        <ul aria-label="Territoire choisi" className="flex flex-wrap gap-1.5">
          {chips.map((c) => (
            <li key={`${c.kind}-${c.code}`} className="flex items-center gap-1 rounded-full bg-sky-50 py-0.5 pl-2 pr-1 text-xs text-sky-900">
              <MapPin className="h-3 w-3" aria-hidden />
              {c.label}
              <button
                type="button"
                onClick={() => remove(c.kind, c.code)}
                aria-label={`Retirer ${c.label}`}
                className="rounded-full p-0.5 hover:bg-sky-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500"
              >
                <X className="h-3 w-3" aria-hidden />
              </button>
            </li>
          ))}
        </ul>
      )}
      <div className="flex flex-wrap items-center gap-2">
        {!props.drawing ? (
          <Button variant="secondary" onClick={props.onStartDrawing}>
            <Pencil className="h-3.5 w-3.5" aria-hidden /> {territory.polygon ? "Redessiner le polygone" : "Dessiner un polygone"}
          </Button>
        ) : (
          <>
            <Button variant="secondary" onClick={props.onFinishDrawing} disabled={props.drawCount < 3}>
              Terminer le polygone ({props.drawCount} sommets)
            </Button>
            <Button variant="ghost" onClick={props.onCancelDrawing}>
              Abandonner
            </Button>
          </>
        )}
        {territory.polygon && !props.drawing && (
          <Button variant="ghost" onClick={() => props.onChange({})}>
            Effacer le polygone
          </Button>
        )}
      </div>
      <p className="text-xs text-slate-500" data-testid="territory-summary">
        {territoryLabel(territory, props.names)}
      </p>
    </fieldset>
  );
}
