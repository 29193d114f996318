// An accessible modal dialog: the first field gets the focus (not "Fermer"), Tab and Shift+Tab
// stay inside the dialog, Escape closes it, and the focus goes back where it was.
import { useEffect, useId, useRef } from "react";
import type { ReactNode } from "react";
import { X } from "lucide-react";

const FIELDS = "input:not([disabled]), textarea:not([disabled]), select:not([disabled])";
const FOCUSABLE = `${FIELDS}, button:not([disabled]), a[href], [tabindex]:not([tabindex="-1"])`;

/** A centered dialog over a dimmed page. */
export default function Modal({
  title,
  onClose,
  children,
}: {
  title: string;
  onClose: () => void;
  children: ReactNode;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const titleId = useId();
  const close = useRef(onClose);
  close.current = onClose;
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    const root = ref.current;
    const body = root?.querySelector<HTMLElement>("[data-modal-body]");
    const first =
      body?.querySelector<HTMLElement>(FIELDS) ?? body?.querySelector<HTMLElement>(FOCUSABLE) ?? root;
    first?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        e.stopPropagation();
        close.current();
        return;
      }
      if (e.key !== "Tab" || !root) return;
      const items = [...root.querySelectorAll<HTMLElement>(FOCUSABLE)];
      if (items.length === 0) return;
      const last = items[items.length - 1];
      const active = document.activeElement;
      if (e.shiftKey && (active === items[0] || !root.contains(active))) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && (active === last || !root.contains(active))) {
        e.preventDefault();
        items[0].focus();
      }
    };
    document.addEventListener("keydown", onKey, true);
    return () => {
      document.removeEventListener("keydown", onKey, true);
      if (before && document.contains(before)) before.focus();
    };
  }, []);
  return (
    <div className="fixed inset-0 z-50 flex items-center justify-center bg-slate-900/40 p-4" onMouseDown={onClose}>
      <div
        ref={ref}
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        tabIndex={-1}
        className="max-h-full w-full max-w-md overflow-auto rounded-lg bg-white shadow-xl focus:outline-none"
        onMouseDown={(e) => e.stopPropagation()}
      >
        <header className="flex items-center justify-between border-b px-4 py-3">
          <h2 id={titleId} className="font-semibold">
            {title}
          </h2>
          <button type="button" onClick={onClose} aria-label="Fermer" className="rounded p-1 hover:bg-slate-100">
            <X className="h-4 w-4" aria-hidden />
          </button>
        </header>
        <div className="p-4" data-modal-body>
          {children}
        </div>
      </div>
    </div>
  );
}
