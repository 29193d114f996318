// Small shared UI pieces: badges, loading/empty/error states, buttons, cards.
import type { ButtonHTMLAttributes, ReactNode } from "react";
import { AlertTriangle, Inbox, Loader2 } from "lucide-react";
import { ApiError } from "../api/client";
import type { LeadStatus } from "../api/types";
import { score as formatScore } from "../lib/format";
import { STATUS_BADGE, STATUS_LABEL } from "../lib/status";

/** A coloured pill with the French label of a status. */
export function StatusBadge({ status }: { status: LeadStatus }) {
  return (
    <span
      className="inline-flex items-center gap-1 rounded-full px-2 py-0.5 text-xs font-medium text-white"
      style={{ backgroundColor: STATUS_BADGE[status] ?? "#475569" }}
      data-status={status}
    >
      {STATUS_LABEL[status] ?? status}
    </span>
  );
}

/** Score 0–100 with a colour: red < 40, amber < 70, green otherwise. */
export function ScoreBadge({ score }: { score: number | null | undefined }) {
  if (score === null || score === undefined)
    return (
      <span className="rounded bg-slate-100 px-1.5 py-0.5 text-xs text-slate-600" title="Non évalué">
        –
      </span>
    );
  const tone =
    score >= 70 ? "bg-emerald-100 text-emerald-800" : score >= 40 ? "bg-amber-100 text-amber-800" : "bg-red-100 text-red-800";
  return (
    <span className={`rounded px-1.5 py-0.5 text-xs font-semibold tabular-nums ${tone}`} title={`Score ${formatScore(score)}/100`}>
      {formatScore(score)}
    </span>
  );
}

/** Centered spinner with a label. */
export function Loading({ label = "Chargement…" }: { label?: string }) {
  return (
    <div role="status" className="flex items-center justify-center gap-2 p-8 text-slate-500">
      <Loader2 className="h-5 w-5 animate-spin" aria-hidden /> {label}
    </div>
  );
}

/** The French message of any error: for the API's problems, the one of its code. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

/** An error box with an optional retry. */
export function ErrorState({ error, retry }: { error: unknown; retry?: () => void }) {
  // No such route on the server (an older API than this app): not the user's doing.
  const notYet = error instanceof ApiError && error.code === "http.not_found";
  return (
    <div role="alert" className="m-4 flex items-start gap-3 rounded-lg border border-red-200 bg-red-50 p-4 text-red-800">
      <AlertTriangle className="mt-0.5 h-5 w-5 shrink-0" aria-hidden />
      <div className="flex-1">
        <p className="font-medium">{notYet ? "Service indisponible" : "Une erreur est survenue"}</p>
        <p className="text-sm">{errorMessage(error)}</p>
      </div>
      {retry && (
        <Button variant="secondary" onClick={retry}>
          Réessayer
        </Button>
      )}
    </div>
  );
}

/** An empty state with an icon and a hint. */
export function Empty({ title, hint, children }: { title: string; hint?: string; children?: ReactNode }) {
  return (
    <div className="flex flex-col items-center justify-center gap-2 p-8 text-center text-slate-500">
      <Inbox className="h-8 w-8" aria-hidden />
      <p className="font-medium text-slate-700">{title}</p>
      {hint && <p className="text-sm">{hint}</p>}
      {children}
    </div>
  );
}

type Variant = "primary" | "secondary" | "danger" | "ghost";

const VARIANTS: Record<Variant, string> = {
  primary: "bg-slate-900 text-white hover:bg-slate-700 disabled:bg-slate-400",
  secondary: "border border-slate-300 bg-white text-slate-800 hover:bg-slate-100 disabled:text-slate-500",
  danger: "bg-red-600 text-white hover:bg-red-500 disabled:bg-red-300",
  ghost: "text-slate-700 hover:bg-slate-100",
};

/** A button with the house variants and a visible focus ring. */
export function Button({
  variant = "primary",
  className = "",
  busy = false,
  children,
  ...props
}: ButtonHTMLAttributes<HTMLButtonElement> & { variant?: Variant; busy?: boolean }) {
  return (
    <button
      type="button"
      {...props}
      disabled={props.disabled || busy}
      className={`inline-flex items-center justify-center gap-1.5 rounded-md px-3 py-1.5 text-sm font-medium focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-400 focus-visible:ring-offset-1 disabled:cursor-not-allowed ${VARIANTS[variant]} ${className}`}
    >
      {busy && <Loader2 className="h-4 w-4 animate-spin" aria-hidden />}
      {children}
    </button>
  );
}

/** A titled white card. */
export function Card({
  title,
  icon,
  actions,
  children,
  className = "",
}: {
  title?: ReactNode;
  icon?: ReactNode;
  actions?: ReactNode;
  children: ReactNode;
  className?: string;
}) {
  return (
    <section className={`rounded-lg border border-slate-200 bg-white shadow-sm ${className}`}>
      {(title || actions) && (
        <header className="flex items-center justify-between gap-2 border-b border-slate-100 px-4 py-2.5">
          <h2 className="flex items-center gap-2 text-sm font-semibold text-slate-800">
            {icon}
            {title}
          </h2>
          {actions}
        </header>
      )}
      <div className="p-4">{children}</div>
    </section>
  );
}

/** A definition list of label/value pairs. */
export function Facts({ rows }: { rows: [string, ReactNode][] }) {
  return (
    <dl className="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm">
      {rows.map(([k, v]) => (
        <div key={k} className="contents">
          <dt className="text-slate-500">{k}</dt>
          <dd className="font-medium text-slate-800">{v}</dd>
        </div>
      ))}
    </dl>
  );
}

/** Page title bar. */
export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="flex flex-wrap items-center justify-between gap-3 border-b border-slate-200 bg-white px-6 py-3">
      <h1 className="text-lg font-semibold">{title}</h1>
      <div className="flex flex-wrap items-center gap-2">{children}</div>
    </div>
  );
}
