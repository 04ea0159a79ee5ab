/**
 * Whether a trunk's servers answer: an OPTIONS to each server every `keepaliveSeconds` (rfc3261#section-11, the
 * keepalive carriers expect). Any final response marks the server up, whatever its status: a 404, 405 or 501 still
 * proves that a SIP server is there and reachable, and carriers seldom implement OPTIONS well. No response within
 * the transaction's Timer F (64*T1, rfc3261#section-17.1.2.2), a name that does not resolve, or a connection that
 * cannot be opened marks it down. Outbound routes skip a trunk whose servers are all down.
 *
 * Per server:
 *
 *   unknown ──any response──> up ──timeout, unreachable──> down ──any response──> up
 *   unknown ──timeout, unreachable──> down
 *
 * `unknown` (not probed yet) counts as up: a trunk is not refused calls before its first answer. A trunk with
 * `keepaliveSeconds: 0` is never probed and always up, as is a trunk this object was not given.
 *
 * The next OPTIONS to a server goes `keepaliveSeconds` after the previous one left, or at once if that one took
 * longer: never two at a time to one server. Through the trunk's outbound proxy when it has one, as its calls go.
 */
import { type ClientTransaction, parseUri, randomToken, SipHeaders, SipRequest, type SipStack } from '../../sip/index.ts';
import { carrierDomain, reachTrunkServer, TrunkUnreachableError, trunkServerUri } from './trunk-registration.ts';
import type { Trunk, TrunkServer, TrunkTransport } from './types.ts';

export type TrunkServerState = 'unknown' | 'up' | 'down';

export interface TrunkServerHealth {
  host: string;
  port: number;
  transport: TrunkTransport;
  state: TrunkServerState;
  /** The status of the last answer (any counts); null before one. */
  lastStatus: number | null;
  /** Why it is down: `timeout`, `no such host`, `connection refused`...; null when up. */
  lastError: string | null;
  /** When the state last changed. */
  since: Date;
}

export interface TrunkHealthStatus {
  trunkId: string;
  tenantId: string;
  /** Some server is not down (or the trunk is not probed). */
  up: boolean;
  /** Whether OPTIONS are sent (`keepaliveSeconds` > 0). */
  probed: boolean;
  /** In the order of `trunk.servers`. */
  servers: TrunkServerHealth[];
}

export interface TrunkHealthOptions {
  onError?: (err: unknown, context: string) => void;
}

/** The fields whose change means probing anew. */
function probeKey(trunk: Trunk): string {
  return JSON.stringify([trunk.servers, trunk.outboundProxy, trunk.keepaliveSeconds, trunk.fromDomain, trunk.username]);
}

class ServerProbe {
  health: TrunkServerHealth;
  private timer: NodeJS.Timeout | undefined;
  private transaction: ClientTransaction | undefined;
  private stopped = false;

  constructor(
    private readonly trunk: Trunk,
    private readonly server: TrunkServer,
    private readonly stack: SipStack,
    private readonly options: TrunkHealthOptions,
    private readonly changed: () => void,
  ) {
    this.health = { host: server.host, port: server.port, transport: server.transport, state: 'unknown', lastStatus: null, lastError: null, since: new Date() };
  }

  start(): void {
    void this.probe();
  }

  private set(state: TrunkServerState, lastStatus: number | null, lastError: string | null): void {
    const moved = state !== this.health.state;
    const changed = moved || lastError !== this.health.lastError;
    this.health = { ...this.health, state, lastStatus: lastStatus ?? this.health.lastStatus, lastError, since: moved ? new Date() : this.health.since };
    if (changed) this.changed();
  }

  private buildOptions(path: { route: string | undefined }): SipRequest {
    const target = trunkServerUri(this.server);
    const headers = new SipHeaders();
    if (path.route) headers.add('Route', path.route);
    headers
      .add('Max-Forwards', '70')
      .add('From', `<sip:${this.trunk.username ?? 'keepalive'}@${carrierDomain(this.trunk)}>;tag=${randomToken()}`)
      .add('To', `<${target.replace(/;transport=\w+$/, '')}>`)
      .add('Call-ID', randomToken(12))
      .add('CSeq', '1 OPTIONS')
      .add('Accept', 'application/sdp');
    return new SipRequest('OPTIONS', parseUri(target), headers);
  }

  private async probe(): Promise<void> {
    if (this.stopped) return;
    const started = Date.now();
    const next = () => {
      if (this.stopped) return;
      const wait = Math.max(0, this.trunk.keepaliveSeconds * 1000 - (Date.now() - started));
      this.timer = setTimeout(() => void this.probe(), wait);
      this.timer.unref();
    };
    try {
      const path = await reachTrunkServer(this.stack, this.trunk, this.server);
      if (this.stopped) return;
      this.transaction = this.stack.sendRequest(this.buildOptions(path), path.flow, {
        onResponse: (response) => {
          if (response.status < 200 || this.stopped) return;
          this.set('up', response.status, null);
          next();
        },
        onTimeout: () => {
          if (this.stopped) return;
          this.set('down', null, 'timeout');
          next();
        },
      });
    } catch (err) {
      if (this.stopped) return;
      if (!(err instanceof TrunkUnreachableError)) this.options.onError?.(err, 'TrunkHealth:probe');
      this.set('down', null, err instanceof TrunkUnreachableError ? err.message : 'unreachable');
      next();
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.transaction?.release();
  }
}

class TrunkProbe {
  readonly key: string;
  readonly servers: ServerProbe[];

  constructor(
    public trunk: Trunk,
    stack: SipStack,
    options: TrunkHealthOptions,
    changed: (probe: TrunkProbe) => void,
  ) {
    this.key = probeKey(trunk);
    this.servers = trunk.servers.map((server) => new ServerProbe(trunk, server, stack, options, () => changed(this)));
  }

  get status(): TrunkHealthStatus {
    const servers = this.servers.map((s) => ({ ...s.health }));
    return { trunkId: this.trunk.id, tenantId: this.trunk.tenantId, up: servers.length === 0 || servers.some((s) => s.state !== 'down'), probed: true, servers };
  }
}

/**
 * The OPTIONS keepalives of every trunk: {@link sync} with the trunks the directory lists, ask {@link isUp} and
 * {@link serverUp} when choosing where a call goes, hear changes with {@link onChange}, {@link close} to stop.
 */
export class TrunkHealth {
  private readonly probes = new Map<string, TrunkProbe>();
  /** Listed trunks with `keepaliveSeconds: 0`: always up, reported as not probed. */
  private readonly unprobed = new Map<string, { trunk: Trunk; since: Date }>();
  private readonly listeners = new Set<(status: TrunkHealthStatus) => void>();
  private closed = false;

  constructor(
    private readonly stack: SipStack,
    private readonly options: TrunkHealthOptions = {},
  ) {}

  /**
   * Probes exactly the enabled trunks of `trunks` that have a keepalive: new ones start at once (first OPTIONS now),
   * changed ones (servers, outbound proxy, interval, From) start over, missing or disabled ones stop.
   */
  sync(trunks: readonly Trunk[]): void {
    if (this.closed) return;
    const listed = new Set<string>();
    const wasUnprobed = new Map(this.unprobed);
    this.unprobed.clear();
    for (const trunk of trunks) {
      if (!trunk.enabled) continue;
      listed.add(trunk.id);
      const current = this.probes.get(trunk.id);
      if (trunk.keepaliveSeconds <= 0 || trunk.servers.length === 0) {
        this.unprobed.set(trunk.id, { trunk, since: wasUnprobed.get(trunk.id)?.since ?? new Date() });
        continue;
      }
      if (current && current.key === probeKey(trunk)) {
        current.trunk = trunk;
        continue;
      }
      this.stopProbe(trunk.id);
      const probe = new TrunkProbe(trunk, this.stack, this.options, (p) => {
        if (this.probes.get(p.trunk.id) === p) this.emit(p.status);
      });
      this.probes.set(trunk.id, probe);
      for (const server of probe.servers) server.start();
    }
    for (const id of [...this.probes.keys()]) {
      if (!listed.has(id) || this.unprobed.has(id)) this.stopProbe(id);
    }
  }

  private stopProbe(trunkId: string): void {
    const probe = this.probes.get(trunkId);
    if (!probe) return;
    this.probes.delete(trunkId);
    for (const server of probe.servers) server.stop();
  }

  /** Whether calls may go to the trunk: some server is not down. A trunk not probed (no keepalive, or unknown here) is up. */
  isUp(trunkId: string): boolean {
    return this.probes.get(trunkId)?.status.up ?? true;
  }

  /** Whether the trunk's server at `index` (in `trunk.servers`) is not down; true when not probed. */
  serverUp(trunkId: string, index: number): boolean {
    const server = this.probes.get(trunkId)?.servers[index];
    return server ? server.health.state !== 'down' : true;
  }

  /** Every listed enabled trunk's health, the unprobed ones as up. */
  status(): TrunkHealthStatus[] {
    const unprobed = [...this.unprobed.values()].map(({ trunk, since }): TrunkHealthStatus => ({
      trunkId: trunk.id,
      tenantId: trunk.tenantId,
      up: true,
      probed: false,
      servers: trunk.servers.map((s) => ({ host: s.host, port: s.port, transport: s.transport, state: 'unknown', lastStatus: null, lastError: null, since })),
    }));
    return [...[...this.probes.values()].map((p) => p.status), ...unprobed];
  }

  /** Hears each change of a server's state (or of why it is down); answers the function that stops it. */
  onChange(listener: (status: TrunkHealthStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(status: TrunkHealthStatus): void {
    for (const listener of this.listeners) {
      try {
        listener(status);
      } catch (err) {
        this.options.onError?.(err, 'TrunkHealth:onChange');
      }
    }
  }

  /** Stops every probe and timer; idempotent. */
  close(): void {
    this.closed = true;
    for (const id of [...this.probes.keys()]) this.stopProbe(id);
    this.unprobed.clear();
    this.listeners.clear();
  }
}
