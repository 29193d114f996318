// Admin: users and roles (create, rename, change role, reset a password, (de)activate). Every
// change that gives or takes rights is confirmed first.
import { useState } from "react";
import toast from "react-hot-toast";
import { KeyRound, Pencil, UserPlus } from "lucide-react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useAuth } from "../../api/auth";
import { api } from "../../api/client";
import { useCreateUser, useUpdateUser, useUsers } from "../../api/reference";
import type { Role, UserOut } from "../../api/types";
import Modal from "../../components/Modal";
import { Button, Empty, ErrorState, Loading, PageHeader, errorMessage } from "../../components/ui";
import { dateTime, num } from "../../lib/format";
import { ROLE_LABEL } from "../../lib/status";

const ROLES: Role[] = ["ADMIN", "MANAGER", "OPS", "COMMERCIAL"];

function NewUser({ onClose }: { onClose: () => void }) {
  const create = useCreateUser();
  const [form, setForm] = useState({ email: "", full_name: "", password: "", role: "OPS" as Role });
  const field = "mt-1 w-full rounded-md border border-slate-300 px-2 py-1.5 text-sm";
  return (
    <Modal title="Nouvel utilisateur" onClose={onClose}>
      <form
        className="space-y-3"
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate(form, {
            onSuccess: (u) => {
              toast.success(`${u.email} créé`);
              onClose();
            },
            onError: (err) => toast.error(errorMessage(err)),
          });
        }}
      >
        <label className="block text-sm">
          E-mail
          <input type="email" required className={field} value={form.email} onChange={(e) => setForm({ ...form, email: e.target.value })} />
        </label>
        <label className="block text-sm">
          Nom complet
          <input className={field} value={form.full_name} onChange={(e) => setForm({ ...form, full_name: e.target.value })} />
        </label>
        <label className="block text-sm">
          Mot de passe (8 caractères minimum)
          <input type="password" required minLength={8} className={field} value={form.password} onChange={(e) => setForm({ ...form, password: e.target.value })} />
        </label>
        <label className="block text-sm">
          Rôle
          <select className={field} value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value as Role })}>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {ROLE_LABEL[r]}
              </option>
            ))}
          </select>
        </label>
        <div className="flex justify-end gap-2">
          <Button variant="secondary" onClick={onClose}>
            Annuler
          </Button>
          <Button type="submit" busy={create.isPending}>
            Créer
          </Button>
        </div>
      </form>
    </Modal>
  );
}

type Pending =
  | { kind: "role"; user: UserOut; role: Role }
  | { kind: "active"; user: UserOut; active: boolean }
  | { kind: "rename"; user: UserOut }
  | { kind: "reset"; user: UserOut };

function who(u: UserOut): string {
  return u.full_name ? `${u.full_name} (${u.email})` : u.email;
}

/** The confirmation of a role change, an (de)activation, a rename or a password reset. */
function Confirm({ pending, onClose }: { pending: Pending; onClose: () => void }) {
  const update = useUpdateUser();
  const qc = useQueryClient();
  const reset = useMutation({
    mutationFn: (id: number) => api<{ password: string }>(`/api/users/${id}/password-reset`, { method: "POST" }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ["users"] }),
  });
  const [name, setName] = useState(pending.user.full_name);
  const [password, setPassword] = useState<string | null>(null);
  const u = pending.user;
  const done = (msg: string) => ({
    onSuccess: () => {
      toast.success(msg);
      onClose();
    },
    onError: (err: unknown) => toast.error(errorMessage(err)),
  });
  const field = "mt-1 w-full rounded-md border border-slate-300 px-2 py-1.5 text-sm";
  const buttons = (label: string, busy: boolean, danger = false) => (
    <div className="mt-4 flex justify-end gap-2">
      <Button variant="secondary" onClick={onClose}>
        Annuler
      </Button>
      <Button type="submit" variant={danger ? "danger" : "primary"} busy={busy}>
        {label}
      </Button>
    </div>
  );
  if (pending.kind === "reset" && password) {
    return (
      <Modal title="Nouveau mot de passe" onClose={onClose}>
        <p className="text-sm">
          Transmettez ce mot de passe à {who(u)} ; il ne sera plus affiché. Ses sessions en cours sont fermées.
        </p>
        <input readOnly aria-label="Mot de passe généré" value={password} className={`${field} font-mono`} onFocus={(e) => e.target.select()} />
        <div className="mt-4 flex justify-end gap-2">
          <Button variant="secondary" onClick={() => void navigator.clipboard?.writeText(password).then(() => toast.success("Copié"))}>
            Copier
          </Button>
          <Button onClick={onClose}>Terminé</Button>
        </div>
      </Modal>
    );
  }
  return (
    <Modal
      title={
        pending.kind === "role"
          ? "Changer le rôle"
          : pending.kind === "active"
            ? pending.active
              ? "Réactiver le compte"
              : "Désactiver le compte"
            : pending.kind === "rename"
              ? "Modifier le nom"
              : "Réinitialiser le mot de passe"
      }
      onClose={onClose}
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (pending.kind === "role") update.mutate({ id: u.id, role: pending.role }, done(`Rôle de ${u.email} : ${ROLE_LABEL[pending.role]}`));
          else if (pending.kind === "active")
            update.mutate({ id: u.id, is_active: pending.active }, done(pending.active ? `${u.email} réactivé` : `${u.email} désactivé`));
          else if (pending.kind === "rename") update.mutate({ id: u.id, full_name: name.trim() }, done("Nom modifié"));
          else reset.mutate(u.id, { onSuccess: (out) => setPassword(out.password), onError: (err) => toast.error(errorMessage(err)) });
        }}
      >
        {pending.kind === "role" && (
          <div className="space-y-2 text-sm">
            <p>
              Passer {who(u)} de <strong>{ROLE_LABEL[u.role as Role]}</strong> à <strong>{ROLE_LABEL[pending.role]}</strong> ?
            </p>
            {pending.role === "ADMIN" && (
              <p role="note" className="rounded border border-amber-300 bg-amber-50 p-2 text-amber-900">
                Un administrateur gère tous les comptes, y compris le vôtre, et voit tous les leads.
              </p>
            )}
            {u.role === "ADMIN" && <p className="text-slate-700">Cette personne perdra l'administration des comptes.</p>}
          </div>
        )}
        {pending.kind === "active" && (
          <p className="text-sm">
            {pending.active
              ? `${who(u)} pourra de nouveau se connecter.`
              : `${who(u)} ne pourra plus se connecter ; ses sessions en cours sont fermées. Ses leads et son historique sont conservés.`}
          </p>
        )}
        {pending.kind === "rename" && (
          <label className="block text-sm">
            Nom complet
            <input required maxLength={200} className={field} value={name} onChange={(e) => setName(e.target.value)} />
          </label>
        )}
        {pending.kind === "reset" && (
          <p className="text-sm">
            Un nouveau mot de passe sera généré pour {who(u)} et affiché une seule fois ; l'ancien ne fonctionnera plus et
            ses sessions en cours seront fermées.
          </p>
        )}
        {buttons(
          pending.kind === "reset" ? "Générer" : pending.kind === "rename" ? "Enregistrer" : "Confirmer",
          update.isPending || reset.isPending,
          (pending.kind === "role" && pending.role === "ADMIN") || (pending.kind === "active" && !pending.active),
        )}
      </form>
    </Modal>
  );
}

/** The users administration page. */
export default function AdminPage() {
  const { user: me } = useAuth();
  const [q, setQ] = useState("");
  const [role, setRole] = useState("");
  const [creating, setCreating] = useState(false);
  const [pending, setPending] = useState<Pending | null>(null);
  const { data, isLoading, error, refetch } = useUsers({ q: q || undefined, role: role || undefined });

  return (
    <div>
      <PageHeader title="Utilisateurs et rôles">
        <input type="search" aria-label="Rechercher un utilisateur" placeholder="Nom ou e-mail…" value={q} onChange={(e) => setQ(e.target.value)} className="w-48 rounded-md border border-slate-300 px-2 py-1 text-sm" />
        <select aria-label="Filtrer par rôle" value={role} onChange={(e) => setRole(e.target.value)} className="rounded-md border border-slate-300 px-2 py-1 text-sm">
          <option value="">Tous les rôles</option>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {ROLE_LABEL[r]}
            </option>
          ))}
        </select>
        <Button onClick={() => setCreating(true)}>
          <UserPlus className="h-4 w-4" aria-hidden /> Nouvel utilisateur
        </Button>
      </PageHeader>
      <div className="p-4">
        {isLoading ? (
          <Loading />
        ) : error ? (
          <ErrorState error={error} retry={refetch} />
        ) : !data || data.items.length === 0 ? (
          <Empty title="Aucun utilisateur" />
        ) : (
          <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white">
            <table className="w-full text-sm" data-testid="users-table">
              <thead className="bg-slate-50 text-left text-xs text-slate-600">
                <tr>
                  <th className="px-3 py-2 font-medium">Nom</th>
                  <th className="px-3 py-2 font-medium">E-mail</th>
                  <th className="px-3 py-2 font-medium">Rôle</th>
                  <th className="px-3 py-2 font-medium">Dernière connexion</th>
                  <th className="px-3 py-2 font-medium">Actif</th>
                  <th className="px-3 py-2 font-medium">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {data.items.map((u) => (
                  <tr key={u.id} className="border-t border-slate-100">
                    <td className="px-3 py-2 font-medium">
                      <span className="inline-flex items-center gap-1">
                        {u.full_name || "—"}
                        <button
                          type="button"
                          aria-label={`Modifier le nom de ${u.email}`}
                          onClick={() => setPending({ kind: "rename", user: u })}
                          className="rounded p-1 text-slate-600 hover:bg-slate-100"
                        >
                          <Pencil className="h-3.5 w-3.5" aria-hidden />
                        </button>
                      </span>
                    </td>
                    <td className="px-3 py-2">{u.email}</td>
                    <td className="px-3 py-2">
                      <select
                        aria-label={`Rôle de ${u.email}`}
                        value={u.role}
                        disabled={u.id === me?.id}
                        onChange={(e) => setPending({ kind: "role", user: u, role: e.target.value as Role })}
                        className="rounded border border-slate-200 px-1 py-0.5"
                      >
                        {ROLES.map((r) => (
                          <option key={r} value={r}>
                            {ROLE_LABEL[r]}
                          </option>
                        ))}
                      </select>
                    </td>
                    <td className="px-3 py-2 text-slate-600">{dateTime(u.last_login_at)}</td>
                    <td className="px-3 py-2">
                      <input
                        type="checkbox"
                        aria-label={`${u.email} actif`}
                        checked={u.is_active}
                        disabled={u.id === me?.id}
                        onChange={(e) => setPending({ kind: "active", user: u, active: e.target.checked })}
                      />
                    </td>
                    <td className="px-3 py-2">
                      <Button variant="secondary" onClick={() => setPending({ kind: "reset", user: u })} aria-label={`Réinitialiser le mot de passe de ${u.email}`}>
                        <KeyRound className="h-4 w-4" aria-hidden /> <span className="hidden lg:inline">Mot de passe</span>
                      </Button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <p className="px-3 py-2 text-xs text-slate-600">{num(data.total)} utilisateur{data.total > 1 ? "s" : ""}</p>
          </div>
        )}
      </div>
      {creating && <NewUser onClose={() => setCreating(false)} />}
      {pending && <Confirm pending={pending} onClose={() => setPending(null)} />}
    </div>
  );
}
