/**
 * The Phone numbers tab: the tenant's numbers (DIDs) and where their calls go, an extension or a queue chosen from
 * the tenant's own (the Users and Queues pages' lists) or a hang-up, and the trunk they arrive on.
 */
import { useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { del, errorText, patch, post } from '../../lib/api.ts';
import { Field, FormAlert, Problems } from './form.tsx';
import { type Destination, optionalText, type PhoneNumber, usePhoneNumbers, useQueues, useTrunks, useUsers } from './model.ts';

interface Target {
  number: number;
  label: string;
}

function useTargets() {
  const users = useUsers();
  const queues = useQueues();
  const extensions: Target[] = (users.data?.users ?? [])
    .filter((u) => u.extension)
    .map((u) => ({ number: u.extension!.number, label: `${u.extension!.number} ${u.name}` }))
    .sort((a, b) => a.number - b.number);
  const queueTargets: Target[] = (queues.data?.queues ?? []).map((q) => ({ number: Number(q.number), label: `${q.number} ${q.name}` }));
  return { extensions, queues: queueTargets };
}

function destinationText(d: Destination, targets: ReturnType<typeof useTargets>): string {
  if (d.type === 'hangup') return 'Hung up';
  const list = d.type === 'extension' ? targets.extensions : targets.queues;
  const known = list.find((t) => t.number === d.number);
  return `${d.type === 'extension' ? 'Extension' : 'Queue'} ${known?.label ?? d.number}`;
}

export function NumbersSection({ canEdit }: { canEdit: boolean }) {
  const queryClient = useQueryClient();
  const numbers = usePhoneNumbers();
  const trunks = useTrunks();
  const targets = useTargets();
  const [editing, setEditing] = useState<PhoneNumber | 'new' | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const list = numbers.data ?? [];
  const empty = numbers.isSuccess && list.length === 0;
  const form = editing ?? (empty && canEdit ? 'new' : null);
  const trunkName = (id: string | null) => (id === null ? 'Any trunk' : (trunks.data?.find((t) => t.id === id)?.name ?? 'A deleted trunk'));
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['phone-numbers'] });

  const remove = async (n: PhoneNumber) => {
    if (!window.confirm(`Remove the number ${n.number}? Its calls will no longer be taken.`)) return;
    setError(null);
    setDone(null);
    try {
      await del(`/api/pbx/numbers/${n.id}`);
      setDone(`Number ${n.number} removed.`);
      await refresh();
    } catch (err) {
      setError(errorText(err));
    }
  };

  return (
    <div className="stack">
      <div className="row spread">
        <h2 id="numbers-title">Phone numbers</h2>
        {canEdit && form === null && (
          <button type="button" className="primary" onClick={() => setEditing('new')}>
            Add a number
          </button>
        )}
      </div>
      {empty && (
        <p className="card empty" data-testid="numbers-empty">
          {trunks.data?.length === 0
            ? 'No phone number yet: add a trunk first (Trunks tab), then the numbers your carrier gave you.'
            : canEdit
              ? 'No phone number yet: add the numbers your carrier gave you and say where their calls go.'
              : 'No phone number yet: an administrator adds the numbers your carrier gave you.'}
        </p>
      )}
      {form !== null && (
        <NumberForm
          key={form === 'new' ? 'new' : form.id}
          number={form === 'new' ? null : form}
          targets={targets}
          trunks={trunks.data ?? []}
          onCancel={empty ? undefined : () => setEditing(null)}
          onSaved={(n, created) => {
            setEditing(null);
            setError(null);
            setDone(created ? `Number ${n.number} added.` : `Number ${n.number} saved.`);
            void refresh();
          }}
        />
      )}
      {done && (
        <p className="ok" role="status">
          {done}
        </p>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {numbers.isError && <p className="error">{errorText(numbers.error)}</p>}
      {list.length > 0 && (
        <div className="card">
          <table className="table stackable" aria-labelledby="numbers-title" data-testid="numbers">
            <thead>
              <tr>
                <th scope="col">Number</th>
                <th scope="col">Calls go to</th>
                <th scope="col">Arrives on</th>
                <th scope="col">Description</th>
                {canEdit && (
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {list.map((n) => (
                <tr key={n.id} data-number={n.number}>
                  <td data-label="Number">
                    <strong>{n.number}</strong>
                  </td>
                  <td data-label="Calls go to">{destinationText(n.destination, targets)}</td>
                  <td data-label="Arrives on">{trunkName(n.trunkId)}</td>
                  <td data-label="Description">{n.description ?? '—'}</td>
                  {canEdit && (
                    <td className="row">
                      <button type="button" onClick={() => setEditing(n)} aria-label={`Edit ${n.number}`}>
                        Edit
                      </button>
                      <button type="button" className="danger" onClick={() => void remove(n)} aria-label={`Remove ${n.number}`}>
                        Remove
                      </button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

type DestinationType = Destination['type'];

const PLACED = /^(number|destination(\.(type|number))?|trunkId|description)$/;

function NumberForm({
  number,
  targets,
  trunks,
  onCancel,
  onSaved,
}: {
  number: PhoneNumber | null;
  targets: ReturnType<typeof useTargets>;
  trunks: Array<{ id: string; name: string }>;
  onCancel?: () => void;
  onSaved: (n: PhoneNumber, created: boolean) => void;
}) {
  const [d, setD] = useState(() => ({
    number: number?.number ?? '',
    type: (number?.destination.type ?? 'extension') as DestinationType,
    target: number && number.destination.type !== 'hangup' ? String(number.destination.number) : '',
    trunkId: number?.trunkId ?? '',
    description: number?.description ?? '',
  }));
  const [problems, setProblems] = useState(Problems.none);
  const [busy, setBusy] = useState(false);
  const set = (change: Partial<typeof d>) => setD((old) => ({ ...old, ...change }));
  const options = d.type === 'extension' ? targets.extensions : d.type === 'queue' ? targets.queues : [];

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setProblems(Problems.none);
    const body = {
      number: d.number.trim(),
      destination: d.type === 'hangup' ? { type: 'hangup' } : { type: d.type, number: Number(d.target) },
      trunkId: d.trunkId || null,
      description: optionalText(d.description),
    };
    try {
      if (number) onSaved(await patch<PhoneNumber>(`/api/pbx/numbers/${number.id}`, body), false);
      else onSaved(await post<PhoneNumber>('/api/pbx/numbers', body), true);
    } catch (err) {
      setProblems(Problems.of(err, { PBX_ERR_PHONE_NUMBER_TAKEN: 'number' }));
    } finally {
      setBusy(false);
    }
  };

  const targetError = problems.at('destination.number') ?? problems.at('destination');
  return (
    <section className="card" aria-labelledby="number-form-title">
      <h2 id="number-form-title">{number ? `Edit ${number.number}` : 'Add a phone number'}</h2>
      <form className="form-grid" onSubmit={submit}>
        <Field label="Phone number" error={problems.at('number')} hint="E.164 (+14155550100) or as dialled in the tenant's country">
          <input name="phoneNumber" value={d.number} onChange={(e) => set({ number: e.target.value })} required inputMode="tel" autoComplete="off" autoFocus={number !== null} />
        </Field>
        <Field label="Calls go to" error={problems.at('destination.type')}>
          <select name="destinationType" value={d.type} onChange={(e) => set({ type: e.target.value as DestinationType, target: '' })}>
            <option value="extension">An extension</option>
            <option value="queue">A queue</option>
            <option value="hangup">Hang up</option>
          </select>
        </Field>
        {d.type !== 'hangup' && (
          <Field
            label={d.type === 'extension' ? 'Extension' : 'Queue'}
            error={targetError}
            hint={options.length === 0 ? (d.type === 'extension' ? 'No extension yet: add users on the Users page.' : 'No queue yet: add one on the Queues page.') : undefined}
          >
            <select name="destination" value={d.target} onChange={(e) => set({ target: e.target.value })} required>
              <option value="">Choose…</option>
              {options.map((o) => (
                <option key={o.number} value={o.number}>
                  {o.label}
                </option>
              ))}
            </select>
          </Field>
        )}
        <Field label="Arrives on" error={problems.at('trunkId')} hint="The trunk the carrier sends this number's calls on">
          <select name="trunkId" value={d.trunkId} onChange={(e) => set({ trunkId: e.target.value })}>
            <option value="">Any of our trunks</option>
            {trunks.map((t) => (
              <option key={t.id} value={t.id}>
                {t.name}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Description" error={problems.at('description')}>
          <input name="description" value={d.description} onChange={(e) => set({ description: e.target.value })} maxLength={200} />
        </Field>
        <div className="span-all">
          <FormAlert problems={problems} placed={PLACED} />
          <div className="row">
            <button type="submit" className="primary" disabled={busy}>
              {busy ? 'Saving…' : number ? 'Save number' : 'Add number'}
            </button>
            {onCancel && (
              <button type="button" onClick={onCancel}>
                Cancel
              </button>
            )}
          </div>
        </div>
      </form>
    </section>
  );
}
