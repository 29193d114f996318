// A comment box that completes @mentions: typing "@" then the start of a name or an e-mail
// lists the people who may see the lead; ↑/↓ and Entrée (or a click) insert "@Prénom Nom".
import { useId, useRef, useState } from "react";
import type { MentionCandidate } from "../api/team";

/** The @ being typed just before the caret: its position and the text after it. */
export function mentionQuery(text: string, caret: number): { at: number; query: string } | null {
  const before = text.slice(0, caret);
  const at = before.lastIndexOf("@");
  if (at < 0) return null;
  if (at > 0 && !/\s|[(,;]/.test(before[at - 1])) return null; // an e-mail address being typed
  const query = before.slice(at + 1);
  // A first name and the start of a last name at most ("@Jean Du"), no line break.
  if (query.length > 60 || /\n/.test(query) || (query.match(/ /g) ?? []).length > 1) return null;
  return { at, query };
}

/** The candidates a query matches: the start of a word of the name, or of the e-mail. */
export function matchCandidates(people: MentionCandidate[], query: string): MentionCandidate[] {
  const q = query.trim().toLocaleLowerCase("fr-FR");
  if (!q) return people.slice(0, 8);
  return people
    .filter((p) => {
      const name = p.full_name.toLocaleLowerCase("fr-FR");
      return name.startsWith(q) || name.split(/\s+/).some((w) => w.startsWith(q)) || p.email.toLowerCase().startsWith(q);
    })
    .slice(0, 8);
}

/** The textarea with its suggestion list. */
export default function MentionBox({
  value,
  onChange,
  people,
  onWantPeople,
  label,
  placeholder,
}: {
  value: string;
  onChange: (value: string) => void;
  people: MentionCandidate[];
  /** Called when an @ is typed (load the candidates then). */
  onWantPeople?: () => void;
  label: string;
  placeholder?: string;
}) {
  const ref = useRef<HTMLTextAreaElement>(null);
  const listId = useId();
  const [caret, setCaret] = useState(0);
  const [active, setActive] = useState(0);
  const [dismissed, setDismissed] = useState<number | null>(null);
  const mention = mentionQuery(value, caret);
  const matches = mention ? matchCandidates(people, mention.query) : [];
  const open = mention !== null && dismissed !== mention.at && matches.length > 0;
  const current = open ? Math.min(active, matches.length - 1) : -1;

  function pick(person: MentionCandidate) {
    if (!mention) return;
    const inserted = `@${person.full_name || person.email} `;
    const next = value.slice(0, mention.at) + inserted + value.slice(caret);
    const pos = mention.at + inserted.length;
    onChange(next);
    setCaret(pos);
    setActive(0);
    requestAnimationFrame(() => {
      ref.current?.focus();
      ref.current?.setSelectionRange(pos, pos);
    });
  }

  return (
    <div className="relative flex-1">
      <textarea
        ref={ref}
        aria-label={label}
        placeholder={placeholder}
        rows={2}
        value={value}
        // A multi-line textbox that suggests (ARIA allows no combobox role on a textarea): the
        // suggestions are its list, the highlighted one its active descendant.
        aria-autocomplete="list"
        aria-controls={listId}
        aria-activedescendant={open ? `${listId}-${current}` : undefined}
        onChange={(e) => {
          onChange(e.target.value);
          setCaret(e.target.selectionStart ?? e.target.value.length);
          setActive(0);
          if (e.target.value.includes("@")) onWantPeople?.();
        }}
        onSelect={(e) => setCaret((e.target as HTMLTextAreaElement).selectionStart ?? 0)}
        onKeyDown={(e) => {
          if (!open) return;
          if (e.key === "ArrowDown" || e.key === "ArrowUp") {
            e.preventDefault();
            const step = e.key === "ArrowDown" ? 1 : -1;
            setActive((current + step + matches.length) % matches.length);
          } else if (e.key === "Enter" || e.key === "Tab") {
            e.preventDefault();
            pick(matches[current]);
          } else if (e.key === "Escape") {
            e.preventDefault();
            setDismissed(mention?.at ?? null);
          }
        }}
        className="w-full rounded-md border border-slate-300 px-2 py-1 text-sm"
      />
      <ul
        id={listId}
        role="listbox"
        aria-label="Personnes à mentionner"
        hidden={!open}
        className="absolute left-0 top-full z-30 mt-1 max-h-56 w-72 overflow-y-auto rounded-md border border-slate-200 bg-white py-1 text-sm shadow-lg"
      >
        {open &&
          matches.map((p, i) => (
            <li
              key={p.id}
              id={`${listId}-${i}`}
              role="option"
              aria-selected={i === current}
              onMouseDown={(e) => {
                e.preventDefault(); // keep the focus in the textarea
                pick(p);
              }}
              onMouseEnter={() => setActive(i)}
              className={`cursor-pointer px-3 py-1.5 ${i === current ? "bg-sky-100 text-slate-900" : "text-slate-800"}`}
            >
              <span className="font-medium">{p.full_name || p.email}</span>
              <span className="ml-2 text-xs text-slate-600">{p.email}</span>
            </li>
          ))}
      </ul>
    </div>
  );
}
