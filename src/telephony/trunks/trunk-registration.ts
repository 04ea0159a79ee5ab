/**
 * Registration trunks: we REGISTER with the carrier (rfc3261#section-10.2) so that it knows where to send the calls
 * for our numbers, answering its 401/407 with the trunk's digest credentials, and keep the binding alive.
 *
 * Per trunk (enabled, `auth: 'registration'`):
 *
 *   registering ──2xx──> registered ──refresh 2xx──> registered
 *   registering/registered ──refused, timeout, unreachable──> failed ──2xx (a later try)──> registered
 *   any ──the trunk is disabled──> disabled (un-REGISTER sent)
 *
 * - The REGISTER goes to the trunk's first server, and on failure to the next ones in order at once; when every
 *   server failed, it waits (30 s doubling to 10 min, jittered so that trunks do not try again all together, or the
 *   failure's Retry-After) and starts again from the first. A refresh goes to the server that took the binding.
 * - AOR `sip:<username>@<fromDomain, else the first server's host>`; Request-URI `sip:<fromDomain>`, else the
 *   server's own address (rfc3261#section-10.2: the registrar's domain, no user part); the digest username is
 *   `authUsername`, else `username`. Expires the trunk's `registerExpires`, raised to the Min-Expires of a
 *   423 Interval Too Brief (rfc3261#section-10.2.8). The binding is refreshed at half the expiry the 200 granted (our
 *   Contact's `expires` parameter, else its Expires header, rfc3261#section-10.2.4).
 * - One Call-ID for all the REGISTERs of a registration, CSeq rising by one for each (rfc3261#section-10.2.4): a
 *   registrar orders the requests of one registration by them, and drops an out-of-order one. A trunk whose
 *   servers or credentials changed is un-registered and registered anew, with a new Call-ID.
 * - A 401/407 is answered once with credentials; refused again without `stale=true` it is a wrong password: the
 *   trunk fails (lastError `401 Unauthorized`, or the registrar's 403) instead of looping (see DigestClient).
 *
 * The Contact: `<sip:tr-<12 hex>@<our address>:<port>;transport=...>`, the address and port the stack advertises on
 * that flow (its public host when one is set), as the Contact of our calls does. The user part is a token made from the trunk's
 * id ({@link trunkContactUser}), the same after a restart (a carrier still holding an old binding sends its calls
 * to it), and unique even when two carriers gave us the same username. A carrier sends a call for a registration
 * trunk to the Contact we registered, so the call manager finds the trunk from an INVITE's Request-URI user with
 * {@link TrunkRegistrations.trunkOfContactUser}; the username itself is accepted too when only one trunk has it
 * (carriers that address calls to the AOR).
 */
import { createHash } from 'node:crypto';
import dns from 'node:dns/promises';
import net from 'node:net';
import {
  type ClientTransaction,
  contactHeader,
  DigestClient,
  type Flow,
  hostForUri,
  isSipUri,
  type NameAddr,
  parseDecimal,
  parseUri,
  randomToken,
  SipHeaders,
  SipRequest,
  type SipResponse,
  type SipStack,
  SipSyntaxError,
  type SipUri,
} from '../../sip/index.ts';
import type { Trunk, TrunkServer } from './types.ts';

export type TrunkRegistrationState = 'registering' | 'registered' | 'failed' | 'disabled';

export interface TrunkRegistrationStatus {
  trunkId: string;
  tenantId: string;
  state: TrunkRegistrationState;
  /** Why the last try failed: `403 Forbidden`, `401 Unauthorized`, `timeout`, `no such host`...; null once registered. */
  lastError: string | null;
  /** When the state last changed. */
  since: Date;
  /** When the carrier's binding ends unless refreshed; null when not registered. */
  expiresAt: Date | null;
  /** The index in `trunk.servers` of the server registered with, or being tried. */
  server: number;
}

export interface TrunkRegistrationOptions {
  /** The wait after every server failed, doubled after each round that failed again, ±20%. */
  retryMs: number;
  maxRetryMs: number;
  /** How long an un-REGISTER (on stop, change or close) waits for its answer. */
  unregisterTimeoutMs: number;
  onError?: (err: unknown, context: string) => void;
  /** In [0, 1): jitter (tests fix it). */
  random?: () => number;
}

export const DEFAULT_TRUNK_REGISTRATION_OPTIONS: TrunkRegistrationOptions = { retryMs: 30_000, maxRetryMs: 600_000, unregisterTimeoutMs: 2_000 };

/** The Contact user part of a trunk's registration: `tr-` and 12 hex digits of a hash of its id, stable across restarts. */
export function trunkContactUser(trunkId: string): string {
  return `tr-${createHash('sha256').update(trunkId).digest('hex').slice(0, 12)}`;
}

/** The carrier's SIP domain: the host of our From and of a registration's AOR. */
export function carrierDomain(trunk: Trunk): string {
  return trunk.fromDomain ?? (trunk.servers[0] as TrunkServer).host;
}

/** A failure to reach a server before any SIP was exchanged; its message is the status's lastError. */
export class TrunkUnreachableError extends Error {
  override readonly name = 'TrunkUnreachableError';
}

/** Where a request for one of a trunk's servers goes: a flow, and the Route to put in it (the outbound proxy's). */
export interface TrunkPath {
  flow: Flow;
  route: string | undefined;
}

const DEFAULT_PORTS: Record<string, number> = { udp: 5060, tcp: 5060, tls: 5061 };

/** `sip:host[:port][;transport=tcp]` for a server: its address as a SIP URI (default port and UDP left out). */
export function trunkServerUri(server: TrunkServer): string {
  const port = server.port === DEFAULT_PORTS[server.transport] ? '' : `:${server.port}`;
  return `sip:${hostForUri(server.host)}${port}${server.transport === 'udp' ? '' : `;transport=${server.transport}`}`;
}

/** A host name resolved to one address (IPv4 first: our UDP socket is usually IPv4); an address is taken as it is. */
async function resolveHost(host: string): Promise<string> {
  const bare = host.replace(/^\[|\]$/g, '');
  if (net.isIP(bare)) return bare;
  try {
    const all = await dns.lookup(bare, { all: true });
    const chosen = all.find((a) => a.family === 4) ?? all[0];
    if (!chosen) throw new TrunkUnreachableError('no such host');
    return chosen.address;
  } catch (err) {
    if (err instanceof TrunkUnreachableError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new TrunkUnreachableError(code === 'ENOTFOUND' || code === 'ENODATA' ? 'no such host' : `name lookup failed (${code ?? 'error'})`);
  }
}

/**
 * A flow to a trunk's server, or to its outbound proxy (then with a loose-routing Route to it, rfc3261#section-8.1.2:
 * the proxy is a pre-loaded route). The host is resolved here, so that a name that does not resolve fails at once
 * ('no such host') instead of as a silent timeout, and a connection that cannot be opened says so.
 */
export async function reachTrunkServer(stack: SipStack, trunk: Trunk, server: TrunkServer): Promise<TrunkPath> {
  let host = server.host;
  let port = server.port;
  let protocol = server.transport.toUpperCase();
  let route: string | undefined;
  if (trunk.outboundProxy) {
    let proxy: SipUri;
    try {
      const uri = parseUri(trunk.outboundProxy);
      if (!isSipUri(uri)) throw new TrunkUnreachableError('the outbound proxy is not a SIP URI');
      proxy = uri;
    } catch (err) {
      if (err instanceof TrunkUnreachableError) throw err;
      throw new TrunkUnreachableError('the outbound proxy is not a SIP URI');
    }
    protocol = (proxy.params.get('transport') ?? (proxy.scheme === 'sips' ? 'tls' : 'udp')).toUpperCase();
    host = proxy.host;
    port = proxy.port ?? (protocol === 'TLS' ? 5061 : 5060);
    route = `<${trunk.outboundProxy.replace(/;lr\b/i, '')};lr>`;
  }
  if (!stack.transport(protocol)) throw new TrunkUnreachableError(`no ${protocol} transport`);
  const address = await resolveHost(host);
  try {
    return { flow: await stack.flowTo(protocol, address, port), route };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TrunkUnreachableError(code === 'ECONNREFUSED' ? 'connection refused' : `cannot connect (${code ?? (err as Error).message})`);
  }
}

/** `403 Forbidden`: what a failure response says, for lastError. */
function describeResponse(response: SipResponse): string {
  return `${response.status} ${response.reason}`;
}

/** The seconds of a Retry-After (rfc3261#section-20.33), if it has them. */
function retryAfterOf(response: SipResponse): number | undefined {
  const m = /^\s*(\d{1,10})/.exec(response.headers.get('Retry-After') ?? '');
  return m ? Number(m[1]) : undefined;
}

/** The fields whose change means registering anew (another Call-ID, after un-registering the old binding). */
function registrationKey(trunk: Trunk): string {
  return JSON.stringify([trunk.servers, trunk.username, trunk.authUsername, trunk.password, trunk.fromDomain, trunk.registerExpires, trunk.outboundProxy]);
}

/** One trunk's registration: its Call-ID, CSeq, digest client, server, timers. */
class TrunkRegistration {
  status: TrunkRegistrationStatus;
  readonly key: string;
  readonly contactUser: string;
  private readonly callId = randomToken(12);
  private readonly fromTag = randomToken();
  private readonly digest: DigestClient;
  private cseq = 0;
  private expires: number;
  private serverIndex = 0;
  /** Servers tried since the last success or the last wait; rounds failed in a row. */
  private triedInRound = 0;
  private failedRounds = 0;
  private retryAfter: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private transaction: ClientTransaction | undefined;
  /** Bumped at each new try and at stop: answers to an older try are ignored. */
  private generation = 0;
  /** The server that took our binding, and until when (ms since the epoch): an un-REGISTER goes there. */
  private bound: { server: TrunkServer; until: number } | undefined;
  /** The server a REGISTER is under way to: it may be making a binding. */
  private pending: TrunkServer | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    /** Replaced by a newer copy when only fields the registration does not use changed. */
    public trunk: Trunk,
    private readonly stack: SipStack,
    private readonly options: TrunkRegistrationOptions,
    private readonly changed: (registration: TrunkRegistration) => void,
  ) {
    this.key = registrationKey(trunk);
    this.contactUser = trunkContactUser(trunk.id);
    this.expires = trunk.registerExpires;
    this.digest = new DigestClient({ username: trunk.authUsername ?? trunk.username ?? '', password: trunk.password ?? '' });
    this.status = { trunkId: trunk.id, tenantId: trunk.tenantId, state: 'registering', lastError: null, since: new Date(), expiresAt: null, server: 0 };
  }

  get stopped(): boolean {
    return this.stopping !== undefined;
  }

  private update(change: Partial<Omit<TrunkRegistrationStatus, 'trunkId' | 'tenantId' | 'since'>>): void {
    const next = { ...this.status, ...change };
    if (next.state !== this.status.state) next.since = new Date();
    const same = next.state === this.status.state && next.lastError === this.status.lastError && next.server === this.status.server &&
      next.expiresAt?.getTime() === this.status.expiresAt?.getTime();
    this.status = next;
    if (!same) this.changed(this);
  }

  start(): void {
    if (!this.trunk.username) {
      this.update({ state: 'failed', lastError: 'no username' });
      return;
    }
    if (this.trunk.servers.length === 0) {
      this.update({ state: 'failed', lastError: 'no server' });
      return;
    }
    void this.register();
  }

  private uris(server: TrunkServer): { aor: string; requestUri: string } {
    const user = this.trunk.username as string;
    const domain = carrierDomain(this.trunk);
    const requestUri = this.trunk.fromDomain ? `sip:${hostForUri(this.trunk.fromDomain)}` : trunkServerUri(server);
    return { aor: `sip:${user}@${hostForUri(domain)}`, requestUri };
  }

  /** A REGISTER of ours, the next CSeq, asking for `expires` seconds (0: remove the binding). */
  private buildRegister(server: TrunkServer, path: TrunkPath, expires: number): SipRequest {
    const { aor, requestUri } = this.uris(server);
    const contact = contactHeader(this.contactUser, this.stack.advertisedHost(path.flow), this.stack.advertisedPort(path.flow.protocol), path.flow.protocol);
    const headers = new SipHeaders();
    if (path.route) headers.add('Route', path.route);
    headers
      .add('Max-Forwards', '70')
      .add('From', `<${aor}>;tag=${this.fromTag}`)
      .add('To', `<${aor}>`)
      .add('Call-ID', this.callId)
      .add('CSeq', `${++this.cseq} REGISTER`)
      .add('Contact', expires === 0 ? `${contact};expires=0` : contact)
      .add('Expires', String(expires));
    return new SipRequest('REGISTER', parseUri(requestUri), headers);
  }

  /**
   * Sends a REGISTER to `server` in a new transaction; final answers go to `onResponse`. A send that throws (the stack
   * is closing) is a timeout to the caller.
   */
  private send(request: SipRequest, server: TrunkServer, path: TrunkPath, onResponse: (response: SipResponse) => void, onTimeout: () => void): void {
    this.cseq = Math.max(this.cseq, request.cseq.seq);
    this.pending = server;
    try {
      this.transaction = this.stack.sendRequest(request, path.flow, {
        onResponse: (response) => {
          if (response.status < 200) return;
          this.pending = undefined;
          onResponse(response);
        },
        onTimeout: () => {
          this.pending = undefined;
          onTimeout();
        },
      });
    } catch (err) {
      this.options.onError?.(err, 'TrunkRegistration:send');
      this.pending = undefined;
      onTimeout();
    }
  }

  private async register(): Promise<void> {
    const generation = ++this.generation;
    const server = this.trunk.servers[this.serverIndex] as TrunkServer;
    this.update({ server: this.serverIndex });
    let path: TrunkPath;
    try {
      path = await reachTrunkServer(this.stack, this.trunk, server);
    } catch (err) {
      if (generation !== this.generation) return;
      if (!(err instanceof TrunkUnreachableError)) this.options.onError?.(err, 'TrunkRegistration:reach');
      this.fail(err instanceof TrunkUnreachableError ? err.message : 'unreachable', undefined);
      return;
    }
    if (generation !== this.generation) return;
    const attempt = (request: SipRequest) =>
      this.send(
        request,
        server,
        path,
        (response) => generation === this.generation && this.onFinal(request, response, server, path, attempt),
        () => generation === this.generation && this.fail('timeout', undefined),
      );
    attempt(this.buildRegister(server, path, this.expires));
  }

  private onFinal(request: SipRequest, response: SipResponse, server: TrunkServer, path: TrunkPath, attempt: (r: SipRequest) => void): void {
    const status = response.status;
    if (status === 401 || status === 407) {
      const again = this.digest.retry(request, response);
      if (again) attempt(again);
      else this.fail(describeResponse(response), response);
      return;
    }
    if (status === 423) {
      // rfc3261#section-10.2.8: ask again for at least Min-Expires.
      const min = this.headerSeconds(response, 'Min-Expires');
      if (min !== undefined && min > this.expires) {
        this.expires = min;
        attempt(this.buildRegister(server, path, this.expires));
      } else {
        this.fail(describeResponse(response), response);
      }
      return;
    }
    if (status >= 300) {
      this.fail(describeResponse(response), response);
      return;
    }
    const granted = this.grantedExpiry(response);
    if (granted === 0) {
      this.fail('the registrar kept no binding', response);
      return;
    }
    this.bound = { server, until: Date.now() + granted * 1000 };
    this.triedInRound = 0;
    this.failedRounds = 0;
    this.retryAfter = undefined;
    this.update({ state: 'registered', lastError: null, expiresAt: new Date(this.bound.until) });
    // Half the expiry: time for a refresh to fail over to another server before the binding ends.
    this.schedule(Math.max(1000, (granted * 1000) / 2), () => void this.register());
  }

  private headerSeconds(response: SipResponse, name: string): number | undefined {
    const raw = response.headers.get(name);
    if (raw === undefined) return undefined;
    try {
      return parseDecimal(raw, 0xffffffff, name);
    } catch (err) {
      if (err instanceof SipSyntaxError) return undefined;
      throw err;
    }
  }

  /** rfc3261#section-10.2.4: our Contact's expires parameter in the 200, else its Expires header, else what we asked. */
  private grantedExpiry(response: SipResponse): number {
    let contacts: NameAddr[];
    try {
      contacts = response.contacts;
    } catch (err) {
      if (!(err instanceof SipSyntaxError)) throw err;
      contacts = [];
    }
    const ours = contacts.find((c) => isSipUri(c.uri) && c.uri.user === this.contactUser);
    const param = ours?.params.get('expires');
    if (param) {
      try {
        return parseDecimal(param, 0xffffffff, 'expires');
      } catch (err) {
        if (!(err instanceof SipSyntaxError)) throw err;
      }
    }
    return this.headerSeconds(response, 'Expires') ?? this.expires;
  }

  /** The next server at once, or, once every server failed in this round, a wait and the first server again. */
  private fail(error: string, response: SipResponse | undefined): void {
    this.update({ state: 'failed', lastError: error, expiresAt: null });
    if (response) this.retryAfter = retryAfterOf(response) ?? this.retryAfter;
    this.triedInRound++;
    if (this.triedInRound < this.trunk.servers.length) {
      this.serverIndex = (this.serverIndex + 1) % this.trunk.servers.length;
      this.schedule(0, () => void this.register());
      return;
    }
    this.triedInRound = 0;
    this.serverIndex = 0;
    const { retryMs, maxRetryMs } = this.options;
    const backoff = Math.min(retryMs * 2 ** this.failedRounds, maxRetryMs) * (0.8 + 0.4 * (this.options.random ?? Math.random)());
    this.failedRounds++;
    const wait = this.retryAfter !== undefined ? Math.min(this.retryAfter * 1000, maxRetryMs) : backoff;
    this.retryAfter = undefined;
    this.schedule(wait, () => void this.register());
  }

  private schedule(ms: number, fire: () => void): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(fire, ms);
    this.timer.unref();
  }

  /**
   * Stops for good: no more tries, and an un-REGISTER (Expires: 0 on our Contact, rfc3261#section-10.2.2) to the server
   * that may hold our binding, answered within `unregisterTimeoutMs` or given up. Resolves when done; idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= this.unregister();
    return this.stopping;
  }

  private async unregister(): Promise<void> {
    this.generation++;
    clearTimeout(this.timer);
    this.transaction?.release();
    const server = this.pending ?? (this.bound && this.bound.until > Date.now() ? this.bound.server : undefined);
    if (!server) return;
    const generation = this.generation;
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const timer = setTimeout(done, this.options.unregisterTimeoutMs);
    timer.unref();
    try {
      const path = await reachTrunkServer(this.stack, this.trunk, server);
      const attempt = (request: SipRequest) =>
        this.send(
          request,
          server,
          path,
          (response) => {
            const again = response.status === 401 || response.status === 407 ? this.digest.retry(request, response) : undefined;
            if (again && generation === this.generation) attempt(again);
            else done();
          },
          done,
        );
      attempt(this.buildRegister(server, path, 0));
    } catch (err) {
      if (!(err instanceof TrunkUnreachableError)) this.options.onError?.(err, 'TrunkRegistration:unregister');
      done();
    }
    await finished;
    clearTimeout(timer);
    this.transaction?.release();
  }
}

/**
 * The registrations of every registration trunk: {@link sync} with the trunks the directory lists, read
 * {@link status}, hear changes with {@link onChange}, and {@link close} to un-register everything.
 */
export class TrunkRegistrations {
  private readonly registrations = new Map<string, TrunkRegistration>();
  /** Trunks listed but disabled: no registration, a status that says so. */
  private readonly disabled = new Map<string, TrunkRegistrationStatus>();
  /**
   * Un-REGISTERs under way, by trunk: a new registration of the same trunk starts after it, or the late un-REGISTER
   * (another Call-ID, the same Contact) would remove the binding just made (rfc3261#section-10.3, step 7).
   */
  private readonly unregistering = new Map<string, Promise<void>>();
  private readonly listeners = new Set<(status: TrunkRegistrationStatus) => void>();
  private readonly options: TrunkRegistrationOptions;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly stack: SipStack,
    options: Partial<TrunkRegistrationOptions> = {},
  ) {
    this.options = { ...DEFAULT_TRUNK_REGISTRATION_OPTIONS, ...options };
  }

  /**
   * Makes the registrations match `trunks`: a new enabled registration trunk starts registering; one whose servers,
   * credentials, domain, expiry or outbound proxy changed is un-registered and registered anew; a disabled one is
   * un-registered and reported `disabled`; one no longer listed is un-registered and forgotten (its listeners hear
   * `disabled` last). Trunks of `ip` authentication are not registered. Resolves when the un-REGISTERs this caused
   * were answered or given up (bounded by `unregisterTimeoutMs`); the new registrations go on by themselves.
   */
  sync(trunks: readonly Trunk[]): Promise<void> {
    if (this.closing) return Promise.resolve();
    const stops: Array<Promise<void>> = [];
    const listed = new Set<string>();
    for (const trunk of trunks) {
      if (trunk.auth !== 'registration') continue;
      listed.add(trunk.id);
      const current = this.registrations.get(trunk.id);
      if (!trunk.enabled) {
        if (current) stops.push(this.remove(current));
        if (!this.disabled.has(trunk.id)) {
          const status: TrunkRegistrationStatus = { trunkId: trunk.id, tenantId: trunk.tenantId, state: 'disabled', lastError: null, since: new Date(), expiresAt: null, server: 0 };
          this.disabled.set(trunk.id, status);
          this.emit(status);
        }
        continue;
      }
      this.disabled.delete(trunk.id);
      if (current && current.key === registrationKey(trunk)) {
        // The same registration: only fields it does not use changed (name, codecs...).
        current.trunk = trunk;
        continue;
      }
      if (current) stops.push(this.remove(current));
      this.add(trunk);
    }
    for (const [id, registration] of this.registrations) {
      if (!listed.has(id)) stops.push(this.remove(registration, true));
    }
    for (const id of this.disabled.keys()) {
      if (!listed.has(id)) this.disabled.delete(id);
    }
    return Promise.all(stops).then(() => undefined);
  }

  /** A new registration, started once an un-REGISTER of the same trunk still under way is done. */
  private add(trunk: Trunk): void {
    const registration = new TrunkRegistration(trunk, this.stack, this.options, (r) => {
      if (this.registrations.get(r.trunk.id) === r) this.emit(r.status);
    });
    this.registrations.set(trunk.id, registration);
    this.emit(registration.status);
    void (this.unregistering.get(trunk.id) ?? Promise.resolve()).then(() => {
      if (this.registrations.get(trunk.id) === registration && !registration.stopped && !this.closing) registration.start();
    });
  }

  /** Stops a registration and forgets it; `gone` (the trunk is no longer listed) tells the listeners it is disabled. */
  private remove(registration: TrunkRegistration, gone = false): Promise<void> {
    const id = registration.trunk.id;
    if (this.registrations.get(id) === registration) this.registrations.delete(id);
    if (gone) this.emit({ ...registration.status, state: 'disabled', lastError: null, expiresAt: null, since: new Date() });
    const stopped = registration.stop();
    this.unregistering.set(id, stopped);
    void stopped.then(() => {
      if (this.unregistering.get(id) === stopped) this.unregistering.delete(id);
    });
    return stopped;
  }

  /** A trunk's registration status; undefined for a trunk not registered (`ip` authentication, or not listed). */
  status(trunkId: string): TrunkRegistrationStatus | undefined {
    const status = this.registrations.get(trunkId)?.status ?? this.disabled.get(trunkId);
    return status && { ...status };
  }

  statuses(): TrunkRegistrationStatus[] {
    return [...[...this.registrations.values()].map((r) => ({ ...r.status })), ...[...this.disabled.values()].map((s) => ({ ...s }))];
  }

  /** Hears every status change; answers the function that stops it. A throwing listener cannot hurt the others. */
  onChange(listener: (status: TrunkRegistrationStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(status: TrunkRegistrationStatus): void {
    for (const listener of this.listeners) {
      try {
        listener({ ...status });
      } catch (err) {
        this.options.onError?.(err, 'TrunkRegistrations:onChange');
      }
    }
  }

  /**
   * The trunk an INVITE addressed to `user` (its Request-URI user part) comes in on: the trunk whose Contact token it
   * is ({@link trunkContactUser}), else the one registration trunk whose username it is (carriers that send calls
   * to the AOR); undefined when none, or when the username is shared by several trunks.
   */
  trunkOfContactUser(user: string): Trunk | undefined {
    let byUsername: Trunk | undefined;
    let shared = false;
    for (const registration of this.registrations.values()) {
      if (registration.contactUser === user) return registration.trunk;
      if (registration.trunk.username === user) {
        shared = byUsername !== undefined;
        byUsername = registration.trunk;
      }
    }
    return shared ? undefined : byUsername;
  }

  /** Un-registers every trunk (each un-REGISTER bounded by `unregisterTimeoutMs`) and stops all timers; idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const all = [...this.registrations.values()];
      this.registrations.clear();
      this.disabled.clear();
      await Promise.all([...all.map((r) => r.stop()), ...this.unregistering.values()]);
      this.unregistering.clear();
      this.listeners.clear();
    })();
    return this.closing;
  }
}
