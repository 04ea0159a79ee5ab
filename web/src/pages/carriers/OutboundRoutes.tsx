/**
 * The Outbound routes tab: routes in the order they are tried (lower priority first), each with its dial patterns
 * and its trunks in order, the form that creates or changes one, and the tenant's dial policy (who may call what).
 */
import { useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { del, errorText, patch, post } from '../../lib/api.ts';
import { DialPolicySection } from './DialPolicy.tsx';
import { Field, FormAlert, Problems } from './form.tsx';
import { linesOf, optionalInt, optionalText, type OutboundRoute, type Trunk, useOutboundRoutes, useTrunks } from './model.ts';

export function RoutesSection({ canEdit }: { canEdit: boolean }) {
  const queryClient = useQueryClient();
  const routes = useOutboundRoutes();
  const trunks = useTrunks();
  const [editing, setEditing] = useState<OutboundRoute | 'new' | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const list = routes.data ?? [];
  const trunkList = trunks.data ?? [];
  const empty = routes.isSuccess && list.length === 0;
  const form = editing ?? (empty && canEdit && trunkList.length > 0 ? 'new' : null);
  const trunkName = (id: string) => trunkList.find((t) => t.id === id)?.name ?? 'a deleted trunk';
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['outbound-routes'] });

  const act = async (work: () => Promise<unknown>, success: string | null) => {
    setError(null);
    setDone(null);
    try {
      await work();
      if (success) setDone(success);
    } catch (err) {
      setError(errorText(err));
    } finally {
      await refresh();
    }
  };

  /** Swaps a route with its neighbour: their priorities trade places, or, when equal, every route is numbered anew. */
  const move = (index: number, delta: -1 | 1) => {
    const a = list[index];
    const b = list[index + delta];
    if (!a || !b) return;
    const order = [...list];
    order[index] = b;
    order[index + delta] = a;
    const priorities =
      a.priority !== b.priority
        ? new Map([
            [a.id, b.priority],
            [b.id, a.priority],
          ])
        : new Map(order.map((r, i) => [r.id, (i + 1) * 10]));
    const changes = order.filter((r) => priorities.has(r.id) && priorities.get(r.id) !== r.priority);
    void act(() => Promise.all(changes.map((r) => patch(`/api/pbx/outbound-routes/${r.id}`, { priority: priorities.get(r.id) }))), null);
  };

  const remove = (r: OutboundRoute) => {
    if (!window.confirm(`Delete the outbound route ${r.name}?`)) return;
    void act(() => del(`/api/pbx/outbound-routes/${r.id}`), `Route ${r.name} deleted.`);
  };

  return (
    <div className="stack">
      <div className="row spread">
        <h2 id="routes-title">Outbound routes</h2>
        {canEdit && form === null && trunkList.length > 0 && (
          <button type="button" className="primary" onClick={() => setEditing('new')}>
            Add a route
          </button>
        )}
      </div>
      <p className="hint">A call to an outside number takes the first route, from the top, with a pattern that matches it; its trunks are tried in order.</p>
      {empty && (
        <p className="card empty" data-testid="routes-empty">
          {trunks.isSuccess && trunkList.length === 0
            ? 'No outbound route yet: add a trunk first (Trunks tab), then a route that sends calls to it.'
            : canEdit
              ? 'No outbound route yet: add one so that calls to outside numbers go out through a trunk.'
              : 'No outbound route yet: an administrator adds them.'}
        </p>
      )}
      {form !== null && (
        <RouteForm
          key={form === 'new' ? 'new' : form.id}
          route={form === 'new' ? null : form}
          trunks={trunkList}
          onCancel={empty ? undefined : () => setEditing(null)}
          onSaved={(r, created) => {
            setEditing(null);
            setError(null);
            setDone(created ? `Route ${r.name} added.` : `Route ${r.name} saved.`);
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
      {routes.isError && <p className="error">{errorText(routes.error)}</p>}
      <ol className="card-list" aria-labelledby="routes-title">
        {list.map((r, i) => (
          <li key={r.id} className="card" data-route={r.name} aria-label={`Route ${r.name}`}>
            <div className="row spread">
              <h3>
                {i + 1}. {r.name}
              </h3>
              <span className="small muted">priority {r.priority}</span>
            </div>
            <dl className="facts">
              <dt>Patterns</dt>
              <dd className="row">
                {r.patterns.map((p) => (
                  <code key={p} className="chip">
                    {p}
                  </code>
                ))}
              </dd>
              <dt>Trunks, in order</dt>
              <dd>{r.trunkIds.map(trunkName).join(' → ')}</dd>
              <dt>Number sent</dt>
              <dd>
                {r.strip === 0 && r.prepend === '' ? 'as dialled' : [r.strip > 0 ? `first ${r.strip} digit${r.strip > 1 ? 's' : ''} cut` : null, r.prepend ? `${r.prepend} added in front` : null].filter(Boolean).join(', then ')}
              </dd>
              <dt>Caller ID</dt>
              <dd>
                {r.withholdCallerId ? 'withheld' : r.callerId ? `${r.callerId} unless the caller has its own` : "the caller's own, if it has one"}
              </dd>
            </dl>
            {canEdit && (
              <div className="row">
                <button type="button" disabled={i === 0} onClick={() => move(i, -1)} aria-label={`Move ${r.name} up`}>
                  Move up
                </button>
                <button type="button" disabled={i === list.length - 1} onClick={() => move(i, 1)} aria-label={`Move ${r.name} down`}>
                  Move down
                </button>
                <button type="button" onClick={() => setEditing(r)} aria-label={`Edit ${r.name}`}>
                  Edit
                </button>
                <button type="button" className="danger" onClick={() => remove(r)} aria-label={`Delete ${r.name}`}>
                  Delete
                </button>
              </div>
            )}
          </li>
        ))}
      </ol>
      {canEdit && <DialPolicySection />}
    </div>
  );
}

interface TrunkChoice {
  key: number;
  id: string;
}

let nextKey = 1;

const PLACED = /^(name|patterns(\.\d+)?|trunkIds(\.\d+)?|priority|strip|prepend|callerId|withholdCallerId)$/;

function RouteForm({ route, trunks, onCancel, onSaved }: { route: OutboundRoute | null; trunks: Trunk[]; onCancel?: () => void; onSaved: (r: OutboundRoute, created: boolean) => void }) {
  const [d, setD] = useState(() => ({
    name: route?.name ?? '',
    patterns: route?.patterns.join('\n') ?? '',
    trunks: (route?.trunkIds ?? [trunks[0]?.id ?? '']).map((id): TrunkChoice => ({ key: nextKey++, id })),
    priority: route ? String(route.priority) : '',
    strip: String(route?.strip ?? 0),
    prepend: route?.prepend ?? '',
    callerId: route?.callerId ?? '',
    withhold: route?.withholdCallerId ?? false,
  }));
  const [problems, setProblems] = useState(Problems.none);
  const [busy, setBusy] = useState(false);
  const set = (change: Partial<typeof d>) => setD((old) => ({ ...old, ...change }));
  const setTrunk = (key: number, id: string) => setD((old) => ({ ...old, trunks: old.trunks.map((t) => (t.key === key ? { ...t, id } : t)) }));
  const patternsTyped = linesOf(d.patterns);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setProblems(Problems.none);
    const body: Record<string, unknown> = {
      name: d.name.trim(),
      patterns: patternsTyped,
      trunkIds: d.trunks.map((t) => t.id).filter(Boolean),
      strip: optionalInt(d.strip) ?? 0,
      prepend: d.prepend.trim(),
      callerId: optionalText(d.callerId),
      withholdCallerId: d.withhold,
    };
    const priority = optionalInt(d.priority);
    if (priority !== undefined) body.priority = priority;
    try {
      if (route) onSaved(await patch<OutboundRoute>(`/api/pbx/outbound-routes/${route.id}`, body), false);
      else onSaved(await post<OutboundRoute>('/api/pbx/outbound-routes', body), true);
    } catch (err) {
      setProblems(Problems.of(err));
    } finally {
      setBusy(false);
    }
  };

  const at = (key: string) => problems.at(key);
  return (
    <section className="card" aria-labelledby="route-form-title">
      <h2 id="route-form-title">{route ? `Edit route ${route.name}` : 'Add an outbound route'}</h2>
      <form onSubmit={submit}>
        <div className="form-grid fields">
          <Field label="Route name" error={at('name')} hint="e.g. National, International, Emergency">
            <input name="routeName" value={d.name} onChange={(e) => set({ name: e.target.value })} required maxLength={100} autoFocus={route !== null} />
          </Field>
          <Field label="Priority" error={at('priority')} hint="Lower is tried first; empty: after the last route">
            <input name="priority" type="number" min={0} max={1000000} value={d.priority} onChange={(e) => set({ priority: e.target.value })} />
          </Field>
        </div>
        <Field
          label="Dial patterns, one per line"
          error={problems.list('patterns', (i) => `'${patternsTyped[i] ?? `pattern ${i + 1}`}'`)}
          hint={
            <>
              Any one matching is enough. A pattern starts with <code>_</code>: <code>X</code> any digit 0-9, <code>Z</code> 1-9, <code>N</code> 2-9, <code>[1-5]</code> one of a set, <code>.</code> one or more
              digits, <code>!</code> zero or more. A plain number such as <code>911</code> matches only itself. Examples: <code>_NXXNXXXXXX</code> (10-digit numbers), <code>_011.</code> (international from
              North America), <code>_00.</code>.
            </>
          }
        >
          <textarea name="patterns" rows={3} value={d.patterns} onChange={(e) => set({ patterns: e.target.value })} required spellCheck={false} autoCapitalize="characters" />
        </Field>
        <fieldset>
          <legend>Trunks, in order</legend>
          <p className="hint">The next one is tried when a trunk is down, busy (5xx) or does not answer.</p>
          {at('trunkIds') && <p className="field-error">{at('trunkIds')}</p>}
          {d.trunks.map((t, i) => (
            <div key={t.key} className="row trunk-choice">
              <Field label={i === 0 ? 'Trunk 1 (tried first)' : `Trunk ${i + 1}`} error={at(`trunkIds.${i}`)} className="grow">
                <select name={`trunk${i}`} value={t.id} onChange={(e) => setTrunk(t.key, e.target.value)} required>
                  <option value="">Choose…</option>
                  {trunks.map((x) => (
                    <option key={x.id} value={x.id}>
                      {x.name}
                    </option>
                  ))}
                </select>
              </Field>
              {d.trunks.length > 1 && (
                <button type="button" onClick={() => set({ trunks: d.trunks.filter((x) => x.key !== t.key) })}>
                  Remove trunk {i + 1}
                </button>
              )}
            </div>
          ))}
          {d.trunks.length < Math.min(16, trunks.length) && (
            <button type="button" onClick={() => set({ trunks: [...d.trunks, { key: nextKey++, id: '' }] })}>
              Add a fallback trunk
            </button>
          )}
        </fieldset>
        <fieldset>
          <legend>The number sent and the caller ID</legend>
          <div className="form-grid fields">
            <Field label="Digits to cut from the front" error={at('strip')} hint="e.g. 1 to drop a leading 9 dialled for an outside line">
              <input name="strip" type="number" min={0} max={32} value={d.strip} onChange={(e) => set({ strip: e.target.value })} />
            </Field>
            <Field label="Prefix to add in front" error={at('prepend')} hint="Digits, *, # or +, added after the cut">
              <input name="prepend" value={d.prepend} onChange={(e) => set({ prepend: e.target.value })} inputMode="tel" />
            </Field>
            <Field label="Caller ID" error={at('callerId')} hint="One of our numbers, shown to the called party unless the caller has its own; empty: the caller's own">
              <input name="callerId" value={d.callerId} onChange={(e) => set({ callerId: e.target.value })} inputMode="tel" placeholder="+14155550100" />
            </Field>
            <label className="check">
              <input type="checkbox" name="withholdCallerId" checked={d.withhold} onChange={(e) => set({ withhold: e.target.checked })} />
              Withhold the caller ID (Privacy: id)
            </label>
          </div>
          {at('withholdCallerId') && <p className="field-error">{at('withholdCallerId')}</p>}
        </fieldset>
        <FormAlert problems={problems} placed={PLACED} />
        <div className="row">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Saving…' : route ? 'Save route' : 'Add route'}
          </button>
          {onCancel && (
            <button type="button" onClick={onCancel}>
              Cancel
            </button>
          )}
        </div>
      </form>
    </section>
  );
}
