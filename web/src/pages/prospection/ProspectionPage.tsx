// "Prospection": scan a territory for candidate solar sites (the site finder, issue 17) and turn the
// best into leads. Territory + criteria (the server's defaults) → run (progress) → the sites on the
// map and in a sortable table, a site's card, multi-select and "Créer les leads", exports, history.
import { useEffect, useMemo, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Download, Play, Plus, Square } from "lucide-react";
import { useAuth } from "../../api/auth";
import { api, downloadFile } from "../../api/client";
import { useUsers } from "../../api/reference";
import {
  cancelRun,
  createSearch,
  leadsFromSites,
  runUrl,
  siteSearchKeys,
  startRun,
  updateSearch,
  useOpenApi,
  useRun,
  useSearchDefaults,
  useSites,
} from "../../api/siteSearches";
import type { Run, SiteSearch, Territory } from "../../api/siteSearches";
import { Button, Empty, ErrorState, Loading, PageHeader, errorMessage } from "../../components/ui";
import { num } from "../../lib/format";
import CriteriaForm from "./CriteriaForm";
import History from "./History";
import {
  COUNT_LABEL,
  RUN_STATUS_LABEL,
  cancelPath,
  criteriaFromForm,
  defaultSearchName,
  exportLinks,
  firstDir,
  formFromCriteria,
  isActive,
  leadsOutcome,
  mainReasons,
  polygonOf,
  progressOf,
  sameCriteria,
  sitesGeoJSON,
  sortSites,
  territoryLabel,
} from "./logic";
import type { CriteriaForm as Form, FormErrors, LeadsOutcome, SortDir, SortKey } from "./logic";
import ProspectionMap from "./ProspectionMap";
import SiteCard from "./SiteCard";
import SitesTable from "./SitesTable";
import TerritoryPicker from "./TerritoryPicker";

interface WebConfig {
  mapbox_token?: string | null;
}

/** The page: waits for the defaults (and the web config's optional Mapbox token). */
export default function ProspectionPage() {
  const defaults = useSearchDefaults();
  const config = useQuery({
    queryKey: ["web-config"],
    queryFn: () => api<WebConfig>("/api/web/config"),
    staleTime: Infinity,
    retry: false,
  });
  if (defaults.isLoading || config.isLoading) return <Loading label="Chargement de la prospection…" />;
  if (defaults.error || !defaults.data) return <ErrorState error={defaults.error} retry={() => void defaults.refetch()} />;
  return <Prospection defaults={defaults.data} mapboxToken={config.data?.mapbox_token ?? null} />;
}

function Prospection({
  defaults,
  mapboxToken,
}: {
  defaults: NonNullable<ReturnType<typeof useSearchDefaults>["data"]>;
  mapboxToken: string | null;
}) {
  const qc = useQueryClient();
  const { hasRole, user } = useAuth();
  const manager = hasRole("ADMIN", "MANAGER");
  const users = useUsers({}, manager);
  const [assignee, setAssignee] = useState("");
  const fresh = () => formFromCriteria(defaults.criteria, defaults.zone_types);
  const [search, setSearch] = useState<SiteSearch | null>(null);
  const [name, setName] = useState("");
  const [territory, setTerritory] = useState<Territory>({});
  const [names, setNames] = useState<Record<string, string>>({});
  const [form, setForm] = useState<Form>(fresh);
  const [errors, setErrors] = useState<FormErrors>({});
  const [drawing, setDrawing] = useState(false);
  const [drawPoints, setDrawPoints] = useState<[number, number][]>([]);
  const [flyTo, setFlyTo] = useState<[number, number, number, number] | null>(null);
  const [run, setRun] = useState<{ searchId: number; runId: number | null; url: string } | null>(null);
  const [starting, setStarting] = useState(false);
  const [startError, setStartError] = useState<unknown>(null);
  const [sort, setSort] = useState<{ key: SortKey; dir: SortDir }>({ key: "rank", dir: "asc" });
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [focused, setFocused] = useState<number | null>(null);
  const [creating, setCreating] = useState(false);
  const [outcome, setOutcome] = useState<LeadsOutcome | null>(null);
  const cardRef = useRef<HTMLDivElement>(null);
  const statusRef = useRef<HTMLDivElement>(null);

  const runQuery = useRun(run?.url ?? null, (r) => r === undefined || isActive(r));
  const current: Run | undefined = runQuery.data;
  const finished = current && !isActive(current);
  const sitesQuery = useSites(current?.search_id ?? null, current?.id ?? null, !!finished && current?.status === "succeeded");
  const sites = useMemo(() => sitesQuery.data?.items ?? [], [sitesQuery.data]);
  const sorted = useMemo(() => sortSites(sites, sort.key, sort.dir), [sites, sort]);
  const focusedSite = sites.find((s) => s.rank === focused) ?? null;
  const doc = useOpenApi().data;
  const exports = current?.status === "succeeded" ? exportLinks(doc, current.search_id, current.id) : [];
  const cancel = current && isActive(current) ? cancelPath(doc, current.search_id, current.id) : null;

  // A finished run refreshes the history (its runs and counts).
  useEffect(() => {
    if (finished) void qc.invalidateQueries({ queryKey: siteSearchKeys.runs(current!.search_id) });
  }, [finished, current, qc]);

  function reset() {
    setSearch(null);
    setName("");
    setTerritory({});
    setForm(fresh());
    setErrors({});
    setRun(null);
    setSelected(new Set());
    setFocused(null);
    setOutcome(null);
    setStartError(null);
  }

  /** Open a saved search: its run `runId`, or its latest. */
  function openSearch(s: SiteSearch, runId?: number) {
    setSearch(s);
    setName(s.name);
    setTerritory(s.territory);
    setForm(formFromCriteria(s.criteria, defaults.zone_types, defaults.criteria));
    setErrors({});
    setRun(null);
    setSelected(new Set());
    setFocused(null);
    setOutcome(null);
    setStartError(null);
    if (runId) {
      setRun({ searchId: s.id, runId, url: runUrl(s.id, runId) });
      return;
    }
    void qc.fetchQuery({ queryKey: siteSearchKeys.runs(s.id), queryFn: () => api<Run[]>(`/api/site-searches/${s.id}/runs`) })
      .then((runs) => {
        if (runs.length) setRun({ searchId: s.id, runId: runs[0].id, url: runUrl(s.id, runs[0].id) });
      })
      .catch(() => undefined);
  }

  function openRun(searchId: number, runId: number) {
    setRun({ searchId, runId, url: runUrl(searchId, runId) });
    setSelected(new Set());
    setFocused(null);
    setOutcome(null);
  }

  // The open search and run are in the URL (?search=3&run=11): a reload or a shared link opens
  // them again. setSearchParams changes identity with the URL: read through a ref.
  const [params, setParams] = useSearchParams();
  const setParamsRef = useRef(setParams);
  setParamsRef.current = setParams;
  const restored = useRef(false);
  useEffect(() => {
    if (restored.current) return;
    restored.current = true;
    const sid = Number(params.get("search"));
    const rid = Number(params.get("run"));
    if (!Number.isInteger(sid) || sid < 1) return;
    api<SiteSearch>(`/api/site-searches/${sid}`)
      .then((s) => openSearch(s, Number.isInteger(rid) && rid > 0 ? rid : undefined))
      .catch((err) => setStartError(err));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  const shownRun = current?.id ?? run?.runId ?? null;
  useEffect(() => {
    if (!restored.current) return;
    const next = new URLSearchParams();
    if (search) next.set("search", String(search.id));
    if (search && shownRun && run?.searchId === search.id) next.set("run", String(shownRun));
    if (next.toString() !== window.location.search.slice(1)) setParamsRef.current(next, { replace: true });
  }, [search, shownRun, run?.searchId]);

  const hasTerritory = !!(territory.communes?.length || territory.departements?.length || territory.polygon);

  async function launch() {
    const { criteria, errors: errs } = criteriaFromForm(form);
    setErrors(errs);
    setStartError(null);
    if (Object.keys(errs).length) {
      statusRef.current?.focus();
      return;
    }
    if (!hasTerritory) {
      setStartError(new Error("Choisir un territoire : une commune, un département ou un polygone dessiné."));
      statusRef.current?.focus();
      return;
    }
    setStarting(true);
    setRun(null); // the previous run's figures go: they are not this run's
    setOutcome(null);
    setSelected(new Set());
    setFocused(null);
    try {
      const wanted = name.trim() || defaultSearchName(territory, names);
      let s = search;
      if (!s) s = await createSearch({ name: wanted, territory, criteria });
      else if (
        s.name !== wanted ||
        JSON.stringify(s.territory) !== JSON.stringify(territory) ||
        !sameCriteria(s.criteria, criteria)
      )
        s = await updateSearch(s.id, { name: wanted, territory, criteria });
      setSearch(s);
      setName(s.name);
      void qc.invalidateQueries({ queryKey: siteSearchKeys.list() });
      const started = await startRun(s.id);
      if (!started.url) throw new Error("Le serveur n'a pas donné l'adresse de l'exécution.");
      // A synchronous answer is the finished run: no need to ask again.
      if (started.run) qc.setQueryData(siteSearchKeys.run(started.url), started.run);
      setRun({ searchId: s.id, runId: started.run?.id ?? null, url: started.url });
      void qc.invalidateQueries({ queryKey: siteSearchKeys.runs(s.id) });
    } catch (err) {
      setStartError(err);
    } finally {
      setStarting(false);
      statusRef.current?.focus();
    }
  }

  async function stop() {
    if (!cancel || !run) return;
    try {
      await cancelRun(cancel);
      void qc.invalidateQueries({ queryKey: siteSearchKeys.run(run.url) });
    } catch (err) {
      setStartError(err);
    }
  }

  async function createLeads() {
    if (!current || selected.size === 0) return;
    setCreating(true);
    const ranks = [...selected].sort((a, b) => a - b);
    try {
      const answer = await leadsFromSites(current.search_id, current.id, ranks, assignee ? Number(assignee) : null);
      setOutcome(leadsOutcome(answer));
      setSelected(new Set());
    } catch (err) {
      setOutcome(leadsOutcome(null, err));
    } finally {
      setCreating(false);
      void qc.invalidateQueries({ queryKey: siteSearchKeys.sites(current.search_id, current.id) });
      void qc.invalidateQueries({ queryKey: ["leads"] });
    }
  }

  function focusSite(rank: number) {
    setFocused(rank);
    setTimeout(() => cardRef.current?.querySelector("h2")?.scrollIntoView?.({ block: "nearest" }), 0);
  }

  function toggle(rank: number) {
    const site = sites.find((s) => s.rank === rank);
    if (!site || site.lead_id != null) return;
    setSelected((prev) => {
      const next = new Set(prev);
      if (next.has(rank)) next.delete(rank);
      else if (next.size < defaults.max_ranks) next.add(rank);
      return next;
    });
  }

  function downloadGeoJSON() {
    const blob = new Blob([JSON.stringify(sitesGeoJSON(sites))], { type: "application/geo+json" });
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = `recherche-${current?.search_id}-execution-${current?.id}.geojson`;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  const progress = progressOf(current);
  const busy = starting || (!!current && isActive(current));
  const counts = current?.counts ?? null;

  return (
    <div className="flex min-h-full flex-col bg-slate-50">
      <PageHeader title="Prospection">
        <Button variant="secondary" onClick={reset}>
          <Plus className="h-4 w-4" aria-hidden /> Nouvelle recherche
        </Button>
      </PageHeader>
      <div className="grid flex-1 grid-cols-1 gap-3 p-3 lg:grid-cols-[20rem_minmax(0,1fr)]">
        <aside className="min-w-0 space-y-3" aria-label="Recherche">
          <History
            searchId={search?.id ?? null}
            runId={current?.id ?? null}
            onOpenSearch={openSearch}
            onOpenRun={openRun}
            ownerOf={(id) => {
              if (!manager || id == null || id === user?.id) return null;
              const u = users.data?.items.find((x) => x.id === id);
              return u ? u.full_name || u.email : `utilisateur n° ${id}`;
            }}
          />
          <form
            className="space-y-3 rounded-md border border-slate-200 bg-white p-3"
            onSubmit={(e) => {
              e.preventDefault();
              void launch();
            }}
            aria-label="Critères de la recherche"
          >
            <div>
              <label htmlFor="search-name" className="mb-0.5 block text-xs text-slate-600">
                Nom de la recherche
              </label>
              <input
                id="search-name"
                type="text"
                maxLength={200}
                value={name}
                placeholder={hasTerritory ? defaultSearchName(territory, names) : "donné par le territoire"}
                onChange={(e) => setName(e.target.value)}
                className="w-full rounded-md border border-slate-300 px-2.5 py-1.5 text-sm focus:border-sky-500 focus:outline-none focus:ring-1 focus:ring-sky-500"
              />
              {search && <p className="mt-0.5 text-[11px] text-slate-500">Recherche n° {search.id} : relancer l'enregistre avec ces critères.</p>}
            </div>
            <TerritoryPicker
              territory={territory}
              names={names}
              onChange={(t, more) => {
                setTerritory(t);
                if (more) setNames((n) => ({ ...n, ...more }));
              }}
              onFly={setFlyTo}
              drawing={drawing}
              drawCount={drawPoints.length}
              onStartDrawing={() => {
                setDrawPoints([]);
                setDrawing(true);
                document.querySelector<HTMLElement>("[data-testid=prospection-map]")?.focus();
              }}
              onFinishDrawing={() => {
                const polygon = polygonOf(drawPoints);
                if (polygon) setTerritory({ polygon });
                setDrawing(false);
                setDrawPoints([]);
              }}
              onCancelDrawing={() => {
                setDrawing(false);
                setDrawPoints([]);
              }}
              maxCommunes={defaults.max_communes}
              maxDepartements={defaults.max_departements}
            />
            <CriteriaForm form={form} onChange={setForm} errors={errors} pluTypes={defaults.plu_types} />
            <div className="flex flex-wrap items-center gap-2 border-t border-slate-100 pt-3">
              <Button type="submit" busy={busy} disabled={drawing}>
                <Play className="h-4 w-4" aria-hidden /> Lancer la recherche
              </Button>
              <Button variant="ghost" onClick={() => setForm(fresh())}>
                Critères par défaut
              </Button>
            </div>
          </form>
        </aside>

        <section className="min-w-0 space-y-3" aria-label="Résultats">
          <div
            ref={statusRef}
            tabIndex={-1}
            aria-live="polite"
            className="space-y-2 rounded-md border border-slate-200 bg-white p-3 text-sm focus:outline-none"
            data-testid="run-status"
          >
            {Object.keys(errors).length > 0 && (
              <p role="alert" className="text-red-700">
                Des critères sont à corriger (voir le formulaire).
              </p>
            )}
            {startError != null && (
              <p role="alert" className="text-red-700">
                {errorMessage(startError)}
              </p>
            )}
            {!run && !starting && startError == null && (
              <p className="text-slate-600">
                Choisir un territoire, ajuster les critères (valeurs par défaut du serveur) puis « Lancer la recherche ».
              </p>
            )}
            {(busy || current) && (
              <RunProgress
                busy={busy}
                percent={busy ? progress.percent : 100}
                label={
                  starting && !current
                    ? "Recherche en cours…"
                    : current
                      ? `Exécution n° ${current.id} : ${RUN_STATUS_LABEL[current.status] ?? current.status}`
                      : ""
                }
                parcels={progress.parcels}
                sitesFound={progress.sites}
              />
            )}
            {cancel && (
              <Button variant="secondary" onClick={() => void stop()}>
                <Square className="h-3.5 w-3.5" aria-hidden /> Annuler l'exécution
              </Button>
            )}
            {runQuery.error != null && <p role="alert" className="text-red-700">{errorMessage(runQuery.error)}</p>}
            {current && finished && (
              <RunSummary run={current} counts={counts} />
            )}
          </div>

          {current?.status === "succeeded" && (
            <>
              {sitesQuery.isLoading && <Loading label="Chargement des sites…" />}
              {sitesQuery.error != null && <ErrorState error={sitesQuery.error} retry={() => void sitesQuery.refetch()} />}
            </>
          )}

          <div className="grid grid-cols-1 gap-3 xl:grid-cols-[minmax(0,4fr)_minmax(0,7fr)]">
            <ProspectionMap
              sites={sites}
              selected={selected}
              focused={focused}
              onFocus={focusSite}
              onToggle={toggle}
              drawing={drawing}
              drawPoints={drawPoints}
              onAddPoint={(p) => setDrawPoints((pts) => [...pts, p])}
              onUndoPoint={() => setDrawPoints((pts) => pts.slice(0, -1))}
              onFinishDrawing={() => {
                const polygon = polygonOf(drawPoints);
                if (polygon) setTerritory({ polygon });
                setDrawing(false);
                setDrawPoints([]);
              }}
              onCancelDrawing={() => {
                setDrawing(false);
                setDrawPoints([]);
              }}
              polygon={territory.polygon ?? null}
              flyTo={flyTo}
              mapboxToken={mapboxToken}
            />
            <div className="min-w-0 rounded-md border border-slate-200 bg-white">
              <div className="flex flex-wrap items-center justify-between gap-2 border-b border-slate-100 px-3 py-2">
                <h2 className="text-sm font-semibold">
                  Sites candidats{sitesQuery.data ? ` (${num(sitesQuery.data.total)})` : ""}
                </h2>
                <div className="flex flex-wrap items-center gap-2">
                  <span className="text-xs text-slate-500" aria-live="polite">
                    {num(selected.size)} sélectionné{selected.size > 1 ? "s" : ""}
                  </span>
                  {manager && (
                    <label className="flex items-center gap-1 text-xs text-slate-600">
                      Responsable
                      <select
                        value={assignee}
                        onChange={(e) => setAssignee(e.target.value)}
                        className="rounded border border-slate-300 px-1 py-1 text-xs focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-400"
                      >
                        <option value="">moi</option>
                        {(users.data?.items ?? [])
                          .filter((u) => u.is_active && u.role !== "COMMERCIAL")
                          .map((u) => (
                            <option key={u.id} value={u.id}>
                              {u.full_name || u.email}
                            </option>
                          ))}
                      </select>
                    </label>
                  )}
                  <Button onClick={() => void createLeads()} disabled={selected.size === 0} busy={creating}>
                    Créer les leads
                  </Button>
                </div>
              </div>
              {current?.status === "succeeded" && sitesQuery.data && sites.length === 0 ? (
                <Empty
                  title="Aucun site ne passe ces critères"
                  hint="Ce qui a écarté les parcelles et les sites : assouplir un critère et relancer."
                >
                  <ul className="text-left text-xs text-slate-700" data-testid="main-reasons">
                    {mainReasons(counts).map((r) => (
                      <li key={r}>• {r}</li>
                    ))}
                  </ul>
                </Empty>
              ) : sites.length > 0 ? (
                <div className="max-h-[32rem] overflow-y-auto">
                  <SitesTable
                    sites={sorted}
                    sort={sort}
                    onSort={(key) =>
                      setSort((s) => (s.key === key ? { key, dir: s.dir === "asc" ? "desc" : "asc" } : { key, dir: firstDir(key) }))
                    }
                    selected={selected}
                    onToggle={toggle}
                    onToggleAll={(on) =>
                      setSelected(
                        on
                          ? new Set(sorted.filter((s) => s.lead_id == null).slice(0, defaults.max_ranks).map((s) => s.rank))
                          : new Set(),
                      )
                    }
                    focused={focused}
                    onFocus={focusSite}
                  />
                  {sitesQuery.data && sitesQuery.data.total > sites.length && (
                    <p className="px-3 py-2 text-xs text-slate-500">
                      {num(sites.length)} premiers sites affichés sur {num(sitesQuery.data.total)}.
                    </p>
                  )}
                </div>
              ) : (
                <p className="px-3 py-4 text-sm text-slate-500">Les sites de la recherche s'afficheront ici.</p>
              )}
              {sites.length > 0 && (
                <div role="group" className="flex flex-wrap items-center gap-2 border-t border-slate-100 px-3 py-2 text-xs" aria-label="Exports">
                  <span className="text-slate-600">Exporter :</span>
                  {exports.map((x) => (
                    <Button
                      key={x.href}
                      variant="secondary"
                      onClick={() => void downloadFile(x.href, `sites-${current?.id}.${x.format}`).catch((e) => setStartError(e))}
                    >
                      <Download className="h-3.5 w-3.5" aria-hidden /> {x.label}
                    </Button>
                  ))}
                  {!exports.some((x) => x.format === "geojson") && (
                    <Button variant="secondary" onClick={downloadGeoJSON}>
                      <Download className="h-3.5 w-3.5" aria-hidden /> GeoJSON (sites affichés)
                    </Button>
                  )}
                </div>
              )}
            </div>
          </div>

          {outcome && <LeadsResult outcome={outcome} />}

          <div ref={cardRef}>{focusedSite && (
              <SiteCard site={focusedSite} onClose={() => setFocused(null)} scoreCriteria={defaults.score_criteria} />
            )}</div>
        </section>
      </div>
    </div>
  );
}

function RunProgress({
  busy,
  percent,
  label,
  parcels,
  sitesFound,
}: {
  busy: boolean;
  percent: number | null;
  label: string;
  parcels: number | null;
  sitesFound: number | null;
}) {
  return (
    <div>
      <div className="mb-1 flex flex-wrap justify-between gap-2 text-xs text-slate-600">
        <span>{label}</span>
        <span className="tabular-nums">
          {percent != null && `${num(percent)} %`}
          {busy && parcels != null && ` · ${num(parcels)} parcelles examinées`}
          {busy && sitesFound != null && ` · ${num(sitesFound)} sites`}
        </span>
      </div>
      <div
        role="progressbar"
        aria-label="Avancement de la recherche"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent ?? undefined}
        aria-busy={busy}
        className="h-2 overflow-hidden rounded bg-slate-100"
      >
        {percent != null ? (
          <div className="h-2 rounded bg-brand-400 transition-all" style={{ width: `${percent}%` }} />
        ) : (
          <div className="h-2 w-1/3 animate-pulse rounded bg-brand-400" />
        )}
      </div>
    </div>
  );
}

function RunSummary({ run, counts }: { run: Run; counts: Record<string, number> | null }) {
  return (
    <div className="space-y-1">
      {run.status === "failed" && (
        <div role="alert" className="text-red-700">
          <p>L'exécution a échoué : aucun résultat n'est gardé. Réduire le territoire ou relancer.</p>
          {run.error && (
            // The server's reason is technical (and may be in English): there, not as the message.
            <details className="text-xs text-red-800">
              <summary className="cursor-pointer">Détail technique</summary>
              <p className="break-all font-mono">{run.error}</p>
            </details>
          )}
        </div>
      )}
      {(run.status === "cancelled" || run.status === "canceled") && (
        <p className="text-slate-700">Exécution annulée : aucun résultat n'est gardé.</p>
      )}
      <p className="text-xs text-slate-500">
        {territoryLabel(run.territory)}
        {run.finished_at && ` · ${num((Date.parse(run.finished_at) - Date.parse(run.started_at)) / 1000, 1)} s sur le serveur`}
      </p>
      {counts && (
        <ul className="grid grid-cols-1 gap-x-4 text-xs text-slate-700 sm:grid-cols-2" data-testid="run-counts">
          {COUNT_LABEL.filter(([k]) => counts[k] != null).map(([k, label]) => (
            <li key={k}>
              <strong className="tabular-nums">{num(counts[k])}</strong> {label}
            </li>
          ))}
        </ul>
      )}
      {(run.messages ?? []).map((m) => (
        <p key={m} className="rounded bg-amber-50 px-2 py-1 text-xs text-amber-800">
          {m}
        </p>
      ))}
    </div>
  );
}

function LeadsResult({ outcome }: { outcome: LeadsOutcome }) {
  return (
    <section
      aria-label="Résultat de la création des leads"
      aria-live="polite"
      data-testid="leads-result"
      className="rounded-md border border-slate-200 bg-white p-3 text-sm"
    >
      {outcome.refused && (
        <p role="alert" className="mb-1 text-red-700">
          {outcome.refused}
        </p>
      )}
      {outcome.created.length === 0 && !outcome.refused && <p className="font-medium text-amber-800">Aucun lead créé.</p>}
      {outcome.created.length > 0 && (
        <>
          <p className="font-medium text-green-800">
            {num(outcome.created.length)} lead{outcome.created.length > 1 ? "s" : ""} créé{outcome.created.length > 1 ? "s" : ""}
            {outcome.jobId != null && " — enrichissement lancé"}
          </p>
          <ul className="mt-1 list-inside list-disc">
            {outcome.created.map((c) => (
              <li key={c.lead_id}>
                Site n° {c.rank} →{" "}
                <Link to={`/leads/${c.lead_id}`} className="text-sky-700 underline">
                  {c.internal_name}
                </Link>
              </li>
            ))}
          </ul>
        </>
      )}
      {outcome.skipped.length > 0 && (
        <>
          <p className="mt-2 font-medium text-amber-800">
            {num(outcome.skipped.length)} site{outcome.skipped.length > 1 ? "s" : ""} écarté{outcome.skipped.length > 1 ? "s" : ""}
          </p>
          <ul className="mt-1 list-inside list-disc text-amber-900">
            {outcome.skipped.map((s) => (
              <li key={s.rank}>
                Site n° {s.rank} : {s.reason}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
