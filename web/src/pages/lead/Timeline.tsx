// The activity timeline of a lead (who, when, what, before → after).
import { History } from "lucide-react";
import { useActivity } from "../../api/leads";
import type { LeadStatus } from "../../api/types";
import { Card, ErrorState, Loading } from "../../components/ui";
import { dateTime, score } from "../../lib/format";
import { STATUS_LABEL } from "../../lib/status";

const ACTIONS: Record<string, string> = {
  create: "a créé le lead",
  update: "a modifié le lead",
  transition: "a changé le statut",
  assign: "a réassigné le lead",
  enrich: "a enrichi le lead",
  comment_create: "a commenté",
  comment_update: "a modifié un commentaire",
  comment_delete: "a supprimé un commentaire",
  document_uploaded: "a ajouté un document",
  document_deleted: "a supprimé un document",
  dossier_generated: "a généré le dossier PDF",
  foncier_update: "a mis à jour le foncier",
  delete: "a supprimé le lead",
};

function change(before: unknown, after: unknown): string {
  const b = (before ?? {}) as Record<string, unknown>;
  const a = (after ?? {}) as Record<string, unknown>;
  if (typeof a.status === "string") {
    const from = typeof b.status === "string" ? STATUS_LABEL[b.status as LeadStatus] ?? b.status : "";
    const reason = typeof a.reason === "string" && a.reason ? ` — motif : ${a.reason}` : "";
    return `${from ? from + " → " : ""}${STATUS_LABEL[a.status as LeadStatus] ?? a.status}${reason}`;
  }
  if (a.quality_score !== undefined) return `score ${score(a.quality_score as number | null)}`;
  return "";
}

/** The activity card. */
export default function Timeline({ leadId }: { leadId: number }) {
  const { data, isLoading, error, refetch } = useActivity(leadId);
  return (
    <Card title="Historique" icon={<History className="h-4 w-4 text-slate-600" />}>
      {isLoading ? (
        <Loading />
      ) : error ? (
        <ErrorState error={error} retry={refetch} />
      ) : data && data.length > 0 ? (
        <ol className="relative space-y-3 border-l border-slate-200 pl-4 text-sm" data-testid="timeline">
          {data.map((a) => (
            <li key={a.id}>
              <span className="absolute -left-1.5 mt-1.5 h-3 w-3 rounded-full border-2 border-white bg-slate-400" />
              <p>
                <strong>{a.user_name ?? "Système"}</strong> {ACTIONS[a.action] ?? a.action}{" "}
                <span className="text-slate-600">{change(a.before, a.after)}</span>
              </p>
              <p className="text-xs text-slate-500">{dateTime(a.created_at)}</p>
            </li>
          ))}
        </ol>
      ) : (
        <p className="text-sm text-slate-500">Aucune activité.</p>
      )}
    </Card>
  );
}
