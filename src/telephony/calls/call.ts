/**
 * A call through the B2BUA: the caller's side (its INVITE, answered by us, or a leg we placed to it for a
 * click-to-call), the legs we place to the parties it rings, the bridge between them in the media plane, and the
 * task in progress (a transfer, a consultation). The call composes them; each does its own work:
 *
 * - `leg.ts`: one outbound dialog and its state table; `fork.ts`: a round of ringing (first 2xx wins);
 * - `media-bridge.ts`: SDP through the media plane, hold, mute, music; `in-dialog.ts`: requests inside the dialogs;
 * - `tasks/`: ringing parties for the caller, waiting with music, blind and attended transfer, REFER, joining two
 *   calls, and ringing the caller back for a click-to-call.
 *
 *   Routing --first 18x--> Ringing --2xx--> Answered --BYE/failure--> Ended
 *   Routing/Ringing ------all legs fail, CANCEL, ring timeout------> Ended
 *   Answered --the answering party sends the caller to a router--> Routing
 *
 * `close()` is idempotent and cascades once: the caller gets a final answer or BYE, legs still ringing hear CANCEL,
 * the task is killed, every leg's transaction is released, and the media session is deleted.
 */
import { randomUUID } from 'node:crypto';
import { contactHeader, type Dialog, type Flow, type IncomingRequest, InviteServerTransaction, NO_USER, type SipRequest, type SipResponse, type SipStack, StateMachine } from '../../sip/index.ts';
import { CALL_ID_PREFIX, MediaUnavailableError } from '../../media/index.ts';
import type { CallContext, CallNotices, CallTask, LegRequest, Round } from './call-context.ts';
import { type CallObserverOf, noticesOf } from './call-observer.ts';
import { CALL_HEADER, type CallMedia, type CarrierLink, type CallParty, type CallSide, CallState, CallStateError, type EndCause, DIALOG_ALLOW, type RingOutcome, type RingTarget, type TransferTarget } from './call-types.ts';
import { Fork, type ForkHandler } from './fork.ts';
import { sendDigitAsInfo } from './carrier-dtmf.ts';
import { InDialog } from './in-dialog.ts';
import { inviteFor, Leg } from './leg.ts';
import { MediaBridge } from './media-bridge.ts';
import { Consultation } from './tasks/attended-transfer.ts';
import { BlindTransfer } from './tasks/blind-transfer.ts';
import { adoptCallee, handOverCallee, joinRefusal } from './tasks/join-calls.ts';
import { dialOut } from './tasks/dial-out.ts';
import { CallBack } from './tasks/originate.ts';
import { acceptRefer } from './tasks/refer.ts';
import { RingRound } from './tasks/ring.ts';
import { answerWaitingCaller, waitAgain } from './tasks/wait-with-music.ts';

export * from './call-types.ts';
export { Leg, LegState } from './leg.ts';

/** Where a REFER sends the caller: parties to ring, or a router that takes it. */
export type ReferTarget = { ring: RingTarget; ringTimeoutSeconds: number } | { router: TransferTarget; take: (call: Call) => void };

export const CALL_MOVES: Record<CallState, readonly CallState[]> = {
  [CallState.Routing]: [CallState.Ringing, CallState.Answered, CallState.Ended],
  [CallState.Ringing]: [CallState.Answered, CallState.Ended],
  // Back to routing: the party who answered sent the caller to a router, where it waits again.
  [CallState.Answered]: [CallState.Routing, CallState.Ended],
  [CallState.Ended]: [],
};

/** What a call tells its owner (a CallManager): the dialogs to route to it, and its life. */
export type CallObserver = CallObserverOf<Call>;

export class Call extends StateMachine<CallState> implements CallContext {
  readonly id = randomUUID();
  readonly legs: Leg[] = [];
  /** The party that answered (for a routed call, known only then). */
  callee: CallParty | undefined;
  callerDialog: Dialog | undefined;
  answered: Leg | undefined;
  /** Set when the call comes in from, or goes out to, the telephone network. */
  carrier: CarrierLink | undefined;
  readonly createdAt = Date.now();
  answeredAt: number | undefined;
  endedAt: number | undefined;
  endCause: EndCause | undefined;
  /** The call's session in the media plane. */
  readonly mediaId = `${CALL_ID_PREFIX}${this.id}`;
  /**
   * Names the call to its parties (in INVITEs to them and in answers to the caller), so that a softphone can act on
   * it through the API, whose call ids are ours and not SIP's.
   */
  readonly callHeader: [string, string] = [CALL_HEADER, this.id];
  readonly bridge: MediaBridge;
  readonly notices: CallNotices;
  /** The task in progress: a transfer, a consultation, or ringing the caller back. */
  task: CallTask | undefined;
  /** The round of ringing for the caller in progress. */
  round: Round | undefined;
  /** The PBX answering a routed caller: ringing waits for it. */
  answering: Promise<void> | undefined;
  private readonly inDialog: InDialog;
  private readonly forks: Fork[] = [];
  /** The dialogs that ended (a BYE went or came): none is ended twice. */
  private readonly ended = new WeakSet<Dialog>();
  /** Messages for the caller leave in order, each after its SDP went through the media plane. */
  private upstream: Promise<void> = Promise.resolve();
  /** Since when an answered caller waits again (sent to a router), and how long it waited so before. */
  private waitingSince: number | undefined;
  private waitedMs = 0;

  constructor(
    readonly tenantId: string,
    readonly domain: string,
    readonly caller: CallParty,
    /** The number the caller dialed. */
    readonly dialed: string,
    /**
     * A routed call is rung round after round by whoever routes it; its caller hears music or ringback meanwhile and
     * only learns of the outcome when the router answers or lets it go. A direct call rings one round only, until the
     * party who answered sends it to a router ({@link waitAgain}).
     */
    public routed: boolean,
    /** The caller's INVITE; none for a click-to-call, whose caller is rung first ({@link callBack}). */
    readonly inbound: IncomingRequest | undefined,
    readonly stack: SipStack,
    private readonly observer: CallObserver,
    readonly timerValues: { T1: number; T2: number },
    media: CallMedia,
  ) {
    super(CallState.Routing, CALL_MOVES, CallState.Ended, 'call');
    this.bridge = new MediaBridge(this.mediaId, media, {
      calleeTag: () => this.answered?.id,
      isAnswered: () => this.state === CallState.Answered,
      onHold: (side, held) => observer.onHold(this, side, held),
    });
    this.notices = noticesOf(this, observer);
    this.inDialog = new InDialog(this);
  }

  // --- what the call's parts use (CallContext) ---

  override after(ms: number, fire: () => void): void {
    super.after(ms, fire);
  }

  contactFor(flow: Flow, user: string): string {
    return contactHeader(user, this.stack.advertisedHost(flow), this.stack.advertisedPort(flow.protocol), flow.protocol);
  }

  toCaller(step: () => Promise<void>): void {
    this.upstream = this.upstream.then(step).catch((err: unknown) => this.mediaFailed(err));
  }

  mediaFailed(err: unknown): void {
    this.bridge.media.onError(err, 'call:media');
    this.hangUpAll('media-failed');
  }

  newLeg(request: LegRequest): Leg {
    const from = request.from ?? this.caller;
    const extra = { before: [['Allow', DIALOG_ALLOW], this.callHeader] as Array<[string, string]>, after: this.notices.offerHeaders() };
    const invite = inviteFor(request, from, this.domain, this.contactFor(request.flow, String(from.number)), extra);
    const leg = new Leg(request.binding, invite, request.flow, request.branch, request.party, request.addressing?.auth, request.addressing !== undefined);
    this.legs.push(leg);
    return leg;
  }

  fork(handler: ForkHandler): Fork {
    const fork = new Fork(this, handler);
    this.forks.push(fork);
    return fork;
  }

  reinvite(dialog: Dialog, body: Buffer | undefined, contentType: string | undefined): Promise<SipResponse> {
    return this.inDialog.reinvite(dialog, body, contentType);
  }

  await2xxAck(response: SipResponse, request: SipRequest, flow: Flow): void {
    this.inDialog.await2xxAck(response, request, flow);
  }

  takeCallee(leg: Leg): void {
    this.answered = leg;
    this.callee = leg.party;
    const now = Date.now();
    // A caller sent to a router keeps its first answer; the wait there is no talk.
    if (this.waitingSince !== undefined) this.waitedMs += now - this.waitingSince;
    this.waitingSince = undefined;
    this.answeredAt ??= now;
  }

  routeAgain(): void {
    this.answered = undefined;
    this.callee = undefined;
    this.routed = true;
    this.waitingSince = Date.now();
    this.moveTo(CallState.Routing);
  }

  lateOffer(leg: Leg): void {
    this.inDialog.lateOffer = leg;
  }

  /** A party's provisional answer: the call rings. */
  markRinging(): void {
    if (this.state === CallState.Routing) this.moveTo(CallState.Ringing);
  }

  /** A party answered: the call is answered. */
  markAnswered(): void {
    this.markRinging();
    this.moveTo(CallState.Answered);
  }

  markEnded(dialog: Dialog): void {
    this.ended.add(dialog);
  }

  /** Whether a dialog of the call ended (a BYE went or came). */
  hasEnded(dialog: Dialog): boolean {
    return this.ended.has(dialog);
  }

  bye(dialog: Dialog): void {
    if (this.ended.has(dialog)) return;
    this.ended.add(dialog);
    this.stack.sendRequest(dialog.createRequest('BYE'), dialog.flow, NO_USER);
  }

  /** The call failed before a party answered: the caller gets a final answer to its INVITE, or BYE if it was answered. */
  refuseCaller(status: number, reason?: string): void {
    if (this.inbound && !this.inbound.transaction.finalSent) this.inbound.reply(status, reason === undefined ? undefined : { reason });
    else if (this.callerDialog && !this.answered) this.bye(this.callerDialog);
  }

  /** The caller's CANCEL, before anyone answered: every leg is cancelled and the caller gets 487. */
  onCallerCancel(): void {
    if (this.state !== CallState.Routing && this.state !== CallState.Ringing) return;
    for (const leg of this.legs) leg.cancel(this.stack);
    if (this.inbound && !this.inbound.transaction.finalSent) this.inbound.reply(487);
    this.end('cancelled');
  }

  /** Listens for the caller's CANCEL (a routed caller's as soon as it waits, a direct one's when it rings). */
  listenForCancel(): void {
    if (this.inbound?.transaction instanceof InviteServerTransaction) this.inbound.transaction.onCancel(() => this.onCallerCancel());
  }

  // --- what the call's owner asks ---

  /** A direct call: rings every contact of the callee at once, and gives up after its ring timeout with 480. */
  async start(target: RingTarget, ringTimeoutSeconds: number): Promise<void> {
    await this.ring([target], ringTimeoutSeconds);
  }

  /**
   * A routed call waits for its router. With the relay (and music to play) the PBX answers the caller itself, and the
   * caller hears music on hold until a party answers; otherwise it hears ringback (180) meanwhile.
   */
  hold(): void {
    answerWaitingCaller(this);
  }

  /** Click-to-call, first step: the caller's devices are rung; see {@link CallBack}. Needs the relay. */
  callBack(target: RingTarget, ringTimeoutSeconds: number, audio: string): Promise<RingOutcome> {
    return CallBack.start(this, target, ringTimeoutSeconds, audio);
  }

  /**
   * One round: rings every contact of every target at once, for `ringTimeoutSeconds`. The first answer is bridged to
   * the caller. A direct call that nobody answers ends with the best failure; a routed call waits for the next round.
   */
  async ring(targets: RingTarget[], ringTimeoutSeconds: number): Promise<RingOutcome> {
    if (this.answering) await this.answering;
    if (this.state === CallState.Ended) return 'ended';
    if (this.round || this.answered) throw new Error('call: a round of ringing is already in progress');
    return RingRound.start(this, targets, ringTimeoutSeconds);
  }

  /** A call to a party outside: each trunk of `attempts` in turn, see tasks/dial-out.ts. */
  async dialOut(attempts: Iterable<Promise<RingTarget | undefined>>, ringTimeoutSeconds: number): Promise<RingOutcome> {
    if (this.answering) await this.answering;
    if (this.state === CallState.Ended) return 'ended';
    if (this.round || this.answered) throw new Error('call: a round of ringing is already in progress');
    return dialOut(this, attempts, ringTimeoutSeconds);
  }

  /** Stops the round of ringing in progress, if any (the router takes the caller elsewhere). */
  stopRinging(): void {
    const round = this.round;
    if (!round || this.answered) return;
    round.fork.stop();
    round.settle('no-answer');
  }

  /** Ring timeout or shutdown before an answer: cancel every leg and give the caller `status`. */
  giveUp(status: number, cause: EndCause): void {
    for (const leg of this.legs) leg.cancel(this.stack);
    this.refuseCaller(status);
    this.end(cause);
  }

  /** A request inside one of the call's dialogs, from the side that owns `dialog`. */
  onInDialogRequest(req: IncomingRequest, from: Dialog): void {
    this.inDialog.onRequest(req, from);
  }

  /** An ACK in one of the call's dialogs (`dialog`): the answer to the 2xx we owed, with a late offer's answer. */
  onAck(ack?: SipRequest, dialog?: Dialog): void {
    this.inDialog.onAck(ack, dialog);
  }

  /** Which sides hold the other (their phone's last offer was sendonly or inactive, or the API asked). */
  get holding(): Set<CallSide> {
    return this.bridge.holding;
  }

  /** Which sides the API muted: the other side does not hear them. */
  get muted(): Set<CallSide> {
    return this.bridge.muted;
  }

  /** Whether `side` holds the other. */
  isHolding(side: CallSide): boolean {
    return this.bridge.holding.has(side);
  }

  /** Whether `side` is muted. */
  isMuted(side: CallSide): boolean {
    return this.bridge.muted.has(side);
  }

  /** The devices of `extensionId` the call rings now: browsers (over WebSocket) and other phones. */
  ringingDevices(extensionId: string): { browsers: number; phones: number } {
    const legs = this.legs.filter((l) => l.live && l.party.extensionId === extensionId);
    const browsers = legs.filter((l) => l.flow.protocol === 'WS' || l.flow.protocol === 'WSS').length;
    return { browsers, phones: legs.length - browsers };
  }

  /** Whether `extensionId` is a party to the call, or one of its devices rings for it. */
  involves(extensionId: string): boolean {
    if (this.sideOf(extensionId) !== undefined) return true;
    const { browsers, phones } = this.ringingDevices(extensionId);
    return browsers + phones > 0;
  }

  /** A header field of the caller's INVITE, if the caller called in. */
  callerHeader(name: string): string | undefined {
    return this.inbound?.message.headers.get(name);
  }

  /** Which side of the call an extension is on, if it is a party to it. */
  sideOf(extensionId: string): CallSide | undefined {
    if (this.caller.extensionId === extensionId) return 'caller';
    if (this.callee?.extensionId === extensionId) return 'callee';
    return undefined;
  }

  /** Which party of the call a dialog of its own is with, if it is the caller's or the answered party's. */
  partyOf(dialog: Dialog): { side: CallSide; party: CallParty } | undefined {
    if (dialog === this.callerDialog) return { side: 'caller', party: this.caller };
    if (dialog === this.answered?.dialog && this.callee) return { side: 'callee', party: this.callee };
    return undefined;
  }

  /** The API's checks before it acts on the media of an answered call. */
  private mediaControl(what: string): void {
    if (this.state !== CallState.Answered) throw new CallStateError(`${what}: the call is not answered`);
    // A transfer in progress: the consultation pairs the media itself, and a blind transfer has nobody answered yet.
    if (this.task || !this.answered) throw new CallStateError(`${what}: a transfer is in progress`);
    const unavailable = this.bridge.unavailable;
    if (unavailable !== undefined) throw new MediaUnavailableError(what, unavailable);
  }

  /**
   * `side` puts the other on hold from the API (its phone sends no re-INVITE): the relay stops `side`'s audio and
   * plays music to the other side until `held` is false. Needs the relay.
   */
  async holdFrom(side: CallSide, held: boolean): Promise<void> {
    this.mediaControl('Holding a call');
    await this.bridge.setHolding(side, held, true);
  }

  /** Mutes `side`: the other side stops hearing it, and `side` still hears the other. Needs the relay. */
  async mute(side: CallSide, muted: boolean): Promise<void> {
    this.mediaControl('Muting a call');
    await this.bridge.mute(side, muted);
  }

  /** Blind transfer of the caller to `target`, inside the B2BUA; see {@link BlindTransfer}. */
  transferCaller(target: RingTarget, ringTimeoutSeconds: number): Promise<RingOutcome> {
    return BlindTransfer.start(this, target, ringTimeoutSeconds);
  }

  /** A REFER from the party who answered, its target found; see {@link acceptRefer}. */
  acceptRefer(req: IncomingRequest, target: ReferTarget): void {
    acceptRefer(this, req, () => {
      if ('take' in target) this.waitAgain(target.router, target.take);
      else void this.transferCaller(target.ring, target.ringTimeoutSeconds).catch(() => undefined);
    });
  }

  /** Blind transfer to a router: the caller waits again with music; see {@link waitAgain}. Needs the relay. */
  waitAgain(target: TransferTarget, take: (call: Call) => void): void {
    waitAgain(this, target, () => take(this));
  }

  /** Why the call cannot take part in joining two calls now, if it cannot. */
  joinRefusal(): string | undefined {
    return joinRefusal(this);
  }

  /** Joining two calls of one phone, the call the phone placed: see {@link handOverCallee}. */
  handOverCallee(): Leg {
    return handOverCallee(this);
  }

  /** Joining two calls of one phone, the call the phone took: see {@link adoptCallee}. */
  adoptCallee(leg: Leg, from: CallParty): Promise<void> {
    return adoptCallee(this, leg, from);
  }

  /** The consultation in progress: whom it rings or talks with. */
  get consulting(): { target: CallParty; answered: boolean } | undefined {
    return this.task instanceof Consultation ? this.task.summary() : undefined;
  }

  /** Attended transfer, first step: see {@link Consultation}. Needs the relay. */
  consult(target: RingTarget, ringTimeoutSeconds: number): Promise<RingOutcome> {
    this.mediaControl('An attended transfer');
    return Consultation.start(this, target, ringTimeoutSeconds);
  }

  /** Completes the attended transfer in progress. */
  completeConsultation(): void {
    Consultation.of(this, 'Completing a transfer').complete();
  }

  /** Cancels the attended transfer in progress: the caller is back with the transferor. */
  cancelConsultation(): void {
    Consultation.of(this, 'Cancelling a transfer').cancel();
  }

  /**
   * A DTMF digit the relay saw in the call's media, from the party tagged `fromTag`. A digit we played for the
   * carrier (its SIP INFO, reported when it came) is not reported again; a phone's digit goes on to a carrier that
   * takes SIP INFO (see carrier-dtmf.ts).
   */
  onMediaDtmf(fromTag: string, digit: string, durationMs = 0): void {
    if (this.state !== CallState.Answered) return;
    if (this.bridge.wasPlayed(fromTag, digit)) return;
    this.notices.dtmf(fromTag === this.bridge.callerTag ? 'caller' : 'callee', digit, 'rfc4733');
    if (!this.bridge.isCarrierTag(fromTag)) sendDigitAsInfo(this, digit, durationMs);
  }

  /** How long the caller talked with parties by `end`: from the first answer, less any wait for a router since. */
  talkMs(end: number): number {
    if (this.answeredAt === undefined) return 0;
    return end - this.answeredAt - this.waitedMs - (this.waitingSince === undefined ? 0 : end - this.waitingSince);
  }

  /** The peer of `flow` is gone (its connection closed): the call ends, the other side hears BYE. */
  onFlowClosed(flow: Flow): void {
    if (this.state === CallState.Ended) return;
    if (this.state !== CallState.Answered) {
      if (this.inbound?.flow.id === flow.id || (this.callerDialog !== undefined && this.callerDialog.flow.id === flow.id)) {
        for (const leg of this.legs) leg.cancel(this.stack);
        this.end('peer-lost');
      } else {
        for (const fork of this.forks) fork.lost(flow);
      }
      return;
    }
    if (this.task?.onFlowClosed?.(flow)) return;
    const callerGone = this.callerDialog?.flow.id === flow.id;
    const calleeGone = this.answered?.dialog?.flow.id === flow.id;
    if (!callerGone && !calleeGone) return;
    if (callerGone && this.answered?.dialog) this.bye(this.answered.dialog);
    if (calleeGone && this.callerDialog) this.bye(this.callerDialog);
    this.end('peer-lost');
  }

  /** Hangs up both sides (API hangup, ACK timeout, shutdown). */
  hangUpAll(cause: EndCause): void {
    if (this.state === CallState.Ended) return;
    if (this.state !== CallState.Answered) {
      this.giveUp(cause === 'shutdown' ? 503 : 480, cause);
      return;
    }
    if (this.callerDialog) this.bye(this.callerDialog);
    if (this.answered?.dialog) this.bye(this.answered.dialog);
    this.end(cause);
  }

  end(cause: EndCause): void {
    if (this.state === CallState.Ended) return;
    this.endedAt = Date.now();
    this.endCause = cause;
    // The caller always gets a final answer, whatever ended the call before it had one.
    if (this.inbound && !this.inbound.transaction.finalSent) this.inbound.reply(cause === 'shutdown' ? 503 : 480);
    this.moveTo(CallState.Ended);
    // A transfer's target still ringing hears CANCEL; one that answered but was not bridged yet, BYE.
    for (const fork of this.forks) fork.stop();
    const task = this.task;
    this.task = undefined;
    task?.kill();
    this.inDialog.close();
    this.round?.settle('ended');
    for (const leg of this.legs) leg.release(this.stack);
    this.bridge.close();
    this.observer.onEnded(this, cause);
  }

  /** Idempotent: ends the call (BYE/CANCEL as needed) if it still runs. */
  close(cause: EndCause = 'shutdown'): void {
    this.hangUpAll(cause);
  }

  /** A call never just stops: its parties are told. */
  override terminate(): void {
    this.close('shutdown');
  }
}
