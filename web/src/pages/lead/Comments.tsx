// Comments of a lead: list and add (with @mentions).
import { useState } from "react";
import { MessageSquare } from "lucide-react";
import toast from "react-hot-toast";
import { useAuth } from "../../api/auth";
import { useAddComment, useComments, useDeleteComment } from "../../api/leads";
import { useMentionable } from "../../api/team";
import MentionBox from "../../components/MentionBox";
import { Button, Card, ErrorState, Loading, errorMessage } from "../../components/ui";
import { dateTime } from "../../lib/format";

/** The comments card. */
export default function Comments({ leadId }: { leadId: number }) {
  const { user } = useAuth();
  const { data, isLoading, error, refetch } = useComments(leadId);
  const add = useAddComment(leadId);
  const del = useDeleteComment(leadId);
  const [body, setBody] = useState("");
  // The people one may @mention, loaded at the first "@".
  const [wantPeople, setWantPeople] = useState(false);
  const people = useMentionable(leadId, wantPeople);
  return (
    <Card title="Commentaires" icon={<MessageSquare className="h-4 w-4 text-slate-600" />}>
      <form
        className="mb-3 flex gap-2"
        onSubmit={(e) => {
          e.preventDefault();
          if (!body.trim()) return;
          add.mutate(body.trim(), {
            onSuccess: () => setBody(""),
            onError: (err) => toast.error(errorMessage(err)),
          });
        }}
      >
        <MentionBox
          label="Nouveau commentaire"
          placeholder="Ajouter un commentaire… (@ pour mentionner)"
          value={body}
          onChange={setBody}
          people={people.data ?? []}
          onWantPeople={() => setWantPeople(true)}
        />
        <Button type="submit" busy={add.isPending} disabled={!body.trim()}>
          Publier
        </Button>
      </form>
      {isLoading ? (
        <Loading />
      ) : error ? (
        <ErrorState error={error} retry={refetch} />
      ) : data && data.length > 0 ? (
        <ul className="space-y-2">
          {data.map((c) => (
            <li key={c.id} className="rounded bg-slate-50 p-2 text-sm">
              <p className="flex justify-between text-xs text-slate-500">
                <span>
                  <strong className="text-slate-700">{c.author_name ?? "—"}</strong> · {dateTime(c.created_at)}
                </span>
                {(c.author_id === user?.id || user?.role === "ADMIN") && (
                  <button
                    type="button"
                    className="text-slate-500 hover:text-red-600"
                    onClick={() => del.mutate(c.id, { onError: (err) => toast.error(errorMessage(err)) })}
                  >
                    Supprimer
                  </button>
                )}
              </p>
              <p className="whitespace-pre-wrap">{c.body}</p>
            </li>
          ))}
        </ul>
      ) : (
        <p className="text-sm text-slate-500">Aucun commentaire.</p>
      )}
    </Card>
  );
}
