// Documents of a lead: upload with progress, download, delete.
import { useRef, useState } from "react";
import { Download, FileText, Trash2, Upload } from "lucide-react";
import toast from "react-hot-toast";
import { downloadFile } from "../../api/client";
import { useDeleteDocument, useDocuments, useUploadDocument } from "../../api/leads";
import { Button, Card, ErrorState, Loading, errorMessage } from "../../components/ui";
import { bytes, dateTime } from "../../lib/format";

export const CATEGORIES: [string, string][] = [
  ["title_deed", "Titre de propriété"],
  ["plu_extract", "Extrait PLU"],
  ["grid_study", "Étude réseau"],
  ["photo", "Photo"],
  ["signed_promise", "Promesse signée"],
  ["dossier", "Dossier"],
  ["other", "Autre"],
];
const LABEL = Object.fromEntries(CATEGORIES);

/** The documents card. */
export default function Documents({ leadId, canWrite }: { leadId: number; canWrite: boolean }) {
  const { data, isLoading, error, refetch } = useDocuments(leadId);
  const upload = useUploadDocument(leadId);
  const del = useDeleteDocument(leadId);
  const [category, setCategory] = useState("other");
  const [progress, setProgress] = useState<number | null>(null);
  const input = useRef<HTMLInputElement>(null);

  function send(file: File) {
    setProgress(0);
    upload.mutate(
      { file, category, onProgress: setProgress },
      {
        onSuccess: () => toast.success(`${file.name} ajouté`),
        onError: (err) => toast.error(`Envoi refusé : ${errorMessage(err)}`),
        onSettled: () => {
          setProgress(null);
          if (input.current) input.current.value = "";
        },
      },
    );
  }

  return (
    <Card title="Documents" icon={<FileText className="h-4 w-4 text-slate-600" />}>
      {canWrite && (
        <div className="mb-3 flex flex-wrap items-center gap-2">
          <select
            aria-label="Catégorie du document"
            value={category}
            onChange={(e) => setCategory(e.target.value)}
            className="rounded-md border border-slate-300 px-2 py-1 text-sm"
          >
            {CATEGORIES.map(([v, l]) => (
              <option key={v} value={v}>
                {l}
              </option>
            ))}
          </select>
          <input
            ref={input}
            type="file"
            aria-label="Fichier à envoyer"
            className="hidden"
            onChange={(e) => e.target.files?.[0] && send(e.target.files[0])}
          />
          <Button variant="secondary" busy={upload.isPending} onClick={() => input.current?.click()}>
            <Upload className="h-4 w-4" aria-hidden /> Envoyer un fichier
          </Button>
          {progress !== null && (
            <div className="flex items-center gap-2 text-xs text-slate-600" role="progressbar" aria-valuenow={Math.round(progress * 100)} aria-valuemin={0} aria-valuemax={100}>
              <div className="h-1.5 w-32 rounded bg-slate-100">
                <div className="h-1.5 rounded bg-sky-500" style={{ width: `${Math.round(progress * 100)}%` }} />
              </div>
              {Math.round(progress * 100)} %
            </div>
          )}
        </div>
      )}
      {isLoading ? (
        <Loading />
      ) : error ? (
        <ErrorState error={error} retry={refetch} />
      ) : data && data.length > 0 ? (
        <ul className="divide-y divide-slate-100 text-sm" data-testid="documents">
          {data.map((d) => (
            <li key={d.id} className="flex items-center justify-between gap-2 py-1.5">
              <div className="min-w-0">
                <p className="truncate font-medium">{d.filename}</p>
                <p className="text-xs text-slate-500">
                  {LABEL[d.category] ?? d.category} · {bytes(d.size_bytes)} · {dateTime(d.created_at)}
                </p>
              </div>
              <div className="flex shrink-0 gap-1">
                <Button
                  variant="ghost"
                  aria-label={`Télécharger ${d.filename}`}
                  onClick={() =>
                    downloadFile(`/api/leads/${leadId}/documents/${d.id}`, d.filename).catch((err) =>
                      toast.error(errorMessage(err)),
                    )
                  }
                >
                  <Download className="h-4 w-4" />
                </Button>
                {canWrite && (
                  <Button
                    variant="ghost"
                    aria-label={`Supprimer ${d.filename}`}
                    onClick={() =>
                      window.confirm(`Supprimer ${d.filename} ?`) &&
                      del.mutate(d.id, { onError: (err) => toast.error(errorMessage(err)) })
                    }
                  >
                    <Trash2 className="h-4 w-4" />
                  </Button>
                )}
              </div>
            </li>
          ))}
        </ul>
      ) : (
        <p className="text-sm text-slate-500">Aucun document.</p>
      )}
    </Card>
  );
}
