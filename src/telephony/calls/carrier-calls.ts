/**
 * Calls across the building's walls, as the call manager routes them: a carrier's INVITE to one of the tenant's
 * phone numbers, an extension's call to a number outside (the tenant's outbound routes and dial policy, then the
 * route's trunks in turn), transfers and a router's callers sent outside. Only a trunk's own addresses (or the
 * contact registered with it) reach `fromTrunk`, and only an authenticated extension, or the contact center, reaches
 * a route: nothing from a trunk is ever routed out again.
 */
import type { PbxEventBus } from '../../events/index.ts';
import { type Flow, type IncomingRequest, isSipUri, parseNameAddr } from '../../sip/index.ts';
import type { Binding } from '../location-service.ts';
import { toE164 } from '../trunks/numbering.ts';
import type { DialPlan, DialRefusal, OutboundRouter } from '../trunks/outbound.ts';
import type { CarrierDirectory, Trunk } from '../trunks/types.ts';
import type { Call, CallParty, CarrierLink, RingTarget } from './call.ts';
import type { CallDirectory, CallRouter } from './routing.ts';

/** The telephone network as calls reach it: who sent an INVITE from outside, what a DID leads to, and routes out. */
export interface CallCarriers {
  directory: CarrierDirectory;
  outbound: OutboundRouter;
  /** The trunk an INVITE comes from: one of its allowed addresses, or the contact we registered with it. */
  trunkOf(req: IncomingRequest): Trunk | undefined;
  /** A call from a carrier refused (an unknown number, a trunk at its cap): one log line each. */
  refused(message: string, details: Record<string, unknown>): void;
  /** Something an operator should know of a trunk's calls (a setting that cannot apply): one log line. */
  warn(message: string, details: Record<string, unknown>): void;
}

/** What carrier calls need of the call manager. */
export interface CarrierCallsHost {
  readonly directory: CallDirectory;
  readonly bus: PbxEventBus;
  router(): CallRouter | undefined;
  trunkCalls(trunkId: string): number;
  create(tenantId: string, domain: string, caller: CallParty, dialed: string, routed: boolean, req: IncomingRequest | undefined, calleeExtensionId?: string, carrier?: CarrierLink): Call;
  contactsOf(extensionId: string): Promise<Array<{ binding: Binding; flow: Flow }>>;
  /** Refuses a new call that cannot be routed at all (483, 422); true when it did. */
  refusedAtTheDoor(req: IncomingRequest): boolean;
}

/** Seconds a call out rings at the far end before it is given up. */
export const OUTBOUND_RING_SECONDS = 120;

/** The user part of a SIP URI in a header's name-addr, if any. */
function userOf(value: string | undefined): string | undefined {
  if (!value) return undefined;
  try {
    const uri = parseNameAddr(value).uri;
    return isSipUri(uri) ? uri.user : undefined;
  } catch {
    return undefined;
  }
}

export class CarrierCalls {
  /** Trunks already warned about a DTMF mode direct media cannot apply: once each, not once per call. */
  private readonly dtmfWarned = new Set<string>();

  constructor(
    private readonly carriers: CallCarriers,
    private readonly host: CarrierCallsHost,
  ) {}

  trunkOf(req: IncomingRequest): Trunk | undefined {
    return this.carriers.trunkOf(req);
  }

  /**
   * An extension's call to a number outside: its tenant's outbound routes and dial policy decide (403 for a class the
   * user may not dial, 404 for a number no route takes, 503 past the tenant's cap), then the route's trunks are tried
   * in turn. Only an authenticated extension gets here.
   */
  async dialOut(req: IncomingRequest, tenantId: string, domain: string, caller: CallParty, dialed: string): Promise<void> {
    const carriers = this.carriers;
    const plan = await carriers.outbound.plan(tenantId, caller.extensionId, dialed);
    if (!plan.ok) {
      req.reply(plan.status, { reason: plan.reason });
      return;
    }
    const carrier: CarrierLink = { direction: 'outbound', trunkId: undefined, externalNumber: plan.number, did: null, callerId: plan.callerId };
    const call = this.host.create(tenantId, domain, caller, dialed, false, req, undefined, carrier);
    await call.dialOut(plan.attempts((trunk) => this.useTrunk(call, trunk)), OUTBOUND_RING_SECONDS);
  }

  /** How `extensionId` may dial `number` outside: the plan, or why not. */
  planOut(tenantId: string, extensionId: string | undefined, number: string): Promise<DialPlan | DialRefusal> {
    return this.carriers.outbound.plan(tenantId, extensionId, number);
  }

  /**
   * A number outside as the target of a transfer or a consultation by `extensionId` (its dial policy applies): the
   * first trunk of the route that can be reached now. A transfer rings one carrier: no failover to the next.
   * Undefined when no trunk of the route can be reached.
   */
  async outsideTarget(call: Call, extensionId: string | undefined, number: string): Promise<{ ok: true; target: RingTarget } | DialRefusal | undefined> {
    const plan = await this.planOut(call.tenantId, extensionId, number);
    if (!plan.ok) return plan;
    let trunk: Trunk | undefined;
    for (const attempt of plan.attempts((t) => (trunk = t))) {
      const target = await attempt;
      if (!target) continue;
      call.carrier ??= { direction: 'outbound', trunkId: undefined, externalNumber: plan.number, did: null, callerId: plan.callerId };
      if (trunk) this.useTrunk(call, trunk);
      return { ok: true, target };
    }
    return undefined;
  }

  /**
   * Sends a caller the router let go to a number outside (a router's fallback), through the tenant's routes with no
   * user's policy: false when no route takes the number. The call then ends as its trunks end it. `callerId` (the
   * router's own, E.164) is presented instead of the route's when given.
   */
  async sendOutside(call: Call, number: string, callerId?: string | null): Promise<boolean> {
    const plan = await this.carriers.outbound.plan(call.tenantId, undefined, number, callerId);
    if (!plan.ok) return false;
    call.carrier ??= { direction: 'outbound', trunkId: undefined, externalNumber: plan.number, did: null, callerId: plan.callerId };
    await call.dialOut(plan.attempts((trunk) => this.useTrunk(call, trunk)), OUTBOUND_RING_SECONDS);
    return true;
  }

  /** The call goes out through `trunk` now (a failed trunk's successor replaces it). */
  useTrunk(call: Call, trunk: Trunk): void {
    if (!call.carrier) return;
    call.carrier.trunkId = trunk.id;
    this.applyDtmfMode(call, trunk, 'callee');
    this.host.bus.emit('call.trunk', { tenantId: call.tenantId, callId: call.id, trunkId: trunk.id, direction: call.carrier.direction });
  }

  /**
   * A call from a carrier (an INVITE from a trunk's address, or to the contact we registered with it): the number
   * dialled (where the trunk says it is) must be one of the tenant's phone numbers, which leads to an extension, a
   * number the router takes, or a hang-up. An unknown number is 404 and a log line; nothing from a trunk is ever routed out again.
   */
  async fromTrunk(req: IncomingRequest, trunk: Trunk): Promise<void> {
    const carriers = this.carriers;
    const msg = req.message;
    if (this.host.refusedAtTheDoor(req)) return;
    const where = trunk.dialledNumberHeader;
    const raw =
      (where === 'to' ? userOf(msg.headers.get('To')) : where === 'diversion' ? userOf(msg.headers.get('Diversion')?.split(',')[0]) : undefined) ??
      (isSipUri(msg.uri) ? msg.uri.user : undefined);
    const did = raw === undefined ? undefined : toE164(raw, trunk.country);
    const number = did === undefined ? undefined : carriers.directory.phoneNumber(did);
    if (!number || number.tenantId !== trunk.tenantId || (number.trunkId !== null && number.trunkId !== trunk.id)) {
      carriers.refused('call:trunk unknown number', { trunkId: trunk.id, tenantId: trunk.tenantId, number: raw ?? null, source: req.flow.remoteAddress });
      req.reply(404, { reason: 'Not Found (no such number)' });
      return;
    }
    if (trunk.maxCalls > 0 && this.host.trunkCalls(trunk.id) >= trunk.maxCalls) {
      carriers.refused('call:trunk at its limit', { trunkId: trunk.id, tenantId: trunk.tenantId, limit: trunk.maxCalls });
      req.reply(503, { reason: 'Service Unavailable (the trunk is at its call limit)' });
      return;
    }
    const domain = await this.host.directory.domainOf(trunk.tenantId);
    if (!domain) {
      req.reply(404, { reason: 'Not Found (no such number)' });
      return;
    }
    // The carrier asserts who calls (RFC 3325): P-Asserted-Identity when it gives one, else From.
    const callerUser = userOf(msg.headers.get('P-Asserted-Identity')) ?? (isSipUri(msg.from.uri) ? msg.from.uri.user : undefined) ?? 'anonymous';
    const caller: CallParty = { extensionId: undefined, number: toE164(callerUser, trunk.country) ?? callerUser };
    const carrier: CarrierLink = { direction: 'inbound', trunkId: trunk.id, externalNumber: caller.number, did: number.number, callerId: null };
    const destination = number.destination;
    if (destination.type === 'hangup') {
      req.reply(603, { reason: 'Decline' });
      return;
    }
    if (destination.type !== 'extension') {
      const take = await this.host.router()?.claim(trunk.tenantId, destination.number);
      if (!take) {
        req.reply(480, { reason: 'Temporarily Unavailable (the number leads nowhere)' });
        return;
      }
      const call = this.host.create(trunk.tenantId, domain, caller, String(destination.number), true, req, undefined, carrier);
      this.applyDtmfMode(call, trunk, 'caller');
      call.hold();
      take(call);
      return;
    }
    const callee = await this.host.directory.findExtension(trunk.tenantId, destination.number);
    const contacts = callee?.isActive ? await this.host.contactsOf(callee.extensionId) : [];
    if (!callee || contacts.length === 0) {
      req.reply(480, { reason: 'Temporarily Unavailable (not registered)' });
      return;
    }
    const call = this.host.create(trunk.tenantId, domain, caller, String(destination.number), false, req, callee.extensionId, carrier);
    this.applyDtmfMode(call, trunk, 'caller');
    await call.start({ party: { extensionId: callee.extensionId, number: String(callee.number) }, contacts }, callee.ringTimeout);
  }

  /**
   * How the call's digits cross to `trunk`'s carrier, on `side` of the call (see carrier-dtmf.ts). Only the relay
   * can turn RFC 4733 events into SIP INFO or tones: with direct media the two ends' SDP, events and INFO pass as
   * they are (the carrier's INFO reaches the phone, which may understand it), and the operator is told once per
   * trunk that its mode does not apply. One carrier per call: a call transferred from one trunk to another follows
   * the last one's mode.
   */
  private applyDtmfMode(call: Call, trunk: Trunk, side: 'caller' | 'callee'): void {
    const mode = trunk.dtmfMode;
    if (mode === 'rfc4733') {
      call.bridge.carrierDtmf = undefined;
      return;
    }
    const unavailable = call.bridge.unavailable;
    if (unavailable === undefined) {
      call.bridge.carrierDtmf = { mode, side };
      return;
    }
    if (this.dtmfWarned.has(trunk.id)) return;
    this.dtmfWarned.add(trunk.id);
    this.carriers.warn('trunk:dtmf mode needs the media relay', { trunkId: trunk.id, tenantId: trunk.tenantId, dtmfMode: mode, reason: unavailable });
  }

  /**
   * Whether a request in `call`'s dialog with its carrier, from another address than the dialog's peer, comes from
   * that carrier all the same: one of its trunk's addresses (allowed, or its servers'). A carrier that does not
   * record-route may send its BYE or refresh from another of its servers; it has no credentials to prove itself.
   */
  fromCallsCarrier(call: Call, flow: Flow): boolean {
    const trunkId = call.carrier?.trunkId;
    return trunkId !== undefined && this.carriers.directory.trunkByAddress(flow.remoteAddress)?.id === trunkId;
  }

  /** A phone's blind transfer to a number outside: the transferor's dial policy and the tenant's routes decide. */
  async referOutside(call: Call, req: IncomingRequest, number: string): Promise<void> {
    const out = await this.outsideTarget(call, call.callee?.extensionId, number);
    if (!out) req.reply(480, { reason: 'Temporarily Unavailable (no trunk can take the call)' });
    else if (!out.ok) req.reply(out.status, { reason: out.reason });
    else call.acceptRefer(req, { ring: out.target, ringTimeoutSeconds: OUTBOUND_RING_SECONDS });
  }
}
