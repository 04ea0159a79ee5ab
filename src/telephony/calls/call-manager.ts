/**
 * Routes calls: an authenticated INVITE from an extension to another extension of its tenant becomes a {@link Call}
 * ringing every registered contact of the callee. Unknown numbers get 404, an extension with no contact 480,
 * Max-Forwards 0 gets 483. Requests and ACKs inside a call's dialogs find their call here; a closed connection
 * ends the calls that ran over it. Publishes `call.created`, `leg.ringing`, `leg.answered`, `call.answered`,
 * `call.ended`.
 */
import type { PbxEventBus } from '../../events/index.ts';
import { CALL_ID_PREFIX, MediaUnavailableError } from '../../media/index.ts';
import { Dialog, dialogKey, type Flow, type IncomingRequest, isSipUri, parseNameAddr, parseUri, type Replaces, replacesOfReferTo, type SipRequest, type SipStack } from '../../sip/index.ts';
import type { Binding, LocationService } from '../location-service.ts';
import type { AuthOutcome, Registrar } from '../registrar.ts';
import { CallWatchdog, DEFAULT_LIVENESS, type LivenessOptions } from './call-watchdog.ts';
import { fromDialogPeer } from './dialog-peer.ts';
import { Call, type CallMedia, type CarrierLink, type CallObserver, type CallParty, type CallSide, CallStateError, type EndCause, type Leg, type RingOutcome, type RingTarget, type TransferTarget } from './call.ts';
import { answerRefer } from './tasks/refer.ts';
import type { DialPlan, DialRefusal } from '../trunks/outbound.ts';
import { type CallCarriers, CarrierCalls, OUTBOUND_RING_SECONDS } from './carrier-calls.ts';
import type { CallDirectory, CallRouter } from './routing.ts';

export type { CallDirectory, CallRouter } from './routing.ts';

/**
 * Where to send to a contact registered over UDP. A phone behind NAT registers a Contact with its private address;
 * only the address its REGISTER came from reaches it. A phone whose Contact names the address it sent from is
 * reachable as it says, on the port it listens on (which may differ from the one it sent from).
 */
export function udpTarget(binding: Binding): { address: string; port: number } {
  try {
    const uri = parseUri(binding.contact);
    if (isSipUri(uri) && uri.host.replace(/^\[|\]$/g, '') === binding.sourceAddress) return { address: binding.sourceAddress, port: uri.port ?? 5060 };
  } catch {
    // an unreadable Contact: the source address it is
  }
  return { address: binding.sourceAddress, port: binding.sourcePort };
}

/** What a dialled number may be: digits, `*`, `#`, and a leading `+`. */
const DIALLABLE = /^\+?[0-9*#]{1,32}$/;
/** The numbers of extensions, and of what the router takes. */
const INTERNAL = /^\d{1,9}$/;
export class CallManager implements CallObserver {
  private readonly calls = new Map<string, Call>();
  /** dialog key → the call and the dialog, for in-dialog requests and ACKs. */
  private readonly dialogs = new Map<string, { call: Call; dialog: Dialog }>();
  private router: CallRouter | undefined;
  /** Calls from and to the telephone network; none without carriers. */
  private carrierCalls: CarrierCalls | undefined;
  /** Ends calls whose parties are gone (media timeout, session timers, OPTIONS probes, the tenant's longest call). */
  readonly watchdog: CallWatchdog;

  constructor(
    private readonly stack: SipStack,
    private readonly location: LocationService,
    private readonly registrar: Registrar,
    private readonly directory: CallDirectory,
    private readonly bus: PbxEventBus,
    private readonly timers: { T1: number; T2: number },
    private readonly isKnownDomain: (domain: string) => boolean,
    private readonly media: CallMedia,
    liveness: LivenessOptions = DEFAULT_LIVENESS,
  ) {
    this.watchdog = new CallWatchdog(stack, media.plane, liveness, () => this.calls.values(), (tenantId) => directory.maxCallSecondsOf?.(tenantId) ?? Promise.resolve(0), media.onError);
    media.plane.onDtmf((e) => this.callOfMedia(e.callId)?.onMediaDtmf(e.fromTag, e.digit, e.durationMs));
    // The relay restarted: the calls it anchored have no audio any more, so they are ended rather than left mute.
    media.plane.onLost(() => this.closeAll('media-lost'));
  }

  private callOfMedia(mediaId: string): Call | undefined {
    const call = this.find(mediaId.slice(CALL_ID_PREFIX.length));
    return call?.mediaId === mediaId ? call : undefined;
  }

  get activeCalls(): Call[] {
    return [...this.calls.values()];
  }

  /** Numbers that are no extension go to `router` (one at most). */
  setRouter(router: CallRouter | undefined): void {
    this.router = router;
  }

  /** Calls from and to the telephone network go through `carriers` (none: calls stay inside). */
  setCarriers(carriers: CallCarriers | undefined): void {
    this.carrierCalls =
      carriers &&
      new CarrierCalls(carriers, {
        directory: this.directory,
        bus: this.bus,
        router: () => this.router,
        trunkCalls: (trunkId) => this.trunkCalls(trunkId),
        create: (...args) => this.create(...args),
        contactsOf: (extensionId) => this.contactsOf(extensionId),
        refusedAtTheDoor: (req) => this.refusedAtTheDoor(req),
      });
  }

  /** How `extensionId` may dial `number` outside: the plan, or why not; none when there are no carriers. */
  async planOut(tenantId: string, extensionId: string | undefined, number: string): Promise<DialPlan | DialRefusal | undefined> {
    return this.carrierCalls?.planOut(tenantId, extensionId, number);
  }

  /** A number outside as the target of a transfer by `extensionId` (see CarrierCalls.outsideTarget); none without carriers. */
  async outsideTarget(call: Call, extensionId: string | undefined, number: string): Promise<{ ok: true; target: RingTarget } | DialRefusal | undefined> {
    return this.carrierCalls?.outsideTarget(call, extensionId, number);
  }

  /**
   * Sends a caller the router let go to a number outside (a router's fallback), presenting `callerId` when given;
   * false when nothing takes it.
   */
  async sendOutside(call: Call, number: string, callerId?: string | null): Promise<boolean> {
    return (await this.carrierCalls?.sendOutside(call, number, callerId)) ?? false;
  }

  /** External calls in progress: a tenant's, or one trunk's. */
  externalCalls(tenantId: string): number {
    let n = 0;
    for (const call of this.calls.values()) if (call.carrier && call.tenantId === tenantId) n++;
    return n;
  }

  trunkCalls(trunkId: string): number {
    let n = 0;
    for (const call of this.calls.values()) if (call.carrier?.trunkId === trunkId) n++;
    return n;
  }

  /** A call in progress, by its id. */
  find(callId: string): Call | undefined {
    return this.calls.get(callId);
  }

  /** A new INVITE (no To tag). */
  async onInvite(req: IncomingRequest, onOutcome: (outcome: AuthOutcome) => void): Promise<void> {
    const msg = req.message;
    const carrierCalls = this.carrierCalls;
    const trunk = carrierCalls?.trunkOf(req);
    if (carrierCalls && trunk) {
      await carrierCalls.fromTrunk(req, trunk);
      return;
    }
    const from = msg.from.uri;
    if (!isSipUri(from) || !from.user || !this.isKnownDomain(from.host)) {
      req.reply(403, { reason: 'Forbidden (unknown domain)' });
      return;
    }
    const caller = await this.registrar.authenticate(req, from.host, from.user, onOutcome);
    if (!caller) return;
    if (this.refusedAtTheDoor(req)) return;
    const target = msg.uri;
    const dialed = isSipUri(target) ? target.user : undefined;
    if (!dialed || !DIALLABLE.test(dialed)) {
      req.reply(404, { reason: 'Not Found (no such number)' });
      return;
    }
    const callerParty = { extensionId: caller.extensionId, number: String(caller.number) };
    const internal = INTERNAL.test(dialed);
    const callee = internal ? await this.directory.findExtension(caller.tenantId, Number(dialed)) : undefined;
    if (!callee) {
      const take = internal ? await this.router?.claim(caller.tenantId, Number(dialed)) : undefined;
      if (!take) {
        if (this.carrierCalls) await this.carrierCalls.dialOut(req, caller.tenantId, from.host, callerParty, dialed);
        else req.reply(404, { reason: 'Not Found (no such number)' });
        return;
      }
      const call = this.create(caller.tenantId, from.host, callerParty, dialed, true, req);
      call.hold();
      take(call);
      return;
    }
    const contacts = callee.isActive ? await this.contactsOf(callee.extensionId) : [];
    if (contacts.length === 0) {
      req.reply(480, { reason: 'Temporarily Unavailable (not registered)' });
      return;
    }
    const call = this.create(caller.tenantId, from.host, callerParty, dialed, false, req, callee.extensionId);
    await call.start({ party: { extensionId: callee.extensionId, number: String(callee.number) }, contacts }, callee.ringTimeout);
  }

  /**
   * What any new call is refused for before it is routed: no hop left (483), or a session interval below ours
   * (rfc4028#section-8.1: 422, saying the smallest we take). True when it was refused.
   */
  private refusedAtTheDoor(req: IncomingRequest): boolean {
    const msg = req.message;
    if (msg.headers.get('Max-Forwards')?.trim() === '0') {
      req.reply(483);
      return true;
    }
    const minSE = this.watchdog.refusal(msg);
    if (minSE === undefined) return false;
    req.reply(422, { headers: [['Min-SE', String(minSE)]] });
    return true;
  }

  private create(tenantId: string, domain: string, caller: CallParty, dialed: string, routed: boolean, req: IncomingRequest | undefined, calleeExtensionId?: string, carrier?: CarrierLink): Call {
    const call = new Call(tenantId, domain, caller, dialed, routed, req, this.stack, this, this.timers, this.media);
    call.carrier = carrier;
    this.calls.set(call.id, call);
    this.bus.emit('call.created', {
      tenantId,
      callId: call.id,
      from: caller.number,
      to: carrier?.direction === 'outbound' ? carrier.externalNumber : dialed,
      callerExtensionId: caller.extensionId,
      calleeExtensionId,
      routed,
      originated: req === undefined,
      carrier: carrier ? { ...carrier } : null,
    });
    return call;
  }

  /**
   * Click-to-call: every device of `caller` rings first (for `callerRingTimeout` seconds); once one answers, it hears
   * ringback while `dialed` rings (`callee`, an extension's devices), or music while the router takes the call
   * (`callee` is `'router'`: a number the router takes), and the two are bridged. The call is answered at once and goes on by itself: its progress is
   * told by events. Needs the relay (the PBX is the caller's first party, see {@link Call.callBack}).
   */
  async originate(
    tenantId: string,
    caller: RingTarget,
    callerRingTimeout: number,
    dialed: number | string,
    callee: { target: RingTarget; ringTimeout: number } | 'router' | { outside: DialPlan },
  ): Promise<Call> {
    const routed = callee === 'router';
    const audio = routed ? this.media.holdMusic : this.media.ringback;
    const unavailable = this.media.plane.unavailableReason ?? (audio ? undefined : 'no ringback or music is configured');
    if (unavailable !== undefined) throw new MediaUnavailableError('Click-to-call', unavailable);
    const take = routed ? await this.router?.claim(tenantId, Number(dialed)) : undefined;
    if (routed && !take) throw new CallStateError(`Click-to-call: nothing takes the number ${dialed}`);
    const domain = await this.directory.domainOf(tenantId);
    if (!domain) throw new Error(`call: tenant ${tenantId} has no SIP domain`);
    const outside = typeof callee === 'object' && 'outside' in callee ? callee.outside : undefined;
    const carrier: CarrierLink | undefined = outside && { direction: 'outbound', trunkId: undefined, externalNumber: outside.number, did: null, callerId: outside.callerId };
    const calleeExtensionId = typeof callee === 'object' && 'target' in callee ? callee.target.party.extensionId : undefined;
    const call = this.create(tenantId, domain, caller.party, String(dialed), routed, undefined, calleeExtensionId, carrier);
    const ringing = call.callBack(caller, callerRingTimeout, audio as string);
    const connect = async (outcome: RingOutcome) => {
      if (outcome !== 'answered') return;
      if (take) take(call);
      else if (outside) await call.dialOut(outside.attempts((trunk) => this.carrierCalls?.useTrunk(call, trunk)), OUTBOUND_RING_SECONDS);
      else if (typeof callee === 'object' && 'target' in callee) await call.start(callee.target, callee.ringTimeout);
    };
    ringing.then(connect).catch((err: unknown) => {
      this.media.onError(err, 'call:originate');
      call.close('failed');
    });
    return call;
  }

  /**
   * Where an extension can be rung now: its registered contacts that are reachable. A contact registered through an
   * edge proxy is reached through it (RFC 3327 section 5.3): the request goes to the first Path URI, and the Path
   * values become its Route set (see inviteFor in leg.ts), never straight to a Contact the phone may not be reachable at.
   */
  async contactsOf(extensionId: string): Promise<Array<{ binding: Binding; flow: Flow }>> {
    const targets: Array<{ binding: Binding; flow: Flow }> = [];
    for (const binding of this.location.lookup(extensionId)) {
      const firstHop = binding.path[0];
      if (firstHop !== undefined) {
        try {
          targets.push({ binding, flow: await this.stack.flowToUri(parseNameAddr(firstHop).uri) });
        } catch {
          // the edge cannot be reached (or its Path is unreadable); the other contacts may be
        }
        continue;
      }
      if (binding.flow) {
        if (!binding.flow.closed) targets.push({ binding, flow: binding.flow });
        continue;
      }
      try {
        const { address, port } = udpTarget(binding);
        targets.push({ binding, flow: await this.stack.flowTo(binding.transport, address, port) });
      } catch {
        // that contact cannot be reached; the others may be
      }
    }
    return targets;
  }

  /**
   * BYE, INFO, UPDATE or a re-INVITE: a request that names a dialog. It is acted on only if it comes from the dialog's
   * peer, or proves with digest credentials to be from the party's extension (see dialog-peer.ts); otherwise it is
   * challenged (407), and refused (403) with wrong credentials. Not 481: the dialog does exist, and the phone of a
   * party whose address changed learns that it must authenticate.
   */
  onInDialogRequest(req: IncomingRequest): void {
    const entry = this.dialogs.get(dialogKey(Dialog.idOfIncoming(req.message)));
    if (!entry) {
      req.reply(481);
      return;
    }
    if (fromDialogPeer(entry.dialog, req.flow)) {
      entry.call.onInDialogRequest(req, entry.dialog);
      return;
    }
    this.authenticateInDialog(req, entry).catch((err: unknown) => {
      this.media.onError(err, 'call:in-dialog authentication');
      if (!req.transaction.finalSent) req.reply(500);
    });
  }

  /** Whether a request names a dialog of a call in progress. */
  knowsDialog(message: SipRequest): boolean {
    return this.dialogs.has(dialogKey(Dialog.idOfIncoming(message)));
  }

  private async authenticateInDialog(req: IncomingRequest, entry: { call: Call; dialog: Dialog }): Promise<void> {
    const { call, dialog } = entry;
    const party = dialog === call.callerDialog ? call.caller : call.legs.find((leg) => leg.dialog === dialog)?.party;
    // The PBX's own side of a dialog has no credentials to prove (a click-to-call's first party is an extension too),
    // nor has a party outside; its carrier's other addresses may speak for it.
    if (!party?.extensionId) {
      if (this.fromOutsidePartysCarrier(entry, req.flow)) call.onInDialogRequest(req, dialog);
      else req.reply(403, { reason: 'Forbidden (not from the peer of this dialog)' });
      return;
    }
    const credentials = await this.registrar.authenticate(req, call.domain, String(party.number), () => {});
    if (!credentials || credentials.extensionId !== party.extensionId) {
      if (credentials && !req.transaction.finalSent) req.reply(403, { reason: 'Forbidden (not a party of this dialog)' });
      return;
    }
    if (this.dialogs.get(dialog.key)?.call !== call) {
      req.reply(481);
      return;
    }
    call.onInDialogRequest(req, dialog);
  }

  /** The ACK of a 2xx, from the dialog's peer only (an ACK is never challenged: one from elsewhere is dropped). */
  onAck(message: SipRequest, flow?: Flow): void {
    const entry = this.dialogs.get(dialogKey(Dialog.idOfIncoming(message)));
    if (!entry || (flow && !fromDialogPeer(entry.dialog, flow) && !this.fromOutsidePartysCarrier(entry, flow))) return;
    entry.call.onAck(message, entry.dialog);
  }

  /** Whether `flow` is from another address of the carrier of the party outside that `entry`'s dialog is with. */
  private fromOutsidePartysCarrier(entry: { call: Call; dialog: Dialog }, flow: Flow): boolean {
    const { call, dialog } = entry;
    const party = dialog === call.callerDialog ? call.caller : call.legs.find((leg) => leg.dialog === dialog)?.party;
    return !!party && !party.extensionId && !!this.carrierCalls?.fromCallsCarrier(call, flow);
  }

  onFlowClosed(flow: Flow): void {
    for (const call of [...this.calls.values()]) call.onFlowClosed(flow);
  }

  /** Ends every call (shutdown): both sides hear BYE or CANCEL, and every session is closed with a cause. */
  closeAll(cause: EndCause = 'shutdown'): void {
    for (const call of [...this.calls.values()]) call.close(cause);
  }

  onDialog(call: Call, dialog: Dialog): void {
    this.dialogs.set(dialog.key, { call, dialog });
    this.watchdog.onDialog(call, dialog);
  }

  offerHeaders(): Array<[string, string]> {
    return this.watchdog.offerHeaders();
  }

  answerHeaders(call: Call, dialog: Dialog, request: SipRequest): Array<[string, string]> {
    return this.watchdog.answerHeaders(call, dialog, request);
  }

  onRinging(call: Call, leg: Leg): void {
    this.bus.emit('leg.ringing', { tenantId: call.tenantId, callId: call.id, legId: leg.id, extensionId: leg.party.extensionId, contact: leg.binding.contact });
  }

  onAnswered(call: Call, leg: Leg): void {
    this.bus.emit('leg.answered', { tenantId: call.tenantId, callId: call.id, legId: leg.id, extensionId: leg.party.extensionId, contact: leg.binding.contact });
    this.bus.emit('call.answered', {
      tenantId: call.tenantId,
      callId: call.id,
      from: call.caller.number,
      to: leg.party.number,
      callerExtensionId: call.caller.extensionId,
      calleeExtensionId: leg.party.extensionId,
    });
  }

  onHold(call: Call, side: CallSide, held: boolean): void {
    this.bus.emit('call.hold', { tenantId: call.tenantId, callId: call.id, side, held });
  }

  onDtmf(call: Call, side: CallSide, digit: string, via: 'rfc4733' | 'info'): void {
    this.bus.emit('call.dtmf', { tenantId: call.tenantId, callId: call.id, side, digit, via });
  }

  onTransferring(call: Call, from: CallParty, target: TransferTarget, attended: boolean): void {
    this.bus.emit('call.transferring', { tenantId: call.tenantId, callId: call.id, fromExtensionId: from.extensionId, toExtensionId: target.extensionId, to: target.number, attended });
  }

  /**
   * A transfer asked by a phone (REFER, rfc3515). Blind, from the party who answered: the Refer-To names an extension
   * of the call's tenant, which is rung for the caller, or a number the router takes, where the caller waits
   * again; an unknown number is 404, an extension with no device 480, a routed number without the relay 503, and the phone
   * keeps its call then. Attended, from either party (the Refer-To carries Replaces, rfc5589#section-7): the phone's
   * two calls are joined, see {@link join}.
   */
  onRefer(call: Call, req: IncomingRequest, side: CallSide, dialog: Dialog): void {
    this.refer(call, req, side, dialog).catch((err: unknown) => {
      this.media.onError(err, 'call:refer');
      if (!req.transaction.finalSent) req.reply(500);
    });
  }

  private async refer(call: Call, req: IncomingRequest, side: CallSide, dialog: Dialog): Promise<void> {
    const referTo = req.message.headers.get('Refer-To') ?? '';
    const replaces = replacesOfReferTo(referTo);
    if (replaces === 'invalid') {
      req.reply(400, { reason: 'Bad Request (unreadable Replaces in Refer-To)' });
      return;
    }
    if (replaces !== 'absent') {
      this.join(call, req, side, dialog, replaces);
      return;
    }
    if (side !== 'callee') {
      req.reply(403, { reason: 'Forbidden (only the party who answered a call transfers its caller blind)' });
      return;
    }
    const raw = /<([^>]*)>/.exec(referTo)?.[1] ?? referTo.split(';')[0]?.trim() ?? '';
    let user: string | undefined;
    try {
      const uri = parseUri(raw);
      user = isSipUri(uri) ? uri.user : undefined;
    } catch {
      user = undefined;
    }
    if (!user || !DIALLABLE.test(user)) {
      req.reply(400, { reason: 'Bad Request (Refer-To names no number)' });
      return;
    }
    const internal = INTERNAL.test(user);
    const ext = internal ? await this.directory.findExtension(call.tenantId, Number(user)) : undefined;
    if (!ext || !ext.isActive) {
      const take = internal ? await this.router?.claim(call.tenantId, Number(user)) : undefined;
      if (!take && this.carrierCalls) await this.carrierCalls.referOutside(call, req, user);
      else if (!take) req.reply(404, { reason: 'Not Found (no such number)' });
      else if (!this.canHoldCallers()) req.reply(503, { reason: 'Service Unavailable (a transfer to a routed number needs the media relay)' });
      else call.acceptRefer(req, { router: { extensionId: undefined, number: user }, take });
      return;
    }
    if (ext.extensionId === call.caller.extensionId || ext.extensionId === call.callee?.extensionId) {
      req.reply(403, { reason: 'Forbidden (the target is already on this call)' });
      return;
    }
    const contacts = await this.contactsOf(ext.extensionId);
    if (contacts.length === 0) {
      req.reply(480, { reason: 'Temporarily Unavailable (not registered)' });
      return;
    }
    call.acceptRefer(req, { ring: { party: { extensionId: ext.extensionId, number: String(ext.number) }, contacts }, ringTimeoutSeconds: ext.ringTimeout });
  }

  /**
   * An attended transfer from a phone (rfc5589#section-7): the phone, on two calls, sends REFER in one of them with a
   * Refer-To whose Replaces names its dialog in the other. The call the phone took keeps its caller; the party who
   * answered the call the phone placed is handed over to it, and the phone leaves both ({@link Call.adoptCallee}). The
   * REFER is accepted (202) and the phone told at once that it worked (NOTIFY 200), as a PBX that takes the transfer
   * over does. Refused: Replaces naming no dialog of this phone fails in the NOTIFY (481), two calls the phone took
   * (or two it placed) 501, a call not answered or already being transferred 491, without the relay 503.
   */
  private join(call: Call, req: IncomingRequest, side: CallSide, dialog: Dialog, replaces: Replaces): void {
    const named =
      this.dialogs.get(dialogKey({ callId: replaces.callId, localTag: replaces.toTag, remoteTag: replaces.fromTag })) ??
      this.dialogs.get(dialogKey({ callId: replaces.callId, localTag: replaces.fromTag, remoteTag: replaces.toTag }));
    const phone = side === 'caller' ? call.caller : call.callee;
    const other = named && named.call !== call && named.call.tenantId === call.tenantId ? named.call.partyOf(named.dialog) : undefined;
    if (!named || !other || !phone || other.party.extensionId !== phone.extensionId) {
      // As the INVITE with Replaces the transferee would send fails (rfc3891#section-3): the REFER itself is fine, the
      // phone keeps its call, and learns why the transfer failed from the NOTIFY.
      answerRefer(this.stack, req, dialog, '481 Call/Transaction Does Not Exist');
      return;
    }
    if (side === other.side) {
      req.reply(501, { reason: `Not Implemented (joining two calls the phone ${side === 'callee' ? 'took' : 'placed'})` });
      return;
    }
    if (this.media.plane.unavailableReason !== undefined) {
      req.reply(503, { reason: 'Service Unavailable (an attended transfer by the phone needs the media relay)' });
      return;
    }
    const [keeper, donor] = side === 'callee' ? [call, named.call] : [named.call, call];
    const refusal = keeper.joinRefusal() ?? donor.joinRefusal();
    if (refusal) {
      req.reply(491, { reason: `Request Pending (${refusal})` });
      return;
    }
    answerRefer(this.stack, req, dialog, '200 OK');
    const leg = donor.handOverCallee();
    keeper
      .adoptCallee(leg, phone)
      .catch((err: unknown) => {
        this.media.onError(err, 'call:join');
        keeper.close('media-failed');
      })
      // The phone's other call ends once its party is on the joined one (so that party is never seen free between).
      .finally(() => donor.close('transferred'));
  }

  /** Whether the PBX can answer callers and play them music itself (the relay runs, and there is music to play). */
  canHoldCallers(): boolean {
    return this.media.plane.unavailableReason === undefined && this.media.holdMusic !== undefined;
  }

  /** Sends the caller of `call`, answered, to the router's `number`, where it waits again with music. */
  async transferToRouter(call: Call, number: number): Promise<boolean> {
    const take = await this.router?.claim(call.tenantId, number);
    if (!take) return false;
    call.waitAgain({ extensionId: undefined, number: String(number) }, take);
    return true;
  }

  onConsulting(call: Call, from: CallParty, target: CallParty): void {
    this.bus.emit('call.consulting', { tenantId: call.tenantId, callId: call.id, fromExtensionId: from.extensionId, from: from.number, toExtensionId: target.extensionId, to: target.number });
  }

  onConsulted(call: Call, from: CallParty, leg: Leg): void {
    this.bus.emit('leg.answered', { tenantId: call.tenantId, callId: call.id, legId: leg.id, extensionId: leg.party.extensionId, contact: leg.binding.contact });
    this.bus.emit('call.consulted', { tenantId: call.tenantId, callId: call.id, fromExtensionId: from.extensionId, toExtensionId: leg.party.extensionId, to: leg.party.number });
  }

  onConsultationEnded(call: Call, from: CallParty, target: CallParty, outcome: 'cancelled' | 'failed'): void {
    this.bus.emit('call.consultation.ended', { tenantId: call.tenantId, callId: call.id, fromExtensionId: from.extensionId, toExtensionId: target.extensionId, to: target.number, outcome });
  }

  onTransferred(call: Call, from: CallParty, leg: Leg): void {
    this.bus.emit('leg.answered', { tenantId: call.tenantId, callId: call.id, legId: leg.id, extensionId: leg.party.extensionId, contact: leg.binding.contact });
    this.bus.emit('call.transferred', { tenantId: call.tenantId, callId: call.id, fromExtensionId: from.extensionId, toExtensionId: leg.party.extensionId, to: leg.party.number });
  }

  onEnded(call: Call, cause: EndCause): void {
    this.calls.delete(call.id);
    this.watchdog.forget(call);
    for (const dialog of [call.callerDialog, ...call.legs.map((l) => l.dialog)]) if (dialog) this.dialogs.delete(dialog.key);
    const end = call.endedAt ?? Date.now();
    const answeredAt = call.answeredAt;
    this.bus.emit('call.ended', {
      tenantId: call.tenantId,
      callId: call.id,
      cause,
      answered: answeredAt !== undefined,
      callerExtensionId: call.caller.extensionId,
      calleeExtensionId: call.callee?.extensionId,
      durations: {
        ringing: (answeredAt ?? end) - call.createdAt,
        talk: call.talkMs(end),
        total: end - call.createdAt,
      },
    });
  }
}
