// The right panel of the explorer: facts of the clicked parcel, the selection, "Créer un lead".
import { useEffect, useState } from "react";
import toast from "react-hot-toast";
import { Plus, X } from "lucide-react";
import { useCreateLead } from "../../api/leads";
import { useParcel } from "../../api/reference";
import { ApiError } from "../../api/client";
import { Button, Facts, Loading, errorMessage } from "../../components/ui";
import { STATUS_LABEL } from "../../lib/status";
import type { LeadStatus } from "../../api/types";

type ParcelLead = { id: number; internal_name: string; name?: string | null; status: string };
type TakenBy = { id: number; internal_name: string; status: string; parcel_ids: string[] };
import { num, surface } from "../../lib/format";
import { useConstraints } from "../../api/selection";
import { formatHectares } from "../../components/map/geo";
import SelectionConstraints from "./SelectionConstraints";

/** The selection's total area (m²): the tiles' areas as soon as every parcel's is known, else
 * the server's sum (POST /api/parcels/constraints); null while neither is known. */
export function selectionArea(
  selected: string[],
  areas: ReadonlyMap<string, number>,
  server?: { parcel_count: number; area_m2: number } | null,
): number | null {
  if (selected.every((id) => areas.has(id))) return selected.reduce((s, id) => s + (areas.get(id) ?? 0), 0);
  if (server && server.parcel_count === selected.length) return server.area_m2;
  return null;
}

function ParcelFacts({ id }: { id: string }) {
  const { data, isLoading, error } = useParcel(id);
  if (isLoading) return <Loading label="Parcelle…" />;
  if (error) return <p className="text-sm text-red-600">{errorMessage(error)}</p>;
  const p = data?.properties ?? {};
  const rows: [string, string][] = [
    ["Parcelle", id],
    ["Commune", String(p.commune_name ?? p.commune ?? id.slice(0, 5))],
    ["Section / n°", `${p.section ?? id.slice(8, 10)} ${p.numero ?? Number(id.slice(10))}`],
    ["Surface mesurée", surface(p.area_m2 as number | undefined)],
    ["Contenance déclarée", p.contenance_m2 ? `${num(p.contenance_m2 as number)} m²` : "—"],
  ];
  // The active leads holding this parcel (those the user may see by name, the others counted).
  const leads = (p.leads ?? []) as ParcelLead[];
  const hidden = Number(p.hidden_leads ?? 0);
  if (leads.length || hidden)
    rows.push([
      "Déjà dans un lead",
      [
        ...leads.map((l) => `${l.name || l.internal_name} (${STATUS_LABEL[l.status as LeadStatus] ?? l.status})`),
        ...(hidden ? [`${hidden} lead${hidden > 1 ? "s" : ""} non visible${hidden > 1 ? "s" : ""}`] : []),
      ].join(", "),
    ]);
  for (const [k, label] of [
    ["plu_zone", "Zone PLU"],
    ["zones", "Zones protégées"],
  ] as const) {
    const v = p[k];
    if (v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0))
      rows.push([label, Array.isArray(v) ? v.map((x) => (typeof x === "object" ? JSON.stringify(x) : x)).join(", ") : typeof v === "object" ? JSON.stringify(v) : String(v)]);
  }
  return <Facts rows={rows} />;
}

/** Selection and lead creation. */
export default function SelectionPanel({
  selected,
  areas = new Map(),
  focused,
  onFocus,
  onRemove,
  onClear,
  onCreated,
}: {
  selected: string[];
  areas?: ReadonlyMap<string, number>;
  focused: string | null;
  onFocus: (id: string) => void;
  onRemove: (id: string) => void;
  onClear: () => void;
  onCreated: (leadId: number) => void;
}) {
  const create = useCreateLead();
  const constraints = useConstraints(selected);
  const total = selectionArea(selected, areas, constraints.data);
  const [name, setName] = useState("");
  // A 409 lead.parcels_taken: the leads that hold the parcels; creating anyway needs a reason.
  const [taken, setTaken] = useState<TakenBy[] | null>(null);
  const [reason, setReason] = useState("");
  const selection = selected.join(",");
  useEffect(() => {
    setTaken(null); // another selection: ask again
    setReason("");
  }, [selection]);
  if (selected.length === 0) {
    return (
      <aside className="absolute right-3 top-24 z-10 w-72 rounded-lg bg-white/95 p-3 text-sm text-slate-600 shadow-lg">
        <p className="font-medium text-slate-800">Prospection</p>
        <p className="mt-1">Cliquez une parcelle pour voir ses informations ; Maj + clic pour en sélectionner plusieurs, puis créez un lead.</p>
      </aside>
    );
  }
  return (
    <aside
      className="absolute right-3 top-24 z-10 flex max-h-[calc(100%-8rem)] w-80 flex-col rounded-lg bg-white shadow-lg"
      aria-label="Sélection"
      data-testid="selection-panel"
    >
      <header className="flex items-center justify-between border-b px-3 py-2">
        <h2 className="text-sm font-semibold">
          {selected.length} parcelle{selected.length > 1 ? "s" : ""} sélectionnée{selected.length > 1 ? "s" : ""}
          <span className="block text-xs font-normal text-slate-700" data-testid="selection-total">
            Surface totale : {total === null ? "…" : formatHectares(total)}
          </span>
        </h2>
        <button type="button" onClick={onClear} aria-label="Vider la sélection" className="rounded p-1 hover:bg-slate-100">
          <X className="h-4 w-4" />
        </button>
      </header>
      <div className="overflow-y-auto p-3">
        {focused && <ParcelFacts id={focused} />}
        <ul className="mt-3 flex flex-wrap gap-1">
          {selected.map((id) => (
            <li key={id} className="flex items-center gap-1 rounded bg-amber-50 px-1.5 py-0.5 text-xs text-amber-900">
              <button type="button" onClick={() => onFocus(id)} className="hover:underline">
                {id}
              </button>
              <button type="button" aria-label={`Retirer ${id}`} onClick={() => onRemove(id)}>
                <X className="h-3 w-3" />
              </button>
            </li>
          ))}
        </ul>
        <SelectionConstraints ids={selected} />
      </div>
      <form
        className="space-y-2 border-t p-3"
        onSubmit={(e) => {
          e.preventDefault();
          const duplicate = taken && reason.trim() ? { allow_duplicate: true, duplicate_reason: reason.trim() } : {};
          create.mutate(
            { parcel_ids: selected, source: "map", name: name.trim() || undefined, ...duplicate },
            {
              onSuccess: (lead) => {
                toast.success(`Lead ${lead.internal_name} créé`);
                setName("");
                setTaken(null);
                setReason("");
                onCreated(lead.id);
              },
              onError: (err) => {
                if (err instanceof ApiError && err.code === "lead.parcels_taken") {
                  setTaken((err.body.other_leads ?? []) as TakenBy[]);
                  return;
                }
                toast.error(`Création refusée : ${errorMessage(err)}`);
              },
            },
          );
        }}
      >
        <input
          value={name}
          onChange={(e) => setName(e.target.value)}
          placeholder="Nom du site (facultatif)"
          aria-label="Nom du site"
          className="w-full rounded-md border border-slate-300 px-2 py-1.5 text-sm"
        />
        {taken && (
          <div role="alert" className="space-y-1.5 rounded-md border border-amber-300 bg-amber-50 p-2 text-xs text-amber-900" data-testid="parcels-taken">
            <p>
              Parcelle{taken.length > 1 ? "s" : ""} déjà dans un lead actif :{" "}
              {taken.map((t) => `${t.internal_name} (${t.parcel_ids.join(", ")})`).join(" ; ")}.
            </p>
            <label className="block">
              Motif pour créer le doublon
              <input
                value={reason}
                onChange={(e) => setReason(e.target.value)}
                className="mt-0.5 w-full rounded border border-amber-300 bg-white px-2 py-1 text-sm text-slate-900"
              />
            </label>
          </div>
        )}
        <Button type="submit" busy={create.isPending} disabled={!!taken && !reason.trim()} className="w-full">
          <Plus className="h-4 w-4" aria-hidden /> {taken ? "Créer quand même" : "Créer un lead"}
        </Button>
      </form>
    </aside>
  );
}
