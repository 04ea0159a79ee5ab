/**
 * `/pbx/admin/users`: users and their extensions. A new extension's SIP secret (and a reset one) is shown once,
 * with a copy button: the server keeps only its hashes.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, errorText, get, post } from '../lib/api.ts';
import type { Role, UserRow } from '../lib/types.ts';

interface Secret {
  name: string;
  number: number;
  secret: string;
}

export default function AdminUsers() {
  const queryClient = useQueryClient();
  const users = useQuery({ queryKey: ['users'], queryFn: () => get<{ users: UserRow[] }>('/api/users') });
  const [secret, setSecret] = useState<Secret | null>(null);
  const [error, setError] = useState<string | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['users'] });
  const reset = useMutation({
    mutationFn: (u: UserRow) => post<{ extension: { number: number; secret: string } }>(`/api/users/${u.id}/extension/reset-secret`).then((r) => ({ name: u.name, ...r.extension })),
    onSuccess: (s) => setSecret(s),
    onError: (err) => setError(errorText(err)),
  });
  const remove = useMutation({
    mutationFn: (u: UserRow) => api('DELETE', `/api/users/${u.id}`),
    onSuccess: refresh,
    onError: (err) => setError(errorText(err)),
  });
  return (
    <div className="stack">
      <h1>Users and extensions</h1>
      <CreateUser onCreated={(s) => { setSecret(s); void refresh(); }} />
      {secret && <SecretOnce secret={secret} onClose={() => setSecret(null)} />}
      {error && <p className="error" role="alert">{error}</p>}
      <section className="card" aria-labelledby="users-title">
        <h2 id="users-title">Users</h2>
        {users.isError && <p className="error">{errorText(users.error)}</p>}
        <table className="table" data-testid="users">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Email</th>
              <th scope="col">Role</th>
              <th scope="col">Extension</th>
              <th scope="col"><span className="visually-hidden">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {(users.data?.users ?? []).map((u) => (
              <tr key={u.id} data-email={u.email}>
                <td>{u.name}</td>
                <td>{u.email}</td>
                <td>{u.role}</td>
                <td>{u.extension?.number ?? '—'}</td>
                <td className="row">
                  {u.extension && (
                    <button type="button" onClick={() => window.confirm(`Reset the SIP secret of ${u.name}? Their phones must be set up again.`) && reset.mutate(u)}>
                      Reset secret
                    </button>
                  )}
                  <button type="button" className="danger" onClick={() => window.confirm(`Delete ${u.name}?`) && remove.mutate(u)}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </div>
  );
}

function CreateUser({ onCreated }: { onCreated: (s: Secret) => void }) {
  const [form, setForm] = useState({ name: '', email: '', role: 'AGENT' as Role, password: '', withExtension: true });
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const created = await post<UserRow & { extension: { number: number; secret: string } | null }>('/api/users', {
        name: form.name.trim(),
        email: form.email.trim(),
        role: form.role,
        withExtension: form.withExtension,
        ...(form.password ? { password: form.password } : {}),
      });
      setForm({ ...form, name: '', email: '', password: '' });
      if (created.extension) onCreated({ name: created.name, number: created.extension.number, secret: created.extension.secret });
      else onCreated({ name: created.name, number: 0, secret: '' });
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card" aria-labelledby="create-title">
      <h2 id="create-title">Add a user</h2>
      <form className="form-grid" onSubmit={submit}>
        <label>
          Name
          <input name="name" value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} required maxLength={200} />
        </label>
        <label>
          Email
          <input name="email" type="email" value={form.email} onChange={(e) => setForm({ ...form, email: e.target.value })} required />
        </label>
        <label>
          Role
          <select name="role" value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value as Role })}>
            <option>AGENT</option>
            <option>SUPERVISOR</option>
            <option>MANAGER</option>
            <option>ADMIN</option>
          </select>
        </label>
        <label>
          Web password (optional, 8+ characters)
          <input name="password" type="password" value={form.password} onChange={(e) => setForm({ ...form, password: e.target.value })} minLength={8} autoComplete="new-password" />
        </label>
        <label className="check">
          <input name="withExtension" type="checkbox" checked={form.withExtension} onChange={(e) => setForm({ ...form, withExtension: e.target.checked })} />
          Give an extension
        </label>
        <div>
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Adding…' : 'Add user'}
          </button>
        </div>
      </form>
      {error && <p className="error" role="alert">{error}</p>}
    </section>
  );
}

function SecretOnce({ secret, onClose }: { secret: Secret; onClose: () => void }) {
  const [copied, setCopied] = useState(false);
  if (!secret.secret) {
    return (
      <section className="card notice" role="status">
        <p>{secret.name} was added without an extension.</p>
        <button type="button" onClick={onClose}>Close</button>
      </section>
    );
  }
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret.secret);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };
  return (
    <section className="card notice" role="status" aria-labelledby="secret-title" data-testid="secret-once">
      <h2 id="secret-title">
        Extension {secret.number} for {secret.name}
      </h2>
      <p>
        SIP secret (also the password of the extension login): <code data-testid="secret">{secret.secret}</code>{' '}
        <button type="button" onClick={() => void copy()}>{copied ? 'Copied' : 'Copy'}</button>
      </p>
      <p className="muted small">It is shown only now: the server keeps only its hashes. Reset it to make a new one.</p>
      <button type="button" onClick={onClose}>Done</button>
    </section>
  );
}
