// The criteria, starting from the server's defaults; each can be switched off (null for the API).
import { useId } from "react";
import type { ReactNode } from "react";
import { ZONE_COLORS, PLU_COLORS } from "../../components/map/style";
import type { CriteriaForm as Form, FormErrors } from "./logic";

const ZONE_LABEL: Record<string, string> = {
  ...Object.fromEntries(ZONE_COLORS.map(([k, label]) => [k, label])),
  reserve_biologique: "Réserve biologique",
  ramsar: "Site Ramsar",
  site_classe: "Site classé",
  parc_national_adhesion: "Parc national (adhésion)",
  ppri_rouge: "PPRI zone rouge",
  foret: "Forêt",
  friche: "Friche",
  zone_acceleration: "Zone d'accélération ENR",
};
const PLU_LABEL: Record<string, string> = Object.fromEntries(PLU_COLORS.map(([k, label]) => [k, label]));

function Field({ id, label, unit, error, children, hint }: { id: string; label: string; unit?: string; error?: string; hint?: string; children: ReactNode }) {
  return (
    <div>
      <label htmlFor={id} className="mb-0.5 block text-xs text-slate-600">
        {label}
        {unit && <span className="text-slate-500"> ({unit})</span>}
      </label>
      {children}
      {hint && !error && <p className="mt-0.5 text-[11px] text-slate-500">{hint}</p>}
      {error && (
        <p id={`${id}-error`} className="mt-0.5 text-xs text-red-700">
          {error}
        </p>
      )}
    </div>
  );
}

const INPUT =
  "w-full rounded-md border border-slate-300 px-2 py-1 text-sm tabular-nums focus:border-sky-500 focus:outline-none focus:ring-1 focus:ring-sky-500 disabled:bg-slate-100 disabled:text-slate-400 aria-[invalid=true]:border-red-500";

function DecimalInput({
  id,
  value,
  onChange,
  disabled,
  error,
  label,
}: {
  id: string;
  value: string;
  onChange: (v: string) => void;
  disabled?: boolean;
  error?: string;
  label?: string;
}) {
  return (
    <input
      id={id}
      type="text"
      inputMode="decimal"
      value={value}
      disabled={disabled}
      aria-label={label}
      aria-invalid={!!error}
      aria-describedby={error ? `${id}-error` : undefined}
      onChange={(e) => onChange(e.target.value)}
      className={INPUT}
    />
  );
}

function Check({ checked, onChange, children, id }: { checked: boolean; onChange: (v: boolean) => void; children: ReactNode; id?: string }) {
  return (
    <label className="flex items-center gap-1.5 text-xs text-slate-700" htmlFor={id}>
      <input id={id} type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} className="h-3.5 w-3.5 accent-slate-900" />
      {children}
    </label>
  );
}

/** The criteria form; `errors` come from criteriaFromForm. */
export default function CriteriaForm({
  form,
  onChange,
  errors,
  pluTypes,
}: {
  form: Form;
  onChange: (f: Form) => void;
  errors: FormErrors;
  pluTypes: string[];
}) {
  const uid = useId();
  const set = <K extends keyof Form>(key: K, value: Form[K]) => onChange({ ...form, [key]: value });
  const zoneEntries = Object.entries(form.zones);
  return (
    <fieldset className="space-y-3">
      <legend className="text-sm font-semibold text-slate-800">Critères</legend>
      <div className="grid grid-cols-2 gap-2">
        <Field id={`${uid}-min-ha`} label="Surface constructible min." unit="ha" error={errors.min_buildable_ha}>
          <DecimalInput
            id={`${uid}-min-ha`}
            value={form.min_buildable_ha}
            disabled={!form.min_buildable_on}
            error={errors.min_buildable_ha}
            onChange={(v) => set("min_buildable_ha", v)}
          />
          <Check checked={!form.min_buildable_on} onChange={(v) => set("min_buildable_on", !v)}>
            sans minimum
          </Check>
        </Field>
        <Field id={`${uid}-poste`} label="Distance max. au poste source" unit="m" error={errors.max_poste_distance_m}>
          <DecimalInput
            id={`${uid}-poste`}
            value={form.max_poste_distance_m}
            disabled={!form.max_poste_on}
            error={errors.max_poste_distance_m}
            onChange={(v) => set("max_poste_distance_m", v)}
          />
          <Check checked={!form.max_poste_on} onChange={(v) => set("max_poste_on", !v)}>
            sans limite
          </Check>
        </Field>
        <Field
          id={`${uid}-slope`}
          label="Pente moyenne max."
          unit="%"
          error={errors.max_slope_pct}
          hint="où un modèle de terrain est chargé"
        >
          <DecimalInput
            id={`${uid}-slope`}
            value={form.max_slope_pct}
            disabled={!form.slope_on}
            error={errors.max_slope_pct}
            onChange={(v) => set("max_slope_pct", v)}
          />
          <Check checked={!form.slope_on} onChange={(v) => set("slope_on", !v)}>
            sans limite
          </Check>
        </Field>
        <Field id={`${uid}-north`} label="Part exposée au nord max." unit="%" error={errors.max_north_share} hint="de la surface constructible">
          <DecimalInput
            id={`${uid}-north`}
            value={form.max_north_share}
            disabled={!form.north_on}
            error={errors.max_north_share}
            onChange={(v) => set("max_north_share", v)}
          />
          <Check checked={!form.north_on} onChange={(v) => set("north_on", !v)}>
            sans limite
          </Check>
        </Field>
        <Field
          id={`${uid}-yield`}
          label="Productible min."
          unit="kWh/kWc/an"
          error={errors.min_specific_yield}
          hint="PVGIS (maille de 0,05°) ou estimation hors ligne"
        >
          <DecimalInput
            id={`${uid}-yield`}
            value={form.min_specific_yield}
            disabled={!form.yield_on}
            error={errors.min_specific_yield}
            onChange={(v) => set("min_specific_yield", v)}
          />
          <Check checked={!form.yield_on} onChange={(v) => set("yield_on", !v)}>
            sans minimum
          </Check>
        </Field>
        <Field id={`${uid}-gap`} label="Écart max. entre parcelles d'un site" unit="m" error={errors.gap_m} hint="un chemin, un fossé">
          <DecimalInput id={`${uid}-gap`} value={form.gap_m} error={errors.gap_m} onChange={(v) => set("gap_m", v)} />
        </Field>
      </div>

      <fieldset>
        <legend className="mb-0.5 text-xs text-slate-600">Capacité disponible au poste</legend>
        <div className="space-y-0.5">
          {(
            [
              ["site", "au moins les MWc estimés du site"],
              ["mw", "au moins (MW)"],
              ["off", "peu importe"],
            ] as const
          ).map(([mode, label]) => (
            <label key={mode} className="flex items-center gap-1.5 text-xs text-slate-700">
              <input
                type="radio"
                name={`${uid}-capacity`}
                value={mode}
                checked={form.capacity_mode === mode}
                onChange={() => set("capacity_mode", mode)}
                className="accent-slate-900"
              />
              {label}
              {mode === "mw" && (
                <span className="w-20">
                  <DecimalInput
                    id={`${uid}-capacity-mw`}
                    label="Capacité minimale (MW)"
                    value={form.capacity_mw}
                    disabled={form.capacity_mode !== "mw"}
                    error={errors.capacity_mw}
                    onChange={(v) => set("capacity_mw", v)}
                  />
                </span>
              )}
            </label>
          ))}
          {errors.capacity_mw && <p className="text-xs text-red-700">{errors.capacity_mw}</p>}
        </div>
      </fieldset>

      <fieldset>
        <legend className="mb-0.5 text-xs text-slate-600">Zones exclues et leur tampon (m)</legend>
        <ul className="max-h-48 space-y-0.5 overflow-y-auto pr-1">
          {zoneEntries.map(([type, z]) => (
            <li key={type} className="flex items-center justify-between gap-2">
              <Check
                id={`${uid}-zone-${type}`}
                checked={z.on}
                onChange={(on) => set("zones", { ...form.zones, [type]: { ...z, on } })}
              >
                {ZONE_LABEL[type] ?? type}
              </Check>
              <span className="w-16 shrink-0">
                <DecimalInput
                  id={`${uid}-zone-${type}-buffer`}
                  label={`Tampon ${ZONE_LABEL[type] ?? type} (m)`}
                  value={z.buffer}
                  disabled={!z.on}
                  error={errors[`zone_${type}`]}
                  onChange={(buffer) => set("zones", { ...form.zones, [type]: { ...z, buffer } })}
                />
              </span>
            </li>
          ))}
        </ul>
      </fieldset>

      <fieldset>
        <legend className="mb-0.5 text-xs text-slate-600">Urbanisme (PLU)</legend>
        <Check checked={form.plu_on} onChange={(v) => set("plu_on", v)}>
          vérifier le zonage PLU
        </Check>
        <div className="mt-1 flex flex-wrap gap-x-3 gap-y-0.5" role="group" aria-label="Types de zone admis">
          {pluTypes.map((t) => (
            <label key={t} className={`flex items-center gap-1 text-xs ${form.plu_on ? "text-slate-700" : "text-slate-500"}`}>
              <input
                type="checkbox"
                disabled={!form.plu_on}
                checked={form.plu_types.includes(t)}
                onChange={(e) =>
                  set("plu_types", e.target.checked ? [...form.plu_types, t] : form.plu_types.filter((x) => x !== t))
                }
                className="h-3.5 w-3.5 accent-slate-900"
              />
              <span title={PLU_LABEL[t]}>{t}</span>
            </label>
          ))}
        </div>
        {errors.plu_types && <p className="text-xs text-red-700">{errors.plu_types}</p>}
        <div className="mt-1">
          <Field id={`${uid}-labels`} label="Secteurs admis en plus" error={errors.plu_labels} hint="séparés par des virgules (Npv2 = Npv)">
            <input
              id={`${uid}-labels`}
              type="text"
              value={form.plu_labels}
              aria-invalid={!!errors.plu_labels}
              aria-describedby={errors.plu_labels ? `${uid}-labels-error` : undefined}
              onChange={(e) => set("plu_labels", e.target.value)}
              className={INPUT}
            />
          </Field>
        </div>
        <Check checked={form.plu_unknown_passes} onChange={(v) => set("plu_unknown_passes", v)}>
          parcelles sans zonage PLU admises (carte communale, RNU)
        </Check>
      </fieldset>
      <Check checked={form.exclude_active_leads} onChange={(v) => set("exclude_active_leads", v)}>
        écarter les parcelles déjà dans un lead ouvert
      </Check>
    </fieldset>
  );
}
