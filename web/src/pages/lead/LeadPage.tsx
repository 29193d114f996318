// Lead detail: site map, enrichment by section, score, status actions, comments, documents, history.
import { useState } from "react";
import { Link, useParams } from "react-router-dom";
import toast from "react-hot-toast";
import { ArrowLeft, FileDown, RefreshCw } from "lucide-react";
import { useAuth } from "../../api/auth";
import { downloadFile } from "../../api/client";
import { useAssign, useEnrich, useGeneratePdf, useLead, useTransition } from "../../api/leads";
import { useUsers } from "../../api/reference";
import type { Geometry, LeadStatus } from "../../api/types";
import ReasonDialog from "../../components/ReasonDialog";
import { Button, ErrorState, Loading, PageHeader, StatusBadge, errorMessage } from "../../components/ui";
import { date, surface } from "../../lib/format";
import { outdatedReasons } from "./outdated";
import { STATUS_BADGE, STATUS_LABEL } from "../../lib/status";
import Comments from "./Comments";
import Documents from "./Documents";
import ExportMenu from "./ExportMenu";
import LeadMap from "./LeadMap";
import ScoreCard from "./ScoreCard";
import {
  EconomicsSection,
  EnvironmentSection,
  GridSection,
  LandSection,
  SunSection,
  UrbanismSection,
} from "./Sections";
import Timeline from "./Timeline";

type Rec = Record<string, unknown> | null | undefined;

/** Progress shown while the server enriches (one request; the steps run concurrently there). */
function EnrichProgress() {
  return (
    <div className="flex items-center gap-2 text-xs text-slate-600" role="status">
      <div className="h-1.5 w-40 overflow-hidden rounded bg-slate-200">
        <div className="h-1.5 w-1/3 animate-[progress_1.2s_ease-in-out_infinite] rounded bg-sky-500" />
      </div>
      Ensoleillement PVGIS, zones, réseau, urbanisme…
    </div>
  );
}

/** The lead detail page. */
export default function LeadPage() {
  const id = Number(useParams().id);
  const { user, hasRole } = useAuth();
  const { data: lead, isLoading, error, refetch } = useLead(id);
  const enrich = useEnrich();
  const transition = useTransition();
  const pdf = useGeneratePdf(id);
  const [rejecting, setRejecting] = useState<LeadStatus | null>(null);
  const isStaff = hasRole("ADMIN", "MANAGER");
  const users = useUsers({}, isStaff);
  const assign = useAssign();

  if (isLoading) return <Loading />;
  if (error || !lead) return <ErrorState error={error ?? new Error("Lead introuvable")} retry={refetch} />;

  const allowed = (lead.allowed_transitions ?? []) as LeadStatus[];
  const outdated = outdatedReasons(lead.enrichment_outdated);
  const canWork = hasRole("ADMIN", "MANAGER", "OPS");

  function move(status: LeadStatus, reason?: string) {
    if (status === "REJECTED" && !reason) {
      setRejecting(status);
      return;
    }
    transition.mutate(
      { id, status, reason },
      {
        onSuccess: () => toast.success(`Statut : ${STATUS_LABEL[status]}`),
        onError: (err) => toast.error(`Refusé : ${errorMessage(err)}`),
      },
    );
  }

  return (
    <div className="flex flex-col">
      <PageHeader title={lead.name || lead.internal_name}>
        <Link to="/pipeline" className="flex items-center gap-1 text-sm text-slate-500 hover:underline">
          <ArrowLeft className="h-4 w-4" aria-hidden /> Pipeline
        </Link>
      </PageHeader>
      <div className="flex flex-wrap items-center gap-3 border-b border-slate-200 bg-white px-6 py-3 text-sm">
        <StatusBadge status={lead.status as LeadStatus} />
        <span className="text-slate-600">{lead.internal_name}</span>
        <span className="text-slate-600">
          {lead.commune_name ?? lead.commune_insee ?? "—"}
          {lead.department ? ` (${lead.department})` : ""}
        </span>
        <span className="text-slate-600">{surface(lead.area_m2)}</span>
        {isStaff ? (
          <label className="flex items-center gap-1 text-slate-600">
            Responsable :
            <select
              aria-label="Responsable du lead"
              value={lead.assignee_id ?? ""}
              disabled={assign.isPending}
              onChange={(e) =>
                assign.mutate(
                  { id, assignee_id: e.target.value ? Number(e.target.value) : null },
                  {
                    onSuccess: () => toast.success("Lead réassigné"),
                    onError: (err) => toast.error(`Réassignation refusée : ${errorMessage(err)}`),
                  },
                )
              }
              className="rounded border border-slate-300 px-1 py-0.5 text-sm"
            >
              <option value="">Non assigné</option>
              {users.data?.items
                .filter((u) => u.is_active && u.role !== "COMMERCIAL")
                .map((u) => (
                  <option key={u.id} value={u.id}>
                    {u.full_name || u.email}
                  </option>
                ))}
            </select>
          </label>
        ) : (
          <span className="text-slate-600">Responsable : {lead.assignee_name ?? "non assigné"}</span>
        )}
        <span className="text-slate-500">créé le {date(lead.created_at)}</span>
        {outdated.length > 0 && (
          <span
            className="rounded bg-amber-100 px-1.5 py-0.5 text-xs text-amber-800"
            data-testid="enrichment-outdated"
            title={outdated.join(" ; ")}
          >
            Enrichissement à refaire : {outdated.join(" ; ")}
          </span>
        )}
        <div className="ml-auto flex flex-wrap items-center gap-2">
          {canWork && (
            <Button variant="secondary" busy={enrich.isPending} onClick={() =>
              enrich.mutate(id, {
                onSuccess: (r) =>
                  toast.success(
                    r && (r as { partial?: boolean }).partial
                      ? "Enrichissement partiel : certaines sources n'ont pas répondu"
                      : "Enrichissement terminé",
                  ),
                onError: (err) => toast.error(`Enrichissement impossible : ${errorMessage(err)}`),
              })
            }>
              <RefreshCw className="h-4 w-4" aria-hidden /> Enrichir
            </Button>
          )}
          {hasRole("ADMIN", "MANAGER", "OPS", "COMMERCIAL") && (
            <Button variant="secondary" busy={pdf.isPending} onClick={() =>
              pdf.mutate(undefined, {
                onSuccess: (out) => {
                  toast.success(
                    `Dossier PDF généré (synthèse ${out.summary_source === "openai" ? "IA" : "modèle"})`,
                  );
                  downloadFile(out.download_url, `${lead.internal_name}.pdf`).catch(() => undefined);
                },
                onError: (err) => toast.error(`PDF impossible : ${errorMessage(err)}`),
              })
            }>
              <FileDown className="h-4 w-4" aria-hidden /> Générer PDF
            </Button>
          )}
          <ExportMenu leadId={id} name={lead.internal_name} />
        </div>
      </div>
      {enrich.isPending && (
        <div className="border-b bg-sky-50 px-6 py-2">
          <EnrichProgress />
        </div>
      )}
      {lead.status === "REJECTED" && lead.rejection_reason && (
        <p className="border-b border-rose-200 bg-rose-50 px-6 py-2 text-sm text-rose-800" data-testid="rejection-reason">
          <span className="font-medium">Motif du rejet :</span> {lead.rejection_reason}
        </p>
      )}
      {allowed.length > 0 && (
        <div className="flex flex-wrap items-center gap-2 border-b border-slate-200 bg-slate-50 px-6 py-2 text-sm" aria-label="Actions de statut">
          <span className="text-slate-600">{lead.status === "REJECTED" ? "Rouvrir ou archiver :" : "Passer à :"}</span>
          {allowed.map((s) => (
            <button
              key={s}
              type="button"
              disabled={transition.isPending}
              onClick={() => move(s)}
              className="rounded-full border px-3 py-0.5 text-xs font-medium hover:bg-white focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-400"
              style={{ borderColor: STATUS_BADGE[s], color: STATUS_BADGE[s] }}
              data-transition={s}
            >
              {STATUS_LABEL[s]}
            </button>
          ))}
        </div>
      )}
      <div className="grid gap-4 p-4 xl:grid-cols-[minmax(0,3fr)_minmax(0,2fr)]">
        <div className="space-y-4">
          <LeadMap geometry={lead.geometry as Geometry | null | undefined} />
          <SunSection technical={lead.technical as Rec} />
          <div className="grid gap-4 lg:grid-cols-2">
            <EnvironmentSection regulatory={lead.regulatory as Rec} />
            <GridSection network={lead.network as Rec} />
            <UrbanismSection regulatory={lead.regulatory as Rec} />
            <LandSection foncier={lead.foncier as Rec} />
          </div>
          <EconomicsSection economic={lead.economic as Rec} />
        </div>
        <div className="space-y-4">
          <ScoreCard score={lead.quality_score} completeness={lead.completeness} breakdown={lead.score_breakdown as Rec} />
          <Documents leadId={id} canWrite={canWork || user?.role === "COMMERCIAL"} />
          <Comments leadId={id} />
          <Timeline leadId={id} />
        </div>
      </div>
      {rejecting && (
        <ReasonDialog
          title="Rejeter ce lead"
          onCancel={() => setRejecting(null)}
          onConfirm={(reason) => {
            move(rejecting, reason);
            setRejecting(null);
          }}
        />
      )}
    </div>
  );
}
