/**
 * The Trunks tab: each trunk with its live state light (the engine's word, in words, and its last error as text)
 * refreshed every few seconds, and the form that creates or changes one. The stored password never comes back from
 * the server; the form says whether there is one and sends a password only when one is typed.
 */
import { useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { del, errorText, patch, post } from '../../lib/api.ts';
import { Field, FormAlert, Problems } from './form.tsx';
import {
  DIALLED_NUMBER_HEADERS,
  DTMF_MODES,
  labelOf,
  linesOf,
  NUMBER_FORMATS,
  optionalInt,
  optionalText,
  STATE_TEXT,
  TRANSPORTS,
  type AuthMode,
  type Transport,
  type Trunk,
  type TrunkState,
  useTrunks,
} from './model.ts';

const MAX_SERVERS = 8;

const STATE_HINT: Record<TrunkState, string> = {
  up: 'Its servers answer',
  down: 'No server answers: calls skip this trunk',
  registered: 'The carrier holds our registration',
  registering: 'Asking the carrier to register us',
  failed: 'The carrier refused our registration or did not answer',
  disabled: 'Switched off: no calls in or out',
  unknown: 'No report from the engine yet',
};

export function StateLight({ trunk }: { trunk: Trunk }) {
  const { state, lastError, since } = trunk.status;
  const known = Object.hasOwn(STATE_TEXT, state) ? (state as TrunkState) : null;
  // An ip trunk without keepalives is never probed: the engine takes it to be up and says nothing more.
  const hint = known === 'unknown' && trunk.keepaliveSeconds === 0 && trunk.auth === 'ip' ? 'Not probed: keepalive is off' : known ? STATE_HINT[known] : null;
  const detail = [hint, since ? `since ${new Date(since).toLocaleTimeString()}` : null].filter(Boolean).join(' · ');
  return (
    <div className="trunk-state" data-testid="trunk-state" data-state={state}>
      <span className={`light light-${known ?? 'unknown'}`}>
        <span className="dot" aria-hidden="true" />
        <strong>{known ? STATE_TEXT[known] : state}</strong>
      </span>
      {detail && <p className="small muted">{detail}</p>}
      {lastError && (
        <p className="small error" data-testid="trunk-last-error">
          Last error: {lastError}
        </p>
      )}
    </div>
  );
}

export function TrunksSection({ canEdit, country }: { canEdit: boolean; country: string | undefined }) {
  const queryClient = useQueryClient();
  const trunks = useTrunks(true);
  const [editing, setEditing] = useState<Trunk | 'new' | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const list = trunks.data ?? [];
  const empty = trunks.isSuccess && list.length === 0;
  // With no trunk yet there is nothing else to do here: the form is open from the start.
  const form = editing ?? (empty && canEdit ? 'new' : null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['trunks'] });

  const remove = async (t: Trunk) => {
    if (!window.confirm(`Delete the trunk ${t.name}? Its phone numbers will then arrive on any trunk.`)) return;
    setError(null);
    setDone(null);
    try {
      await del(`/api/pbx/trunks/${t.id}`);
      setDone(`Trunk ${t.name} deleted.`);
      if (editing !== 'new' && editing?.id === t.id) setEditing(null);
      await refresh();
    } catch (err) {
      // A trunk an outbound route still uses is refused (409) with the routes' names: the message says what to do.
      setError(errorText(err));
    }
  };

  return (
    <div className="stack">
      <div className="row spread">
        <h2 id="trunks-title">SIP trunks</h2>
        {canEdit && form === null && (
          <button type="button" className="primary" onClick={() => setEditing('new')}>
            Add a trunk
          </button>
        )}
      </div>
      {empty && (
        <p className="card empty" data-testid="trunks-empty">
          {canEdit ? 'No carrier yet: add the SIP trunk your provider gave you.' : 'No carrier yet: an administrator adds the SIP trunk your provider gave you.'}
        </p>
      )}
      {form !== null && (
        <TrunkForm
          key={form === 'new' ? 'new' : form.id}
          trunk={form === 'new' ? null : form}
          country={country}
          onCancel={empty ? undefined : () => setEditing(null)}
          onSaved={(t, created) => {
            setEditing(null);
            setError(null);
            setDone(created ? `Trunk ${t.name} added.` : `Trunk ${t.name} saved.`);
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
      {trunks.isError && <p className="error">{errorText(trunks.error)}</p>}
      <ul className="card-list" aria-labelledby="trunks-title">
        {list.map((t) => (
          <li key={t.id} className="card" data-trunk={t.name} aria-label={`Trunk ${t.name}`}>
            <div className="row spread">
              <h3>{t.name}</h3>
              <StateLight trunk={t} />
            </div>
            <TrunkFacts trunk={t} />
            {canEdit && (
              <div className="row">
                <button type="button" onClick={() => setEditing(t)}>
                  Edit
                </button>
                <button type="button" className="danger" onClick={() => void remove(t)}>
                  Delete
                </button>
              </div>
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}

function TrunkFacts({ trunk: t }: { trunk: Trunk }) {
  const limit = (n: number) => (n === 0 ? 'no limit' : String(n));
  return (
    <dl className="facts">
      <dt>Servers, in order</dt>
      <dd>
        <ol className="inline-list">
          {t.servers.map((s, i) => (
            <li key={i}>
              <code>
                {s.host}:{s.port}
              </code>{' '}
              {s.transport.toUpperCase()}
            </li>
          ))}
        </ol>
      </dd>
      <dt>Knows us by</dt>
      <dd>
        {t.auth === 'registration'
          ? `registration as ${t.username ?? '?'}`
          : t.allowedAddresses.length > 0
            ? `IP: calls from ${t.allowedAddresses.join(', ')}`
            : 'IP, calls out only (no address allowed in)'}
      </dd>
      {(t.username || t.hasPassword) && (
        <>
          <dt>Credentials</dt>
          <dd>
            {t.authUsername ?? t.username ?? 'no username'}, {t.hasPassword ? 'password stored' : 'no password'}
          </dd>
        </>
      )}
      <dt>Numbers</dt>
      <dd>
        {labelOf(NUMBER_FORMATS, t.numberFormat)}, country {t.country}, dialled number in the {labelOf(DIALLED_NUMBER_HEADERS, t.dialledNumberHeader).replace(/ \(.*\)$/, '')}
      </dd>
      <dt>Media</dt>
      <dd>
        {t.codecs.join(', ')}; DTMF {labelOf(DTMF_MODES, t.dtmfMode).replace(/ \(.*\)$/, '')}
      </dd>
      <dt>Limits</dt>
      <dd>
        calls at once: {limit(t.maxCalls)}; per second: {limit(t.maxCallsPerSecond)}; keepalive: {t.keepaliveSeconds === 0 ? 'off' : `every ${t.keepaliveSeconds} s`}
      </dd>
    </dl>
  );
}

interface ServerDraft {
  key: number;
  host: string;
  port: string;
  transport: Transport;
}

interface TrunkDraft {
  name: string;
  enabled: boolean;
  servers: ServerDraft[];
  auth: AuthMode;
  allowedAddresses: string;
  username: string;
  authUsername: string;
  password: string;
  clearPassword: boolean;
  fromDomain: string;
  outboundProxy: string;
  registerExpires: string;
  codecs: string;
  dtmfMode: string;
  numberFormat: string;
  country: string;
  dialledNumberHeader: string;
  maxCalls: string;
  maxCallsPerSecond: string;
  keepaliveSeconds: string;
}

let nextKey = 1;
const serverDraft = (s?: { host: string; port: number; transport: Transport }): ServerDraft => ({ key: nextKey++, host: s?.host ?? '', port: s ? String(s.port) : '', transport: s?.transport ?? 'udp' });

function draftOf(t: Trunk | null): TrunkDraft {
  return {
    name: t?.name ?? '',
    enabled: t?.enabled ?? true,
    servers: t ? t.servers.map(serverDraft) : [serverDraft()],
    auth: t?.auth ?? 'registration',
    allowedAddresses: t?.allowedAddresses.join('\n') ?? '',
    username: t?.username ?? '',
    authUsername: t?.authUsername ?? '',
    password: '',
    clearPassword: false,
    fromDomain: t?.fromDomain ?? '',
    outboundProxy: t?.outboundProxy ?? '',
    registerExpires: String(t?.registerExpires ?? 3600),
    codecs: (t?.codecs ?? ['PCMU', 'PCMA']).join(', '),
    dtmfMode: t?.dtmfMode ?? 'rfc4733',
    numberFormat: t?.numberFormat ?? 'e164',
    country: t?.country ?? '',
    dialledNumberHeader: t?.dialledNumberHeader ?? 'request-uri',
    maxCalls: String(t?.maxCalls ?? 0),
    maxCallsPerSecond: String(t?.maxCallsPerSecond ?? 0),
    keepaliveSeconds: String(t?.keepaliveSeconds ?? 30),
  };
}

/** The body the API takes, the password aside; what is empty is left out so the server's default applies. */
function settingsOf(d: TrunkDraft): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: d.name.trim(),
    enabled: d.enabled,
    servers: d.servers.map((s) => ({ host: s.host.trim(), ...(s.port.trim() ? { port: Number(s.port) } : {}), transport: s.transport })),
    auth: d.auth,
    allowedAddresses: linesOf(d.allowedAddresses),
    username: optionalText(d.username),
    authUsername: optionalText(d.authUsername),
    fromDomain: optionalText(d.fromDomain),
    outboundProxy: optionalText(d.outboundProxy),
    registerExpires: optionalInt(d.registerExpires),
    codecs: d.codecs.split(/[\s,]+/).filter(Boolean),
    dtmfMode: d.dtmfMode,
    numberFormat: d.numberFormat,
    country: d.country.trim() ? d.country.trim().toUpperCase() : undefined,
    dialledNumberHeader: d.dialledNumberHeader,
    maxCalls: optionalInt(d.maxCalls),
    maxCallsPerSecond: optionalInt(d.maxCallsPerSecond),
    keepaliveSeconds: optionalInt(d.keepaliveSeconds),
  };
  for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
  return body;
}

/** The fields a change touches, compared as the API would read them, so an unchanged host is not looked up again. */
function changedSettings(before: TrunkDraft, after: TrunkDraft): Record<string, unknown> {
  const a = settingsOf(before);
  const b = settingsOf(after);
  return Object.fromEntries(Object.entries(b).filter(([k, v]) => JSON.stringify(a[k]) !== JSON.stringify(v)));
}

const PLACED = /^(name|enabled|servers(\.\d+(\.(host|port|transport))?)?|auth|allowedAddresses(\.\d+)?|username|authUsername|password|fromDomain|outboundProxy|registerExpires|codecs(\.\d+)?|dtmfMode|numberFormat|country|dialledNumberHeader|maxCalls|maxCallsPerSecond|keepaliveSeconds)$/;

function TrunkForm({ trunk, country, onCancel, onSaved }: { trunk: Trunk | null; country: string | undefined; onCancel?: () => void; onSaved: (t: Trunk, created: boolean) => void }) {
  const [initial] = useState(() => draftOf(trunk));
  const [d, setD] = useState(initial);
  const [problems, setProblems] = useState(Problems.none);
  const [busy, setBusy] = useState(false);
  const set = (change: Partial<TrunkDraft>) => setD((old) => ({ ...old, ...change }));
  const setServer = (key: number, change: Partial<ServerDraft>) => setD((old) => ({ ...old, servers: old.servers.map((s) => (s.key === key ? { ...s, ...change } : s)) }));
  const editing = trunk !== null;
  const registration = d.auth === 'registration';
  const addressesTyped = linesOf(d.allowedAddresses);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setProblems(Problems.none);
    const password = d.password !== '' ? d.password : d.clearPassword ? null : undefined;
    try {
      if (trunk) {
        const body = { ...changedSettings(initial, d), ...(password !== undefined ? { password } : {}) };
        const saved = Object.keys(body).length === 0 ? trunk : await patch<Trunk>(`/api/pbx/trunks/${trunk.id}`, body);
        onSaved(saved, false);
      } else {
        onSaved(await post<Trunk>('/api/pbx/trunks', { ...settingsOf(d), ...(password ? { password } : {}) }), true);
      }
    } catch (err) {
      setProblems(Problems.of(err, { PBX_ERR_TRUNK_NAME_TAKEN: 'name' }));
    } finally {
      setBusy(false);
    }
  };

  const at = (key: string) => problems.at(key);
  return (
    <section className="card" aria-labelledby="trunk-form-title">
      <h2 id="trunk-form-title">{editing ? `Edit trunk ${trunk.name}` : 'Add a trunk'}</h2>
      <form onSubmit={submit}>
        <div className="form-grid">
          <Field label="Name" error={at('name')} hint="Yours to choose, e.g. the carrier's name">
            <input name="trunkName" value={d.name} onChange={(e) => set({ name: e.target.value })} required maxLength={100} autoFocus={editing} />
          </Field>
          <label className="check">
            <input name="enabled" type="checkbox" checked={d.enabled} onChange={(e) => set({ enabled: e.target.checked })} />
            Enabled (off: no calls in or out, no registration)
          </label>
        </div>

        <fieldset>
          <legend>The carrier's SIP servers</legend>
          <p className="hint">Tried in order: when the first does not answer, calls go to the next. The port defaults to 5060 (5061 over TLS).</p>
          {at('servers') && <p className="field-error">{at('servers')}</p>}
          {d.servers.map((s, i) => (
            <fieldset key={s.key} className="server-row">
              <legend>Server {i + 1}{i === 0 ? ' (tried first)' : ''}</legend>
              <Field label="Host" error={at(`servers.${i}.host`)} className="grow">
                <input name={`host${i}`} value={s.host} onChange={(e) => setServer(s.key, { host: e.target.value })} required placeholder="sip.carrier.example" autoCapitalize="none" spellCheck={false} />
              </Field>
              <Field label="Port" error={at(`servers.${i}.port`)} className="narrow">
                <input name={`port${i}`} type="number" min={1} max={65535} value={s.port} onChange={(e) => setServer(s.key, { port: e.target.value })} placeholder={s.transport === 'tls' ? '5061' : '5060'} />
              </Field>
              <Field label="Transport" error={at(`servers.${i}.transport`)} className="narrow">
                <select name={`transport${i}`} value={s.transport} onChange={(e) => setServer(s.key, { transport: e.target.value as Transport })}>
                  {TRANSPORTS.map((t) => (
                    <option key={t} value={t}>
                      {t.toUpperCase()}
                    </option>
                  ))}
                </select>
              </Field>
              {d.servers.length > 1 && (
                <button type="button" onClick={() => set({ servers: d.servers.filter((x) => x.key !== s.key) })}>
                  Remove server {i + 1}
                </button>
              )}
            </fieldset>
          ))}
          {d.servers.length < MAX_SERVERS && (
            <button type="button" onClick={() => set({ servers: [...d.servers, serverDraft()] })}>
              Add a server
            </button>
          )}
        </fieldset>

        <fieldset>
          <legend>How the carrier knows us</legend>
          {at('auth') && <p className="field-error">{at('auth')}</p>}
          <label className="check">
            <input type="radio" name="auth" value="registration" checked={registration} onChange={() => set({ auth: 'registration' })} />
            Registration: we register to the carrier with a username and password
          </label>
          <label className="check">
            <input type="radio" name="auth" value="ip" checked={!registration} onChange={() => set({ auth: 'ip' })} />
            IP address: the carrier sends calls from addresses we allow, without a password
          </label>
          <Field
            label={registration ? 'Other addresses the carrier calls from (optional), one per line' : 'Allowed addresses, one per line'}
            hint="IP addresses or CIDR ranges, e.g. 192.0.2.10 or 198.51.100.0/24. None: this trunk carries calls out only."
            error={problems.list('allowedAddresses', (i) => `'${addressesTyped[i] ?? `line ${i + 1}`}'`)}
          >
            <textarea name="allowedAddresses" rows={3} value={d.allowedAddresses} onChange={(e) => set({ allowedAddresses: e.target.value })} spellCheck={false} />
          </Field>
        </fieldset>

        <fieldset>
          <legend>Digest credentials</legend>
          <p className="hint">
            {registration
              ? 'Required: we register with them, and answer the carrier’s challenges to our calls with them.'
              : 'Only if the carrier challenges our outbound calls (401/407); leave empty otherwise.'}
          </p>
          <div className="form-grid">
            <Field label="Username" error={at('username')}>
              <input name="username" value={d.username} onChange={(e) => set({ username: e.target.value })} autoComplete="off" autoCapitalize="none" spellCheck={false} />
            </Field>
            <Field label="Authentication username (if different)" error={at('authUsername')}>
              <input name="authUsername" value={d.authUsername} onChange={(e) => set({ authUsername: e.target.value })} autoComplete="off" autoCapitalize="none" spellCheck={false} />
            </Field>
            <Field label="Password" error={at('password')} hint={trunk?.hasPassword ? 'A password is stored; type a new one to replace it.' : undefined}>
              <input
                name="trunkPassword"
                type="password"
                value={d.password}
                onChange={(e) => set({ password: e.target.value, clearPassword: false })}
                autoComplete="new-password"
                placeholder={trunk?.hasPassword ? 'stored (leave empty to keep)' : ''}
              />
            </Field>
            {trunk?.hasPassword && (
              <label className="check">
                <input type="checkbox" name="clearPassword" checked={d.clearPassword} disabled={d.password !== ''} onChange={(e) => set({ clearPassword: e.target.checked })} />
                Remove the stored password
              </label>
            )}
            {registration && (
              <Field label="Registration lasts (seconds)" error={at('registerExpires')} hint="Asked of the carrier; renewed before it ends">
                <input name="registerExpires" type="number" min={60} max={86400} value={d.registerExpires} onChange={(e) => set({ registerExpires: e.target.value })} />
              </Field>
            )}
          </div>
        </fieldset>

        <fieldset>
          <legend>Numbers</legend>
          <div className="form-grid">
            <Field label="Number format" error={at('numberFormat')} hint="How the carrier wants the numbers we send it: the number we call and our caller ID">
              <select name="numberFormat" value={d.numberFormat} onChange={(e) => set({ numberFormat: e.target.value })}>
                {NUMBER_FORMATS.map((o) => (
                  <option key={o.value} value={o.value}>
                    {o.label}
                  </option>
                ))}
              </select>
            </Field>
            <Field label="Country" error={at('country')} hint={`Two letters (US, GB, FR): where its national numbers belong${country ? `; empty: ${country}, the tenant's` : "; empty: the tenant's"}`}>
              <input name="country" value={d.country} onChange={(e) => set({ country: e.target.value.toUpperCase() })} maxLength={2} placeholder={country ?? ''} autoCapitalize="characters" />
            </Field>
            <Field label="Where the dialled number is" error={at('dialledNumberHeader')} hint="In calls from the carrier: which header holds the number the caller dialled (one of ours)">
              <select name="dialledNumberHeader" value={d.dialledNumberHeader} onChange={(e) => set({ dialledNumberHeader: e.target.value })}>
                {DIALLED_NUMBER_HEADERS.map((o) => (
                  <option key={o.value} value={o.value}>
                    {o.label}
                  </option>
                ))}
              </select>
            </Field>
          </div>
        </fieldset>

        <fieldset>
          <legend>Signalling, media and limits</legend>
          <div className="form-grid">
            <Field label="From domain" error={at('fromDomain')} hint="The host in our From and registration; empty: the first server's">
              <input name="fromDomain" value={d.fromDomain} onChange={(e) => set({ fromDomain: e.target.value })} autoCapitalize="none" spellCheck={false} />
            </Field>
            <Field label="Outbound proxy" error={at('outboundProxy')} hint="A SIP URI every request goes through, e.g. sip:proxy.example.com;lr; empty: none">
              <input name="outboundProxy" value={d.outboundProxy} onChange={(e) => set({ outboundProxy: e.target.value })} autoCapitalize="none" spellCheck={false} />
            </Field>
            <Field label="Codecs" error={problems.list('codecs', (i) => `codec ${i + 1}`)} hint="In order of preference: PCMU, PCMA, G722, opus…">
              <input name="codecs" value={d.codecs} onChange={(e) => set({ codecs: e.target.value })} autoCapitalize="none" spellCheck={false} />
            </Field>
            <Field label="DTMF mode" error={at('dtmfMode')}>
              <select name="dtmfMode" value={d.dtmfMode} onChange={(e) => set({ dtmfMode: e.target.value })}>
                {DTMF_MODES.map((o) => (
                  <option key={o.value} value={o.value}>
                    {o.label}
                  </option>
                ))}
              </select>
            </Field>
            <Field label="Max calls at once" error={at('maxCalls')} hint="In and out together; 0: no limit">
              <input name="maxCalls" type="number" min={0} max={100000} value={d.maxCalls} onChange={(e) => set({ maxCalls: e.target.value })} />
            </Field>
            <Field label="Calls per second" error={at('maxCallsPerSecond')} hint="New outbound calls; 0: no limit">
              <input name="maxCallsPerSecond" type="number" min={0} max={10000} value={d.maxCallsPerSecond} onChange={(e) => set({ maxCallsPerSecond: e.target.value })} />
            </Field>
            <Field label="Keepalive (seconds)" error={at('keepaliveSeconds')} hint="An OPTIONS to each server this often marks it up or down; 0: none">
              <input name="keepaliveSeconds" type="number" min={0} max={3600} value={d.keepaliveSeconds} onChange={(e) => set({ keepaliveSeconds: e.target.value })} />
            </Field>
          </div>
        </fieldset>

        <FormAlert problems={problems} placed={PLACED} />
        <div className="row">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Saving…' : editing ? 'Save trunk' : 'Add trunk'}
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
