/** `/pbx/admin/queues`: queues (number, strategy, timings) and their members. */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, errorText, get, post } from '../lib/api.ts';
import type { QueueRow, UserRow } from '../lib/types.ts';

const STRATEGIES = ['ringall', 'leastrecent', 'fewestcalls', 'random', 'rrmemory', 'rrordered', 'linear', 'wrandom'];

export default function AdminQueues() {
  const queryClient = useQueryClient();
  const queues = useQuery({ queryKey: ['queues'], queryFn: () => get<{ queues: QueueRow[] }>('/api/pbx/queues') });
  const users = useQuery({ queryKey: ['users'], queryFn: () => get<{ users: UserRow[] }>('/api/users') });
  const [error, setError] = useState<string | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['queues'] });
  const list = queues.data?.queues ?? [];
  const extensions = (users.data?.users ?? []).filter((u) => u.extension).map((u) => ({ id: u.extension!.id, label: `${u.extension!.number} ${u.name}` }));
  const remove = useMutation({ mutationFn: (q: QueueRow) => api('DELETE', `/api/pbx/queues/${q.id}`), onSuccess: refresh, onError: (e) => setError(errorText(e)) });
  return (
    <div className="stack">
      <h1>Queues</h1>
      <CreateQueue onCreated={() => void refresh()} />
      {error && <p className="error" role="alert">{error}</p>}
      {queues.isError && <p className="error">{errorText(queues.error)}</p>}
      {list.map((q) => (
        <section key={q.id} className="card" aria-label={`Queue ${q.name}`} data-queue={q.number}>
          <h2>
            {q.name} <span className="muted small">number {q.number} · {q.strategy} · rings {q.ringTimeout}s · wrap-up {q.wrapUpTime}s · service level {q.serviceLevel}s</span>
          </h2>
          <ul className="members">
            {q.members.map((m) => (
              <li key={m.extensionId}>
                {extensions.find((e) => e.id === m.extensionId)?.label ?? m.extension}
                {m.paused && <span className="muted small"> paused{m.pauseReason ? ` (${m.pauseReason})` : ''}</span>}{' '}
                <button
                  type="button"
                  onClick={() => void api('DELETE', `/api/pbx/queues/${q.id}/members/${m.extensionId}`).then(refresh, (e: unknown) => setError(errorText(e)))}
                >
                  Remove
                </button>
              </li>
            ))}
            {q.members.length === 0 && <li className="muted">No members.</li>}
          </ul>
          <AddMember queue={q} options={extensions.filter((e) => !q.members.some((m) => m.extensionId === e.id))} onAdded={() => void refresh()} />
          <button type="button" className="danger" onClick={() => window.confirm(`Delete queue ${q.name}?`) && remove.mutate(q)}>
            Delete queue
          </button>
        </section>
      ))}
    </div>
  );
}

function CreateQueue({ onCreated }: { onCreated: () => void }) {
  const [form, setForm] = useState({ name: '', number: '', strategy: 'ringall', wrapUpTime: '10' });
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await post('/api/pbx/queues', { name: form.name.trim(), number: form.number.trim(), strategy: form.strategy, wrapUpTime: Number(form.wrapUpTime) });
      setForm({ ...form, name: '', number: '' });
      onCreated();
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <section className="card" aria-labelledby="new-queue">
      <h2 id="new-queue">Add a queue</h2>
      <form className="form-grid" onSubmit={submit}>
        <label>
          Name
          <input name="queueName" value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} required maxLength={100} />
        </label>
        <label>
          Number
          <input name="queueNumber" value={form.number} onChange={(e) => setForm({ ...form, number: e.target.value })} required pattern="[0-9]{2,9}" inputMode="numeric" />
        </label>
        <label>
          Strategy
          <select name="strategy" value={form.strategy} onChange={(e) => setForm({ ...form, strategy: e.target.value })}>
            {STRATEGIES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Wrap-up (seconds)
          <input name="wrapUpTime" type="number" min={0} max={3600} value={form.wrapUpTime} onChange={(e) => setForm({ ...form, wrapUpTime: e.target.value })} />
        </label>
        <div>
          <button type="submit" className="primary">Add queue</button>
        </div>
      </form>
      {error && <p className="error" role="alert">{error}</p>}
    </section>
  );
}

function AddMember({ queue, options, onAdded }: { queue: QueueRow; options: Array<{ id: string; label: string }>; onAdded: () => void }) {
  const [extensionId, setExtensionId] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!extensionId) return;
    try {
      await post(`/api/pbx/queues/${queue.id}/members`, { extensionId });
      setExtensionId('');
      onAdded();
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <form className="row" onSubmit={submit}>
      <label className="inline">
        <span className="visually-hidden">Agent to add to {queue.name}</span>
        <select name="member" value={extensionId} onChange={(e) => setExtensionId(e.target.value)}>
          <option value="">Add an agent…</option>
          {options.map((o) => (
            <option key={o.id} value={o.id}>
              {o.label}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" disabled={!extensionId}>Add member</button>
      {error && <span className="error" role="alert">{error}</span>}
    </form>
  );
}
