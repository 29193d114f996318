// Admin: users and roles (create, change role, activate/deactivate).
import { useState } from "react";
import toast from "react-hot-toast";
import { UserPlus } from "lucide-react";
import { useAuth } from "../../api/auth";
import { useCreateUser, useUpdateUser, useUsers } from "../../api/reference";
import type { Role } from "../../api/types";
import Modal from "../../components/Modal";
import { Button, Empty, ErrorState, Loading, PageHeader, errorMessage } from "../../components/ui";
import { dateTime } from "../../lib/format";
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

/** The users administration page. */
export default function AdminPage() {
  const { user: me } = useAuth();
  const [q, setQ] = useState("");
  const [role, setRole] = useState("");
  const [creating, setCreating] = useState(false);
  const { data, isLoading, error, refetch } = useUsers({ q: q || undefined, role: role || undefined });
  const update = useUpdateUser();
  const patch = (id: number, body: Record<string, unknown>) =>
    update.mutate({ id, ...body }, { onSuccess: () => toast.success("Utilisateur mis à jour"), onError: (err) => toast.error(errorMessage(err)) });

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
              <thead className="bg-slate-50 text-left text-xs text-slate-500">
                <tr>
                  <th className="px-3 py-2 font-medium">Nom</th>
                  <th className="px-3 py-2 font-medium">E-mail</th>
                  <th className="px-3 py-2 font-medium">Rôle</th>
                  <th className="px-3 py-2 font-medium">Dernière connexion</th>
                  <th className="px-3 py-2 font-medium">Actif</th>
                </tr>
              </thead>
              <tbody>
                {data.items.map((u) => (
                  <tr key={u.id} className="border-t border-slate-100">
                    <td className="px-3 py-2 font-medium">{u.full_name || "—"}</td>
                    <td className="px-3 py-2">{u.email}</td>
                    <td className="px-3 py-2">
                      <select
                        aria-label={`Rôle de ${u.email}`}
                        value={u.role}
                        disabled={u.id === me?.id}
                        onChange={(e) => patch(u.id, { role: e.target.value })}
                        className="rounded border border-slate-200 px-1 py-0.5"
                      >
                        {ROLES.map((r) => (
                          <option key={r} value={r}>
                            {ROLE_LABEL[r]}
                          </option>
                        ))}
                      </select>
                    </td>
                    <td className="px-3 py-2 text-slate-500">{dateTime(u.last_login_at)}</td>
                    <td className="px-3 py-2">
                      <input
                        type="checkbox"
                        aria-label={`${u.email} actif`}
                        checked={u.is_active}
                        disabled={u.id === me?.id}
                        onChange={(e) => patch(u.id, { is_active: e.target.checked })}
                      />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <p className="px-3 py-2 text-xs text-slate-500">{data.total} utilisateur(s)</p>
          </div>
        )}
      </div>
      {creating && <NewUser onClose={() => setCreating(false)} />}
    </div>
  );
}
