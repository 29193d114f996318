// The bell of the app frame: my unread notifications (polled every 30 s while the tab is
// visible) and a list linking to each lead; opening one marks it read.
import { useEffect, useRef, useState } from "react";
import { Link } from "react-router-dom";
import { Bell } from "lucide-react";
import type { NotificationOut } from "../api/team";
import { useNotifications, useReadAll, useReadNotification } from "../api/team";
import type { LeadStatus } from "../api/types";
import { dateTime, num } from "../lib/format";
import { STATUS_LABEL } from "../lib/status";

const label = (s: unknown) => `« ${STATUS_LABEL[s as LeadStatus] ?? String(s ?? "?")} »`;

/** The French sentence of a notification. */
export function notificationText(n: NotificationOut): string {
  const who = n.actor_name || "Quelqu'un";
  const lead = `« ${n.lead_name} »`;
  const data = (n.data ?? {}) as Record<string, unknown>;
  switch (n.kind) {
    case "assigned_to_me":
      return `${who} vous a assigné le lead ${lead}`;
    case "status_changed":
      return `${who} a passé le lead ${lead} de ${label(data.from)} à ${label(data.to)}`;
    case "mentioned":
      return `${who} vous a mentionné sur le lead ${lead}`;
    default:
      return `Du nouveau sur le lead ${lead}`;
  }
}

/** The bell button and its panel. */
export default function NotificationBell() {
  const { data } = useNotifications();
  const read = useReadNotification();
  const readAll = useReadAll();
  const [open, setOpen] = useState(false);
  const panel = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  const unread = data?.unread ?? 0;

  useEffect(() => {
    if (!open) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        setOpen(false);
        button.current?.focus();
      }
    };
    const onClick = (e: MouseEvent) => {
      const target = e.target as Node;
      if (!panel.current?.contains(target) && !button.current?.contains(target)) setOpen(false);
    };
    document.addEventListener("keydown", onKey);
    document.addEventListener("mousedown", onClick);
    return () => {
      document.removeEventListener("keydown", onKey);
      document.removeEventListener("mousedown", onClick);
    };
  }, [open]);

  const title = unread ? `Notifications : ${num(unread)} non lue${unread > 1 ? "s" : ""}` : "Notifications : aucune non lue";
  return (
    <div className="relative">
      <button
        ref={button}
        type="button"
        title={title}
        aria-expanded={open}
        aria-controls="notifications-panel"
        data-testid="notification-bell"
        onClick={() => setOpen((o) => !o)}
        className="relative flex items-center gap-1.5 rounded px-2 py-1 text-xs text-slate-200 hover:bg-slate-800 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-400"
      >
        <Bell className="h-4 w-4 shrink-0" aria-hidden />
        {/* The name read out is the visible text and the count: "Notifications : 2 non lues". */}
        <span className="sr-only sm:not-sr-only">Notifications</span>
        <span className="sr-only">{title.slice("Notifications".length)}</span>
        {unread > 0 && (
          <span
            aria-hidden
            data-testid="notification-count"
            className="absolute -top-1 left-4 min-w-[1.1rem] rounded-full bg-rose-600 px-1 text-center text-[0.65rem] font-bold leading-4 text-white"
          >
            {unread > 99 ? "99+" : unread}
          </span>
        )}
      </button>
      {open && (
        <div
          ref={panel}
          id="notifications-panel"
          role="region"
          aria-label="Notifications"
          className="fixed bottom-4 left-16 z-40 w-80 max-w-[calc(100vw-5rem)] rounded-lg border border-slate-200 bg-white text-slate-800 shadow-xl sm:left-52"
        >
          <div className="flex items-center justify-between gap-2 border-b border-slate-200 px-3 py-2">
            <h2 className="shrink-0 text-sm font-semibold">Notifications</h2>
            <button
              type="button"
              disabled={unread === 0 || readAll.isPending}
              onClick={() => readAll.mutate()}
              className="min-w-0 rounded px-1 text-right text-xs text-sky-800 underline-offset-2 hover:underline disabled:text-slate-500 disabled:no-underline"
            >
              Tout marquer comme lu
            </button>
          </div>
          {!data || data.items.length === 0 ? (
            <p className="px-3 py-4 text-sm text-slate-600">Aucune notification.</p>
          ) : (
            <ul className="max-h-96 divide-y divide-slate-100 overflow-y-auto" data-testid="notification-list">
              {data.items.map((n) => (
                <li key={n.id} className={n.read_at ? "" : "bg-sky-50"}>
                  <Link
                    to={`/leads/${n.lead_id}`}
                    data-notification-id={n.id}
                    onClick={() => {
                      if (!n.read_at) read.mutate(n.id);
                      setOpen(false);
                    }}
                    className="block px-3 py-2 text-sm hover:bg-slate-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-inset focus-visible:ring-brand-400"
                  >
                    <span className={n.read_at ? "text-slate-700" : "font-medium text-slate-900"}>{notificationText(n)}</span>
                    {n.kind === "mentioned" && typeof (n.data as Record<string, unknown>)?.excerpt === "string" && (
                      <span className="mt-0.5 block truncate text-xs text-slate-600">
                        « {String((n.data as Record<string, unknown>).excerpt)} »
                      </span>
                    )}
                    <span className="mt-0.5 block text-xs text-slate-600">
                      {dateTime(n.created_at)}
                      {!n.read_at && <span className="sr-only"> (non lue)</span>}
                    </span>
                  </Link>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </div>
  );
}
