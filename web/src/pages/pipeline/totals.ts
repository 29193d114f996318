// The totals of a Kanban column or of the list: hectares and installable MWc, in French.
import { num } from "../../lib/format";

export interface Totals {
  count: number;
  area_m2_total?: number;
  mwc_total?: number | null;
  mwc_known?: number;
}

/** "12,4 ha · 6,1 MWc"; the power says "données absentes" when no lead has one. */
export function totalsText(t: Totals): string {
  const ha = `${num((t.area_m2_total ?? 0) / 10_000, 1)} ha`;
  if (t.count === 0) return `${ha} · ${num(0, 1)} MWc`;
  const mwc = t.mwc_total === null || t.mwc_total === undefined ? "MWc : données absentes" : `${num(t.mwc_total, 1)} MWc`;
  return `${ha} · ${mwc}`;
}

/** When the power is known for some leads only: say for how many. */
export function totalsTitle(t: Totals): string | undefined {
  const known = t.mwc_known ?? 0;
  if (t.count === 0 || known === t.count) return undefined;
  return `Puissance connue pour ${num(known)} lead${known > 1 ? "s" : ""} sur ${num(t.count)} (les autres ne sont pas encore enrichis)`;
}

/** The sum of several columns' totals (the list's footer). */
export function sumTotals(columns: Totals[]): Totals {
  const withPower = columns.filter((c) => c.mwc_total !== null && c.mwc_total !== undefined);
  return {
    count: columns.reduce((n, c) => n + c.count, 0),
    area_m2_total: columns.reduce((n, c) => n + (c.area_m2_total ?? 0), 0),
    mwc_total: withPower.length ? withPower.reduce((n, c) => n + (c.mwc_total ?? 0), 0) : null,
    mwc_known: columns.reduce((n, c) => n + (c.mwc_known ?? 0), 0),
  };
}
