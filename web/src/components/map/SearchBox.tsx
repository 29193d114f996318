// Search a commune (name or INSEE code), a parcel (id or cadastral reference: "AN 63",
// "69114 AN 63") or an address (the server's geocoder, when configured); choosing a result flies
// the map there (a parcel also joins the selection). A geocoder that failed is said in French.
import { useEffect, useState } from "react";
import { Search } from "lucide-react";
import { useSearch } from "../../api/reference";
import type { SearchItem } from "../../api/types";

const KIND_LABEL: Record<SearchItem["kind"], string> = { commune: "commune", parcel: "parcelle", address: "adresse" };

/** A combobox over GET /api/reference/search. */
export default function SearchBox({ onPick }: { onPick: (item: SearchItem) => void }) {
  const [text, setText] = useState("");
  const [debounced, setDebounced] = useState("");
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  useEffect(() => {
    const t = setTimeout(() => setDebounced(text), 200);
    return () => clearTimeout(t);
  }, [text]);
  const { data, isFetching, error } = useSearch(debounced);
  const items = data?.items ?? [];
  const warnings = data?.warnings ?? [];

  function pick(item: SearchItem) {
    onPick(item);
    setText(item.label);
    setOpen(false);
  }

  return (
    <div className="relative w-80">
      <Search className="pointer-events-none absolute left-2.5 top-2.5 h-4 w-4 text-slate-400" aria-hidden />
      <input
        type="search"
        role="combobox"
        aria-expanded={open && items.length > 0}
        aria-controls="search-results"
        aria-label="Rechercher une commune ou une parcelle, ou une adresse"
        placeholder="Commune, parcelle (69114 AN 63) ou adresse…"
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          setOpen(true);
          setActive(0);
        }}
        onFocus={() => setOpen(true)}
        onBlur={() => setTimeout(() => setOpen(false), 150)}
        onKeyDown={(e) => {
          if (e.key === "ArrowDown") setActive((a) => Math.min(a + 1, items.length - 1));
          else if (e.key === "ArrowUp") setActive((a) => Math.max(a - 1, 0));
          else if (e.key === "Enter" && items[active]) {
            e.preventDefault();
            pick(items[active]);
          } else if (e.key === "Escape") setOpen(false);
        }}
        className="w-full rounded-md border border-slate-300 bg-white py-2 pl-8 pr-3 text-sm shadow focus:border-sky-500 focus:outline-none focus:ring-1 focus:ring-sky-500"
      />
      {open && debounced.trim().length >= 2 && (
        <ul
          id="search-results"
          role="listbox"
          className="absolute z-20 mt-1 max-h-72 w-full overflow-y-auto rounded-md border border-slate-200 bg-white text-sm shadow-lg"
        >
          {isFetching && items.length === 0 && <li className="px-3 py-2 text-slate-400">Recherche…</li>}
          {error && <li className="px-3 py-2 text-red-600">Recherche indisponible</li>}
          {warnings.map((w) => (
            <li key={w.code} role="presentation" className="px-3 py-1.5 text-xs text-amber-800" data-testid="search-warning">
              {w.message}
            </li>
          ))}
          {!isFetching && !error && items.length === 0 && (
            <li className="px-3 py-2 text-slate-400">Aucun résultat</li>
          )}
          {items.map((item, i) => (
            <li
              key={`${item.kind}-${item.id}`}
              role="option"
              aria-selected={i === active}
              onMouseDown={(e) => {
                e.preventDefault();
                pick(item);
              }}
              className={`cursor-pointer px-3 py-2 ${i === active ? "bg-sky-50" : "hover:bg-slate-50"}`}
            >
              <span className="mr-2 rounded bg-slate-100 px-1.5 py-0.5 text-[10px] uppercase text-slate-500">
                {KIND_LABEL[item.kind]}
              </span>
              {item.label}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
