// French number, surface, date and money formatting.

const nf = (digits = 0) =>
  new Intl.NumberFormat("fr-FR", { maximumFractionDigits: digits, minimumFractionDigits: 0 });

/** A number in French notation, or an em dash when missing. */
export function num(value: unknown, digits = 0): string {
  if (value === null || value === undefined || value === "") return "—";
  const n = Number(value);
  return Number.isFinite(n) ? nf(digits).format(n) : "—";
}

/** A surface in m² shown in hectares (or m² under 1 ha). */
export function surface(m2: number | null | undefined): string {
  if (m2 === null || m2 === undefined) return "—";
  if (m2 >= 10_000) return `${num(m2 / 10_000, 2)} ha`;
  return `${num(m2)} m²`;
}

/** Euros, compacted (k€, M€). */
export function euros(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${num(value / 1e6, 2)} M€`;
  if (abs >= 1e4) return `${num(value / 1e3, 0)} k€`;
  return `${num(value, 0)} €`;
}

/** A distance in metres as m or km. */
export function distance(m: number | null | undefined): string {
  if (m === null || m === undefined) return "—";
  return m >= 1000 ? `${num(m / 1000, 1)} km` : `${num(m)} m`;
}

/** A date-time in French. */
export function dateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  return new Date(iso).toLocaleString("fr-FR", { dateStyle: "short", timeStyle: "short" });
}

/** A date in French. */
export function date(iso: string | null | undefined): string {
  if (!iso) return "—";
  return new Date(iso).toLocaleDateString("fr-FR");
}

/** Age of something in days, as "aujourd'hui", "1 j", "12 j". */
export function age(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return "—";
  const days = Math.floor((now.getTime() - new Date(iso).getTime()) / 86_400_000);
  if (days <= 0) return "aujourd'hui";
  return `${days} j`;
}

/** A file size. */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "—";
  if (n >= 1 << 20) return `${num(n / (1 << 20), 1)} Mo`;
  if (n >= 1 << 10) return `${num(n / (1 << 10), 0)} ko`;
  return `${n} o`;
}

/** A duration given in days, in the unit a person reads: "12 min", "5 h", "3,5 j", "2 mois". */
export function duration(days: number | null | undefined): string {
  if (days === null || days === undefined || !Number.isFinite(days)) return "—";
  const minutes = days * 1440;
  if (minutes < 1) return "< 1 min";
  if (minutes < 60) return `${num(minutes)} min`;
  if (days < 1) return `${num(minutes / 60, minutes < 600 ? 1 : 0)} h`;
  if (days < 60) return `${num(days, days < 10 ? 1 : 0)} j`;
  return `${num(days / 30.44, 1)} mois`;
}

/** The week starting on an ISO date, as "sem. du 30/11" (analytics axes). */
export function week(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso.length === 10 ? `${iso}T12:00:00` : iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `sem. du ${d.toLocaleDateString("fr-FR", { day: "2-digit", month: "2-digit" })}`;
}

/** A score out of 100 with one decimal ("53,3"), or "–" when not computed. */
export function score(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  return num(value, 1);
}

/** A percentage from a 0–1 share ("42 %"). */
export function percent(share: number | null | undefined, digits = 0): string {
  if (share === null || share === undefined || !Number.isFinite(share)) return "—";
  return `${num(share * 100, digits)}\u00a0%`;
}
