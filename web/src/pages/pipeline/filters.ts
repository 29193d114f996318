// The pipeline's filters live in the URL's query string (reload, share, Back/Forward).
import { useEffect, useState } from "react";

/** A complete département code: 2 digits, 2A/2B, or 97x overseas. */
export const DEPARTMENT = /^(\d{2}|2A|2B|97\d)$/;

/** The query string with one filter set (or removed when empty). */
export function filterHref(params: URLSearchParams, key: string, value: string): URLSearchParams {
  const next = new URLSearchParams(params);
  if (value) next.set(key, value);
  else next.delete(key);
  return next;
}

const NARROW = "(max-width: 767px)";

/** Whether the screen is phone-sized (the pipeline then shows a list, the menu collapses). */
export function useNarrow(): boolean {
  const media = () => (typeof window !== "undefined" && window.matchMedia ? window.matchMedia(NARROW) : null);
  const [narrow, setNarrow] = useState(() => media()?.matches ?? false);
  useEffect(() => {
    const query = media();
    if (!query) return;
    const on = () => setNarrow(query.matches);
    query.addEventListener("change", on);
    return () => query.removeEventListener("change", on);
  }, []);
  return narrow;
}
