/**
 * The engine's side of the carriers: it keeps our registrations with the carriers that want them and probes every
 * trunk's servers, both following the directory's trunks as they change; it tells the calls which trunk an INVITE
 * comes from and plans calls out; and it answers a trunk's status (up, down, registered, last error) for the API.
 */
import type { IncomingRequest, SipStack } from '../../sip/index.ts';
import { isSipUri } from '../../sip/index.ts';
import type { CallManager } from '../calls/call-manager.ts';
import type { CallCarriers } from '../calls/carrier-calls.ts';
import { OutboundRouter } from './outbound.ts';
import { TrunkHealth } from './trunk-health.ts';
import { TrunkRegistrations } from './trunk-registration.ts';
import type { CarrierDirectory, Trunk } from './types.ts';

/** A trunk's state as an operator reads it: registration first (for a registration trunk), then its servers' health. */
export interface TrunkLinkStatus {
  state: 'up' | 'down' | 'registered' | 'registering' | 'failed' | 'disabled' | 'unknown';
  registered: boolean | null;
  lastError: string | null;
  since: Date | null;
}

export class CarrierLinks implements CallCarriers {
  readonly outbound: OutboundRouter;
  readonly registrations: TrunkRegistrations;
  readonly health: TrunkHealth;
  private readonly unsubscribe: () => void;
  private syncing: Promise<void> = Promise.resolve();

  constructor(
    readonly directory: CarrierDirectory,
    stack: SipStack,
    calls: Pick<CallManager, 'externalCalls' | 'trunkCalls'>,
    private readonly log: { warn(message: string, details: Record<string, unknown>): void; error(err: unknown, context: string): void },
  ) {
    const onError = (err: unknown, context: string) => log.error(err, context);
    this.registrations = new TrunkRegistrations(stack, { onError });
    this.health = new TrunkHealth(stack, { onError });
    this.outbound = new OutboundRouter(directory, {
      stack,
      externalCalls: (tenantId) => calls.externalCalls(tenantId),
      trunkCalls: (trunkId) => calls.trunkCalls(trunkId),
      serverUp: (trunkId, server) => this.health.serverUp(trunkId, server),
    });
    this.unsubscribe = directory.onTrunksChanged(() => this.sync());
  }

  /** Registers and probes the directory's trunks as they are now (again after each change, one sync at a time). */
  sync(): Promise<void> {
    this.syncing = this.syncing.then(async () => {
      const trunks = this.directory.trunks();
      this.health.sync(trunks);
      await this.registrations.sync(trunks);
    }).catch((err: unknown) => this.log.error(err, 'trunks:sync'));
    return this.syncing;
  }

  trunkOf(req: IncomingRequest): Trunk | undefined {
    const byAddress = this.directory.trunkByAddress(req.flow.remoteAddress);
    if (byAddress) return byAddress;
    // A registration trunk's carrier calls the contact we registered, from addresses it need not have told us.
    const uri = req.message.uri;
    const trunk = isSipUri(uri) && uri.user ? this.registrations.trunkOfContactUser(uri.user) : undefined;
    return trunk?.auth === 'registration' ? trunk : undefined;
  }

  refused(message: string, details: Record<string, unknown>): void {
    this.log.warn(message, details);
  }

  warn(message: string, details: Record<string, unknown>): void {
    this.log.warn(message, details);
  }

  status(tenantId: string, trunkId: string): TrunkLinkStatus | undefined {
    const trunk = this.directory.trunk(tenantId, trunkId);
    if (!trunk) return undefined;
    if (!trunk.enabled) return { state: 'disabled', registered: null, lastError: null, since: null };
    const health = this.health.status().find((h) => h.trunkId === trunkId);
    const down = health?.probed === true && !health.up;
    const serverError = health?.servers.find((s) => s.lastError !== null)?.lastError ?? null;
    if (trunk.auth === 'registration') {
      const reg = this.registrations.status(trunkId);
      if (!reg) return { state: 'unknown', registered: false, lastError: null, since: null };
      const state = down ? 'down' : reg.state === 'registered' ? 'registered' : reg.state;
      return { state, registered: reg.state === 'registered', lastError: reg.lastError ?? serverError, since: reg.since };
    }
    // Up once a server answered; before the first answer (or with no keepalive) nobody knows.
    if (!health?.probed || (!down && !health.servers.some((server) => server.state === 'up'))) return { state: 'unknown', registered: null, lastError: serverError, since: null };
    return { state: down ? 'down' : 'up', registered: null, lastError: serverError, since: null };
  }

  async close(): Promise<void> {
    this.unsubscribe();
    await this.syncing;
    this.health.close();
    await this.registrations.close();
  }
}
