/**
 * A call through the B2BUA: one inbound leg (the caller's INVITE, answered by us) and the outbound legs we place
 * to every registered contact of the callee at once. The first 2xx wins and the others are cancelled; 180/183 are
 * passed back; all legs failing gives the caller the best failure; the ring timeout gives 480. Once answered, the
 * two dialogs are bridged: BYE on either ends both, re-INVITE, UPDATE and INFO are relayed across.
 * Every SDP on its way across goes through the media plane, rewritten for the side it goes to (anchored by the
 * relay, or passed through by direct media). A party that holds (sendonly or inactive) leaves the other hearing
 * music on hold; DTMF sent by SIP INFO is reported like the relay's RFC 4733 digits.
 *
 *   Routing --first 18x--> Ringing --2xx--> Answered --BYE/failure--> Ended
 *   Routing/Ringing ------all legs fail, CANCEL, ring timeout------> Ended
 *
 * `close()` is idempotent and releases every leg, timer and index once.
 */
import { randomUUID } from 'node:crypto';
import {
  type ClientTransactionUser,
  contactHeader,
  Dialog,
  type Flow,
  type IncomingRequest,
  NO_USER,
  type InviteClientTransaction,
  InviteServerTransaction,
  parseUri,
  randomToken,
  SipHeaders,
  SipRequest,
  type SipResponse,
  type SipStack,
  StateMachine,
} from '../../sip/index.ts';
import { CALL_ID_PREFIX, type MediaPlane, type MediaProfile, MediaUnavailableError, narrowOffer, sendingAndReceiving, sendsAndReceives, silentAnswer, silentOffer } from '../../media/index.ts';
import type { Binding } from '../location-service.ts';
import { bestFailure, endsFork, sameParty } from './fork-rules.ts';
import { repeatedReliable } from './reliable-provisional.ts';

/** The methods a party may send in a call's dialogs (REFER: the party who answered transfers its caller). */
const DIALOG_ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER';

/** The header that carries our call id to the parties of a call. */
export const CALL_HEADER = 'X-Switchboard-Call';

export enum CallState {
  Routing = 'routing',
  Ringing = 'ringing',
  Answered = 'answered',
  Ended = 'ended',
}

const LEGAL: Record<CallState, readonly CallState[]> = {
  [CallState.Routing]: [CallState.Ringing, CallState.Answered, CallState.Ended],
  [CallState.Ringing]: [CallState.Answered, CallState.Ended],
  // Back to routing: the party who answered sent the caller to a queue, where it waits again.
  [CallState.Answered]: [CallState.Routing, CallState.Ended],
  [CallState.Ended]: [],
};

export type EndCause =
  | 'caller-hangup'
  | 'callee-hangup'
  | 'cancelled'
  | 'busy'
  | 'no-answer'
  | 'unavailable'
  | 'rejected'
  | 'failed'
  | 'ack-timeout'
  | 'peer-lost'
  | 'media-failed'
  | 'media-lost'
  | 'shutdown'
  /** Hung up by a user through the API (an agent's or a manager's hang-up button). */
  | 'hangup'
  /** A blind transfer's target did not answer: the caller, left alone, is hung up. */
  | 'transfer-failed'
  /**
   * A phone joined two of its calls (an attended transfer by REFER with Replaces): this one's other party went on in
   * the other call, and the phone left both.
   */
  | 'transferred'
  /** A waiting caller let go by whoever routed the call (too long a wait, a full queue, nobody to answer). */
  | 'queue-timeout'
  | 'queue-full'
  | 'queue-empty'
  /** The relay received no packet from any party for the configured time (see CallWatchdog). */
  | 'media-timeout'
  /** A session refresh (RFC 4028) owed by a party did not come, or one of ours was answered 408/481 or not at all. */
  | 'session-timer-expired'
  /** A party answered an in-dialog OPTIONS with 408 or 481, or did not answer it. */
  | 'probe-failed'
  /** The call lasted as long as its tenant allows. */
  | 'max-duration';

/** How one round of ringing ended: someone answered, nobody did (and why), or the call ended meanwhile. */
export type RingOutcome = 'answered' | 'no-answer' | 'busy' | 'rejected' | 'unavailable' | 'ended';

/** A party to ring and the contacts it is reached at. */
export interface RingTarget {
  party: CallParty;
  contacts: Array<{ binding: Binding; flow: Flow }>;
}

export type CallSide = 'caller' | 'callee';

/** The media plane as a call uses it, with the file a held party hears. */
export interface CallMedia {
  plane: MediaPlane;
  holdMusic: string | undefined;
  /** What a caller the PBX answered hears while the party it called rings (a click-to-call's agent). */
  ringback: string | undefined;
  onError(err: unknown, context: string): void;
}

/** The media tag of an inbound caller's side; each outbound leg is tagged with its own id. */
export const CALLER_TAG = 'caller';
/** The media tag of the PBX itself, the side a waiting caller is answered by (see silentAnswer). */
const PBX_TAG = 'pbx';

/** A browser (WebSocket) gets WebRTC media; every other transport plain RTP. */
export function profileOf(flow: Flow): MediaProfile {
  return flow.protocol === 'WS' || flow.protocol === 'WSS' ? 'webrtc' : 'rtp';
}

/** A media description a party gave, as it gave it. */
type StoredSdp = { body: Buffer; type: string };

/** The SDP a message carries, if it carries one. */
function sdpOf(message: { body: Buffer; headers: SipHeaders } | undefined): StoredSdp | undefined {
  const type = message?.headers.get('Content-Type');
  return message && isSdp(type, message.body) ? { body: message.body, type: type as string } : undefined;
}

/** A stored media description as a message body, to offer it again. */
function sdpMessage(sdp: StoredSdp): { body: Buffer; headers: SipHeaders } {
  return { body: sdp.body, headers: new SipHeaders().add('Content-Type', sdp.type) };
}

function isSdp(contentType: string | undefined, body: Buffer): boolean {
  return body.length > 0 && (contentType ?? '').split(';')[0]?.trim().toLowerCase() === 'application/sdp';
}

/** An SDP that puts the other side on hold: sendonly or inactive (session or media level), or the old c=0.0.0.0. */
export function sdpHolds(sdp: string): boolean {
  return /^a=(sendonly|inactive)\s*$/m.test(sdp) || /^c=IN IP4 0\.0\.0\.0\s*$/m.test(sdp);
}

/** The digit of a SIP INFO DTMF body (application/dtmf-relay `Signal=5`, or application/dtmf `5`). */
export function infoDigit(contentType: string | undefined, body: Buffer): string | undefined {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  const text = body.toString('utf8');
  const raw = type === 'application/dtmf-relay' ? /^\s*Signal\s*=\s*(\S+)\s*$/im.exec(text)?.[1] : type === 'application/dtmf' ? text.trim() : undefined;
  if (!raw) return undefined;
  const digit = raw === '10' ? '*' : raw === '11' ? '#' : raw.toUpperCase();
  return /^[0-9*#A-D]$/.test(digit) ? digit : undefined;
}

export interface CallParty {
  extensionId: string;
  number: number;
}

/** Where a transfer sends the caller: an extension, or a number whose router takes it (a queue: no extension). */
export type TransferTarget = { extensionId: string | undefined; number: number };

/** What the call tells its owner: the dialogs to route to it, and its life. */
export interface CallObserver {
  onDialog(call: Call, dialog: Dialog): void;
  onRinging(call: Call, leg: OutboundLeg): void;
  onAnswered(call: Call, leg: OutboundLeg): void;
  onEnded(call: Call, cause: EndCause): void;
  onHold(call: Call, side: CallSide, held: boolean): void;
  onDtmf(call: Call, side: CallSide, digit: string, via: 'rfc4733' | 'info'): void;
  /**
   * The agent who answered let go of the caller for `target`: a blind transfer (the target is rung now), or an
   * attended one being completed (the target was consulted, and may already be on the call).
   */
  onTransferring(call: Call, from: CallParty, target: TransferTarget, attended: boolean): void;
  /**
   * A party of the answered call asks, by REFER in `dialog`, to transfer the other: the observer finds the target, or
   * refuses.
   */
  onRefer(call: Call, req: IncomingRequest, side: CallSide, dialog: Dialog): void;
  /** An attended transfer's consultation began: `target` is rung for the agent `from` while the caller holds. */
  onConsulting(call: Call, from: CallParty, target: CallParty): void;
  /** The consultation's target answered: it talks with the agent. */
  onConsulted(call: Call, from: CallParty, leg: OutboundLeg): void;
  /** The consultation ended without a transfer: the target did not answer, hung up, or the agent cancelled. */
  onConsultationEnded(call: Call, from: CallParty, target: CallParty, outcome: 'cancelled' | 'failed'): void;
  /** The transfer's target answered: it is the callee now. */
  onTransferred(call: Call, from: CallParty, leg: OutboundLeg): void;
  /** Header fields for an INVITE the call sends to a party (a session timer asked for, RFC 4028). */
  offerHeaders(call: Call): Array<[string, string]>;
  /** Header fields for a 2xx the call sends in `dialog` to `request`, an INVITE or UPDATE (the session timer granted). */
  answerHeaders(call: Call, dialog: Dialog, request: SipRequest): Array<[string, string]>;
}

/**
 * Accepts a REFER (202) and tells its sender at once how the transfer went: a NOTIFY in `dialog` whose sipfrag is
 * `status` (rfc3515#section-2.4.5), as a PBX that takes the transfer over does.
 */
export function answerRefer(stack: SipStack, req: IncomingRequest, dialog: Dialog, status: string): void {
  req.reply(202);
  const notify = dialog.createRequest('NOTIFY', {
    body: Buffer.from(`SIP/2.0 ${status}\r\n`, 'utf8'),
    contentType: 'message/sipfrag;version=2.0',
    headers: [['Event', 'refer'], ['Subscription-State', 'terminated;reason=noresource']],
  });
  stack.sendRequest(notify, dialog.flow, NO_USER);
}

/** An action the call's state does not allow (holding a call nobody answered yet). */
export class CallStateError extends Error {
  override readonly name = 'CallStateError';
}

export class OutboundLeg {
  state: 'trying' | 'ringing' | 'answered' | 'failed' | 'cancelled' = 'trying';
  tx: InviteClientTransaction | undefined;
  dialog: Dialog | undefined;
  finalStatus: number | undefined;
  cancelWhenProvisional = false;

  constructor(
    readonly binding: Binding,
    readonly invite: SipRequest,
    readonly flow: Flow,
    /** The leg's media tag and branch. */
    readonly id: string,
    /** Whom the leg rings. */
    readonly party: CallParty,
  ) {}

  get live(): boolean {
    return this.state === 'trying' || this.state === 'ringing';
  }
}

/** The ACK for a leg's 2xx, ours to send end to end (rfc3261#section-13.2.2.4). */
function ackLeg(stack: SipStack, leg: OutboundLeg): void {
  if (leg.dialog) stack.sendStateless(leg.dialog.createRequest('ACK', { cseq: leg.invite.cseq.seq }), leg.flow);
}

function sendCancel(stack: SipStack, leg: OutboundLeg): void {
  const cancel = leg.tx?.createCancel();
  if (cancel) stack.sendRequest(cancel, leg.flow, NO_USER, { keepVia: true });
}

/**
 * What a leg still waiting for its final answer hears once its call has ended: a provisional answer lets the CANCEL
 * held back for one go (rfc3261#section-9.1); a 2xx is acknowledged and hung up at once; a failure needs nothing
 * (its transaction acknowledges it).
 */
function lateAnswers(stack: SipStack, leg: OutboundLeg): ClientTransactionUser {
  return {
    onResponse(response) {
      if (response.status < 200) {
        if (response.status > 100 && leg.cancelWhenProvisional) {
          leg.cancelWhenProvisional = false;
          sendCancel(stack, leg);
        }
        return;
      }
      if (response.status >= 300) return;
      const first = !leg.dialog;
      leg.dialog ??= Dialog.asUac(leg.invite, response, leg.flow, leg.invite.headers.get('Contact') as string);
      ackLeg(stack, leg);
      if (first) stack.sendRequest(leg.dialog.createRequest('BYE'), leg.dialog.flow, NO_USER);
    },
    onTimeout() {},
  };
}

/** A blind transfer: the target's legs, the one that answered, and who waits for the outcome. */
interface Transfer {
  from: CallParty;
  legs: OutboundLeg[];
  chosen: OutboundLeg | undefined;
  settle(outcome: RingOutcome): void;
}

/**
 * An attended transfer's consultation: the agent (the side who answered) is paired with the target while the caller
 * holds and hears music. It ends completed (the caller is bridged with the target and the agent let go) or cancelled
 * (the caller is back with the agent).
 */
interface Consultation {
  /** The agent's answered leg. */
  agent: OutboundLeg;
  target: CallParty;
  legs: OutboundLeg[];
  /** The target's leg that answered. */
  chosen: OutboundLeg | undefined;
  /** The agent's media is paired with the target's in the relay. */
  paired: boolean;
  /** The target's media description (its answer). */
  targetSdp?: StoredSdp;
  /** The agent left (completed, or hung up): whoever of the target answers gets the caller. */
  agentGone: boolean;
  /** Completing or cancelling: nothing else may change it. */
  closing: boolean;
  settle(outcome: RingOutcome): void;
}

/** One round of ringing: its legs, and who waits for its outcome. */
interface Attempt {
  legs: OutboundLeg[];
  settle(outcome: RingOutcome): void;
}

export class Call extends StateMachine<CallState> {
  readonly id = randomUUID();
  readonly legs: OutboundLeg[] = [];
  /** The round of ringing in progress. */
  private attempt: Attempt | undefined;
  /** The party that answered (for a routed call, known only then). */
  callee: CallParty | undefined;
  callerDialog: Dialog | undefined;
  answered: OutboundLeg | undefined;
  readonly createdAt = Date.now();
  answeredAt: number | undefined;
  endedAt: number | undefined;
  endCause: EndCause | undefined;
  /** The 2xx we owe the caller until its ACK comes (rfc3261#section-13.3.1.4). */
  private pending2xx: { response: SipResponse; request: SipRequest; flow: Flow } | undefined;
  /** The call's session in the media plane. */
  readonly mediaId = `${CALL_ID_PREFIX}${this.id}`;
  /**
   * Names the call to its parties (in INVITEs to them and in answers to the caller), so that a softphone can act on
   * it through the API, whose call ids are ours and not SIP's.
   */
  private readonly callHeader: [string, string] = [CALL_HEADER, this.id];
  private mediaUsed = false;
  /** Which sides hold the other (their phone's last offer was sendonly or inactive, or the API asked). */
  readonly holding = new Set<CallSide>();
  /** Which sides the API muted: the other side does not hear them. */
  readonly muted = new Set<CallSide>();
  /** The SDP each side last described its media with (a transfer offers the caller's to the new party). */
  private readonly sdpOf: Partial<Record<CallSide, StoredSdp>> = {};
  /** A blind transfer in progress: the caller waits while its target rings. */
  private transfer: Transfer | undefined;
  /** An attended transfer's consultation in progress: the agent talks with the target while the caller holds. */
  private consultation: Consultation | undefined;
  /** The dialogs that ended (a BYE went or came): none is ended twice. */
  private readonly ended = new WeakSet<Dialog>();
  /** Messages for the caller leave in order, each after its SDP went through the media plane. */
  private upstream: Promise<void> = Promise.resolve();
  /**
   * The caller's media tag: `caller` for an inbound caller; for a click-to-call, the leg of the caller's device that
   * answered.
   */
  private callerTag = CALLER_TAG;
  /**
   * The media description the caller was last given by the relay, when it was an answer to the caller's offer: the
   * codec it speaks is among those, and parties offered its media later must keep to it.
   */
  private callerAnswer: string | undefined;
  /** The audio a caller the PBX answered hears until a party answers (music in a queue, ringback otherwise). */
  private waitingAudio: string | undefined;
  /** Since when an answered caller waits again (sent to a queue), and how long it waited so before. */
  private waitingSince: number | undefined;
  private waitedMs = 0;
  /** The PBX answering a routed caller: ringing waits for it. */
  private answering: Promise<void> | undefined;
  /**
   * A late offer (rfc3261#section-13.2.1, rfc3264): the caller's INVITE had no SDP, so the leg that answered offered
   * in its 2xx; its ACK waits for the caller's answer, which comes in the caller's ACK.
   */
  private lateOffer: OutboundLeg | undefined;
  /** The answer each late-offer leg's ACK carries, to send again when its 2xx is retransmitted. */
  private readonly lateAnswers = new WeakMap<OutboundLeg, StoredSdp>();
  /**
   * A re-INVITE without SDP relayed from `side` (rfc3261#section-14.1): the other side offered in its 2xx, and our ACK
   * to it (CSeq `cseq`) waits for the answer in `side`'s ACK.
   */
  private reinviteOffer: { side: CallSide; from: Dialog; to: Dialog; cseq: number; offer: StoredSdp; answer?: StoredSdp } | undefined;

  constructor(
    readonly tenantId: string,
    readonly domain: string,
    readonly caller: CallParty,
    /** The number the caller dialed. */
    readonly dialed: number,
    /**
     * A routed call (a queue) is rung round after round by whoever routes it; its caller hears music or ringback
     * meanwhile and only learns of the outcome when the router answers or lets it go. A direct call rings one round
     * only, until the party who answered sends it to a router ({@link waitAgain}).
     */
    public routed: boolean,
    /** The caller's INVITE; none for a click-to-call, whose caller is rung first ({@link callBack}). */
    readonly inbound: IncomingRequest | undefined,
    private readonly stack: SipStack,
    private readonly observer: CallObserver,
    private readonly timerValues: { T1: number; T2: number },
    private readonly media: CallMedia,
  ) {
    super(CallState.Routing, LEGAL, CallState.Ended, 'call');
  }

  private contactFor(flow: Flow, user: string): string {
    return contactHeader(user, this.stack.advertisedHost(flow), this.stack.advertisedPort(flow.protocol), flow.protocol);
  }

  /** Sends messages toward the caller in order, after whatever went before them. */
  private toCaller(step: () => Promise<void>): void {
    this.upstream = this.upstream.then(step).catch((err: unknown) => this.mediaFailed(err));
  }

  private mediaFailed(err: unknown): void {
    this.media.onError(err, 'call:media');
    this.hangUpAll('media-failed');
  }

  /** The SDP a message carries, rewritten by the media plane for the side it goes to; other bodies pass as they are. */
  private async mediaBody(
    kind: 'offer' | 'answer',
    message: { body: Buffer; headers: SipHeaders },
    fromTag: string,
    toTag: string | undefined,
    to: Flow,
    branch?: string,
  ): Promise<Buffer | undefined> {
    if (message.body.length === 0) return undefined;
    if (!isSdp(message.headers.get('Content-Type'), message.body)) return message.body;
    this.mediaUsed = true;
    const step = { callId: this.mediaId, fromTag, toTag, branch, sdp: message.body.toString('utf8'), profile: profileOf(to) };
    const sdp = kind === 'offer' ? await this.media.plane.offer(step) : await this.media.plane.answer({ ...step, toTag: toTag as string });
    return Buffer.from(sdp, 'utf8');
  }

  /** A direct call: rings every contact of the callee at once, and gives up after its ring timeout with 480. */
  async start(target: RingTarget, ringTimeoutSeconds: number): Promise<void> {
    await this.ring([target], ringTimeoutSeconds);
  }

  /**
   * A routed call waits for its router. With the relay (and music to play) the PBX answers the caller itself, and the
   * caller hears music on hold until a party answers; otherwise it hears ringback (180) meanwhile.
   */
  hold(): void {
    const inbound = this.inbound;
    if (!inbound) return;
    if (inbound.transaction instanceof InviteServerTransaction) inbound.transaction.onCancel(() => this.onCallerCancel());
    if (inbound.transaction.finalSent) return;
    const music = this.media.holdMusic;
    if (music && this.media.plane.unavailableReason === undefined && sdpOf(inbound.message)) {
      this.answering = this.answerCaller(inbound, music).catch((err: unknown) => this.mediaFailed(err));
      return;
    }
    inbound.reply(180, { headers: [['Contact', this.contactFor(inbound.flow, String(this.dialed))], this.callHeader] });
  }

  /**
   * The PBX answers the caller: the relay answers its offer for a side that is the PBX (see silentAnswer), the
   * caller's own audio is blocked and it hears `audio` until a party answers.
   */
  private async answerCaller(inbound: IncomingRequest, audio: string): Promise<void> {
    const answer = await this.answerFromPbx(sdpOf(inbound.message) as StoredSdp, inbound.flow);
    if (this.state === CallState.Ended || inbound.transaction.finalSent) return this.forgetMedia();
    await this.waitWith(audio);
    if ((this.state as CallState) === CallState.Ended || inbound.transaction.finalSent) return this.forgetMedia();
    const contact = this.contactFor(inbound.flow, String(this.dialed));
    this.callerDialog = Dialog.asUas(inbound.message, inbound.transaction.toTag, inbound.flow, contact);
    this.observer.onDialog(this, this.callerDialog);
    const headers: Array<[string, string]> = [['Contact', contact], ['Allow', DIALOG_ALLOW], this.callHeader, ...this.observer.answerHeaders(this, this.callerDialog, inbound.message)];
    const ok = inbound.reply(200, { body: Buffer.from(answer, 'utf8'), contentType: 'application/sdp', headers });
    this.await2xxAck(ok, inbound.message, inbound.flow);
  }

  /**
   * The relay's answer to the caller's `offer` from the PBX's side. Parties rung later are offered only the codec the
   * caller was answered with: the caller keeps it, its side of the relay does not change when one answers.
   */
  private async answerFromPbx(offer: StoredSdp, flow: Flow): Promise<string> {
    this.mediaUsed = true;
    const sdp = offer.body.toString('utf8');
    const toPbx = await this.media.plane.offer({ callId: this.mediaId, fromTag: this.callerTag, toTag: PBX_TAG, sdp, profile: 'rtp' });
    const answer = await this.media.plane.answer({ callId: this.mediaId, fromTag: PBX_TAG, toTag: this.callerTag, sdp: silentAnswer(toPbx), profile: profileOf(flow) });
    this.sdpOf.caller = { body: Buffer.from(narrowOffer(sdp, answer), 'utf8'), type: offer.type };
    this.callerAnswer = answer;
    return answer;
  }

  /** The call ended while the relay was asked something: whatever that created in the relay is released again. */
  private forgetMedia(): void {
    this.media.plane.delete(this.mediaId).catch((err: unknown) => this.media.onError(err, 'call:media delete'));
  }

  /** The caller the PBX answered waits: its audio goes nowhere, and it hears `audio`. */
  private async waitWith(audio: string): Promise<void> {
    this.waitingAudio = audio;
    await this.media.plane.block(this.mediaId, this.callerTag, true);
    await this.media.plane.play(this.mediaId, this.callerTag, audio);
  }

  /** A party answered the waiting caller: the audio stops and the caller is heard again. */
  private async stopWaiting(): Promise<void> {
    if (!this.waitingAudio) return;
    this.waitingAudio = undefined;
    await this.media.plane.stopPlay(this.mediaId, this.callerTag);
    await this.media.plane.block(this.mediaId, this.callerTag, false);
  }

  /**
   * Click-to-call, first step (the controller of rfc3725, with the relay as its media): every contact of the caller
   * is rung with an offer from the PBX. The first to answer is the caller's side of the call: it hears `audio`
   * (ringback, or a queue's music) until a party answers. Nobody answering in `ringTimeoutSeconds`, or all refusing,
   * ends the call. Answers how that ringing ended. Needs the relay.
   */
  callBack(target: RingTarget, ringTimeoutSeconds: number, audio: string): Promise<RingOutcome> {
    if (this.media.plane.unavailableReason !== undefined) throw new MediaUnavailableError('Click-to-call', this.media.plane.unavailableReason);
    if (this.inbound || this.callerDialog || this.attempt) throw new CallStateError('Calling back: the caller is already on the call');
    const { attempt, outcome } = this.newAttempt();
    if (target.contacts.length === 0) {
      attempt.settle('unavailable');
      this.end('unavailable');
      return outcome;
    }
    this.runCallBack(attempt, target, ringTimeoutSeconds, audio).catch((err: unknown) => this.mediaFailed(err));
    return outcome;
  }

  private async runCallBack(attempt: Attempt, target: RingTarget, ringTimeoutSeconds: number, audio: string): Promise<void> {
    this.mediaUsed = true;
    const branches = target.contacts.map(() => randomUUID());
    const sdp = silentOffer();
    const bodies = await Promise.all(
      target.contacts.map(({ flow }, i) => this.media.plane.offer({ callId: this.mediaId, fromTag: PBX_TAG, toTag: branches[i], branch: branches[i], sdp, profile: profileOf(flow) })),
    );
    if (this.state === CallState.Ended) return;
    // The caller's phone shows the number it is about to call.
    const from = { extensionId: '', number: this.dialed };
    for (const [i, { binding, flow }] of target.contacts.entries()) {
      const request = { maxForwards: 70, display: undefined, body: Buffer.from(bodies[i] as string, 'utf8'), contentType: 'application/sdp', from };
      attempt.legs.push(this.placeLeg(binding, flow, target.party, branches[i] as string, request, (leg, response) => this.onCallBackResponse(attempt, leg, response, audio), (leg, status) => this.onLegFailed(leg, status)));
    }
    this.after(ringTimeoutSeconds * 1000, () => {
      if (this.attempt !== attempt) return;
      for (const leg of attempt.legs) this.cancelLeg(leg);
      attempt.settle('no-answer');
      this.end('no-answer');
    });
  }

  private onCallBackResponse(attempt: Attempt, leg: OutboundLeg, response: SipResponse, audio: string): void {
    if (!this.firstAnswer(leg, response, (status) => this.onLegFailed(leg, status)) || !leg.dialog) return;
    if (this.state === CallState.Ended || this.attempt !== attempt || this.callerDialog) {
      leg.state = 'cancelled';
      this.bye(leg.dialog);
      return;
    }
    leg.state = 'answered';
    for (const other of attempt.legs) if (other !== leg) this.cancelLeg(other);
    this.callerTag = leg.id;
    this.callerDialog = leg.dialog;
    this.observer.onDialog(this, leg.dialog);
    this.noteSdp('caller', response);
    this.toCaller(async () => {
      // The PBX's side was offered silence; the caller's answer completes it in the relay.
      await this.mediaBody('answer', response, leg.id, PBX_TAG, leg.flow, leg.id);
      if (this.state === CallState.Ended) return;
      await this.waitWith(audio);
      attempt.settle('answered');
    });
  }

  /**
   * One round: rings every contact of every target at once, for `ringTimeoutSeconds`. The first answer is bridged to
   * the caller. A direct call that nobody answers ends with the best failure; a routed call waits for the next round.
   */
  async ring(targets: RingTarget[], ringTimeoutSeconds: number): Promise<RingOutcome> {
    if (this.answering) await this.answering;
    if (this.state === CallState.Ended) return 'ended';
    if (this.attempt || this.answered) throw new Error('call: a round of ringing is already in progress');
    // A caller the PBX answered waits: each party rung gets its own side in the relay, offered the caller's media.
    const waiting = this.callerDialog !== undefined;
    const stored = this.sdpOf.caller;
    const offer = waiting && stored ? sdpMessage(stored) : this.inbound?.message;
    if (!offer) throw new Error('call: the caller described no media');
    const maxForwards = Math.max(0, Number(this.inbound?.message.headers.get('Max-Forwards') ?? 70) - 1);
    const display = this.inbound?.message.from.displayName;
    if (!this.routed && this.inbound?.transaction instanceof InviteServerTransaction) this.inbound.transaction.onCancel(() => this.onCallerCancel());
    const { attempt, outcome } = this.newAttempt();
    const contacts = targets.flatMap((t) => t.contacts.map((c) => ({ ...c, party: t.party })));
    const branches = contacts.map(() => randomUUID());
    let bodies: Array<Buffer | undefined>;
    try {
      bodies = await Promise.all(contacts.map(({ flow }, i) => this.mediaBody('offer', offer, this.callerTag, waiting ? branches[i] : undefined, flow, branches[i])));
    } catch (err) {
      this.media.onError(err, 'call:media offer');
      this.refuseCaller(500, 'Server Internal Error (media relay failed)');
      this.end('media-failed');
      return outcome;
    }
    // The caller may have gone while the media plane answered.
    if ((this.state as CallState) === CallState.Ended) return outcome;
    for (const [i, { binding, flow, party }] of contacts.entries()) {
      const request = { maxForwards, display, body: bodies[i], contentType: offer.headers.get('Content-Type') };
      const leg = this.placeLeg(binding, flow, party, branches[i] as string, request, (l, response) => this.onLegResponse(l, response), (l, status) => this.onLegFailed(l, status));
      attempt.legs.push(leg);
    }
    if (attempt.legs.length === 0) this.attemptFailed(attempt, 480);
    this.after(ringTimeoutSeconds * 1000, () => {
      if (this.attempt !== attempt || this.answered) return;
      for (const leg of attempt.legs) this.cancelLeg(leg);
      if (this.routed) attempt.settle('no-answer');
      else this.giveUp(480, 'no-answer');
    });
    return outcome;
  }

  /** A round of ringing begins: it is the call's until it settles. */
  private newAttempt(): { attempt: Attempt; outcome: Promise<RingOutcome> } {
    let settle!: (outcome: RingOutcome) => void;
    const outcome = new Promise<RingOutcome>((resolve) => (settle = resolve));
    const attempt: Attempt = {
      legs: [],
      settle: (o) => {
        if (this.attempt === attempt) this.attempt = undefined;
        settle(o);
      },
    };
    this.attempt = attempt;
    return { attempt, outcome };
  }

  /** Sends an INVITE for one contact of `party` (the caller as the From), as a leg of this call. */
  private placeLeg(
    binding: Binding,
    flow: Flow,
    party: CallParty,
    branch: string,
    request: { maxForwards: number; display: string | undefined; body: Buffer | undefined; contentType: string | undefined; from?: CallParty },
    onResponse: (leg: OutboundLeg, response: SipResponse) => void,
    onFailed: (leg: OutboundLeg, status: number) => void,
  ): OutboundLeg {
    const { maxForwards, display, body, contentType } = request;
    const from = request.from ?? this.caller;
    const headers = new SipHeaders()
      .add('Max-Forwards', String(maxForwards))
      .add('From', `${display === undefined ? '' : `"${display.replace(/(["\\])/g, '\\$1')}" `}<sip:${from.number}@${this.domain}>;tag=${randomToken()}`)
      .add('To', `<sip:${party.number}@${this.domain}>`)
      .add('Call-ID', `${randomToken(12)}@switchboard`)
      .add('CSeq', '1 INVITE')
      .add('Contact', this.contactFor(flow, String(from.number)))
      .add('Allow', DIALOG_ALLOW)
      .add(...this.callHeader);
    // A contact registered through an edge: its Path is the pre-loaded Route set (RFC 3327 section 5.3).
    for (const route of binding.path) headers.add('Route', route);
    for (const [name, value] of this.observer.offerHeaders(this)) headers.add(name, value);
    if (body && contentType) headers.add('Content-Type', contentType);
    const invite = new SipRequest('INVITE', parseUri(binding.contact), headers, body ?? Buffer.alloc(0));
    const leg = new OutboundLeg(binding, invite, flow, branch, party);
    this.legs.push(leg);
    leg.tx = this.stack.sendRequest(invite, flow, {
      onResponse: (response) => onResponse(leg, response),
      onTimeout: () => onFailed(leg, 408),
    }) as InviteClientTransaction;
    return leg;
  }

  /**
   * A leg's INVITE transaction outlives its call by up to 32 s (Timers B, D and M): once the call has ended, it
   * must not keep the call alive. One with its final answer needs nothing more; one still waiting for it (a phone
   * that never answered, not even 100) is looked after without the call.
   */
  private releaseLeg(leg: OutboundLeg): void {
    const tx = leg.tx;
    if (!tx) return;
    if (tx.state === 'accepted' || tx.state === 'completed' || tx.state === 'terminated') tx.release();
    else tx.release(lateAnswers(this.stack, leg));
  }

  /** Stops the round of ringing in progress, if any (the router takes the caller elsewhere). */
  stopRinging(): void {
    const attempt = this.attempt;
    if (!attempt || this.answered) return;
    for (const leg of attempt.legs) this.cancelLeg(leg);
    attempt.settle('no-answer');
  }

  /**
   * A provisional response that needs nothing more: 100, or the first one after a CANCEL we had to hold back
   * (rfc3261#section-9.1), which is sent now.
   */
  private consumedProvisional(leg: OutboundLeg, status: number): boolean {
    if (status === 100) return true;
    if (!leg.cancelWhenProvisional) return false;
    leg.cancelWhenProvisional = false;
    this.sendCancel(leg);
    return true;
  }

  private onLegResponse(leg: OutboundLeg, response: SipResponse): void {
    const status = response.status;
    if (status < 200) {
      if (this.consumedProvisional(leg, status)) return;
      // A reliable 183 we did not ask for comes again until a PRACK: the caller hears it once.
      if (repeatedReliable(leg, response)) return;
      if (this.state === CallState.Ended || this.answered) return;
      if (leg.state === 'trying') leg.state = 'ringing';
      if (this.state === CallState.Routing) this.moveTo(CallState.Ringing);
      this.observer.onRinging(this, leg);
      // A routed caller already hears ringback or music, and one the PBX answered its waiting audio; what one of the
      // rung phones sends is not for it.
      const inbound = this.inbound;
      if (this.routed || !inbound || this.callerDialog) return;
      // Pass the ringing (and early media SDP with 183) back to the caller.
      this.toCaller(async () => {
        // Without the caller's offer, SDP in an unreliable 18x answers nothing (rfc3261#section-13.2.1): not passed.
        const body = sdpOf(inbound.message) ? await this.mediaBody('answer', response, leg.id, this.callerTag, inbound.flow, leg.id) : undefined;
        if (this.state === CallState.Ended || this.answered || inbound.transaction.finalSent) return;
        inbound.reply(status, {
          reason: response.reason,
          body,
          contentType: body ? response.headers.get('Content-Type') : undefined,
          headers: [['Contact', this.contactFor(inbound.flow, String(this.dialed))], this.callHeader],
        });
      });
      return;
    }
    if (status < 300) {
      this.onLegAnswered(leg, response);
      return;
    }
    this.onLegFailed(leg, status);
  }

  private onLegAnswered(leg: OutboundLeg, response: SipResponse): void {
    // The ACK for a 2xx is ours to send, end to end (rfc3261#section-13.2.2.4), once per dialog.
    if (leg.dialog) {
      this.ackLeg(leg);
      return;
    }
    const contact = leg.invite.headers.get('Contact') as string;
    leg.dialog = Dialog.asUac(leg.invite, response, leg.flow, contact);
    const waiting = this.callerDialog !== undefined;
    const inbound = this.inbound;
    if (this.state === CallState.Ended || this.answered || (!waiting && (!inbound || inbound.transaction.finalSent))) {
      // A second fork, or too late: this one is hung up at once.
      this.ackLeg(leg);
      leg.state = 'cancelled';
      this.bye(leg.dialog);
      return;
    }
    const late = !waiting && inbound !== undefined && !sdpOf(inbound.message) && sdpOf(response) !== undefined;
    if (late) this.lateOffer = leg;
    else this.ackLeg(leg);
    leg.state = 'answered';
    this.answered = leg;
    this.callee = leg.party;
    const now = Date.now();
    // A caller sent to a queue keeps its first answer; the wait in the queue is no talk.
    if (this.waitingSince !== undefined) this.waitedMs += now - this.waitingSince;
    this.waitingSince = undefined;
    this.answeredAt ??= now;
    if (!waiting && inbound) this.noteSdp('caller', inbound.message);
    this.noteSdp('callee', response);
    if (this.state === CallState.Routing) this.moveTo(CallState.Ringing);
    this.moveTo(CallState.Answered);
    this.observer.onDialog(this, leg.dialog);
    for (const other of this.legs) if (other !== leg && other.live) this.cancelLeg(other);
    this.attempt?.settle('answered');

    if (waiting || !inbound) {
      this.toCaller(() => this.joinWaitingCaller(leg, response));
      return;
    }
    this.toCaller(async () => {
      // A late offer goes to the caller as an offer, from the callee's side of the relay.
      const body = late ? await this.mediaBody('offer', response, leg.id, this.callerTag, inbound.flow) : await this.mediaBody('answer', response, leg.id, this.callerTag, inbound.flow, leg.id);
      if (this.state === CallState.Ended || inbound.transaction.finalSent) return;
      if (!late) this.callerAnswer = body?.toString('utf8');
      const callerContact = this.contactFor(inbound.flow, String(this.dialed));
      this.callerDialog = Dialog.asUas(inbound.message, inbound.transaction.toTag, inbound.flow, callerContact);
      this.observer.onDialog(this, this.callerDialog);
      const ok = inbound.reply(200, {
        body,
        contentType: body ? response.headers.get('Content-Type') : undefined,
        headers: [['Contact', callerContact], ['Allow', DIALOG_ALLOW], this.callHeader, ...this.observer.answerHeaders(this, this.callerDialog, inbound.message)],
      });
      this.observer.onAnswered(this, leg);
      this.await2xxAck(ok, inbound.message, inbound.flow);
    });
  }

  /**
   * A party answered the caller the PBX had answered: its answer completes the relay's offer made from the caller's
   * side, which does not change (the caller is asked nothing), and the waiting audio stops.
   */
  private async joinWaitingCaller(leg: OutboundLeg, response: SipResponse): Promise<void> {
    await this.mediaBody('answer', response, leg.id, this.callerTag, (this.callerDialog as Dialog).flow, leg.id);
    if (this.state === CallState.Ended) return;
    await this.stopWaiting();
    this.observer.onAnswered(this, leg);
  }

  private ackLeg(leg: OutboundLeg): void {
    // A late offer's ACK carries the caller's answer: none before the caller's ACK brings it, the same one after.
    if (leg === this.lateOffer) return;
    const answer = this.lateAnswers.get(leg);
    if (answer && leg.dialog) this.stack.sendStateless(leg.dialog.createRequest('ACK', { cseq: leg.invite.cseq.seq, body: answer.body, contentType: answer.type }), leg.flow);
    else ackLeg(this.stack, leg);
  }

  /**
   * The caller's ACK to a 2xx that carried a late offer: its SDP is the answer (rfc3264#section-4), which goes to the
   * leg that offered in its ACK, through the relay. An ACK without one leaves the session with no media agreed: the
   * call is hung up.
   */
  private lateAnswer(ack: SipRequest, leg: OutboundLeg): void {
    this.lateOffer = undefined;
    const answer = sdpOf(ack);
    if (!answer) {
      this.ackLeg(leg);
      this.hangUpAll('failed');
      return;
    }
    this.noteSdp('caller', ack);
    this.toCaller(async () => {
      const body = await this.mediaBody('answer', ack, this.callerTag, leg.id, leg.flow);
      if (body) this.lateAnswers.set(leg, { body, type: answer.type });
      this.ackLeg(leg);
    });
  }

  /** Retransmits a 2xx to the caller (T1 doubling to T2) until its ACK; without one in 64*T1, the call ends. */
  private await2xxAck(response: SipResponse, request: SipRequest, flow: Flow): void {
    this.pending2xx = { response, request, flow };
    const { T1, T2 } = this.timerValues;
    let interval = T1;
    const retransmit = () => {
      if (this.pending2xx?.response !== response) return;
      if (!flow.reliable) this.stack.sendResponse2xx(response, request, flow);
      interval = Math.min(interval * 2, T2);
      this.after(interval, retransmit);
    };
    this.after(interval, retransmit);
    this.after(64 * T1, () => {
      if (this.pending2xx?.response === response) this.hangUpAll('ack-timeout');
    });
  }

  private onLegFailed(leg: OutboundLeg, status: number): void {
    if (!leg.live) return;
    leg.state = 'failed';
    leg.finalStatus = status;
    if (this.state === CallState.Ended || this.answered) return;
    const attempt = this.attempt;
    if (!attempt || !attempt.legs.includes(leg)) return;
    if (endsFork(status)) for (const other of sameParty(attempt.legs, leg)) this.cancelLeg(other);
    if (attempt.legs.some((l) => l.live)) return;
    this.attemptFailed(attempt);
  }

  /** Every leg of a round failed: a direct call ends with the best failure, a routed one waits for the next round. */
  private attemptFailed(attempt: Attempt, fallback = 480): void {
    // The best failure for the caller (rfc3261#section-16.7): a 6xx, then busy, then any other answer.
    const status = bestFailure(attempt.legs.map((l) => l.finalStatus ?? 480), fallback);
    const cause = status === 486 || status === 600 ? 'busy' : status === 480 || status === 408 ? 'unavailable' : 'rejected';
    attempt.settle(cause);
    // A routed caller waits for the router's next round; a click-to-call whose caller did not answer has nobody.
    if (this.routed && (this.inbound || this.callerDialog)) return;
    this.refuseCaller(status === 408 ? 480 : status);
    this.end(cause);
  }

  /** The call failed before a party answered: the caller gets a final answer to its INVITE, or BYE if it was answered. */
  private refuseCaller(status: number, reason?: string): void {
    if (this.inbound && !this.inbound.transaction.finalSent) this.inbound.reply(status, reason === undefined ? undefined : { reason });
    else if (this.callerDialog && !this.answered) this.bye(this.callerDialog);
  }

  private cancelLeg(leg: OutboundLeg): void {
    if (!leg.live || !leg.tx) return;
    const wasTrying = leg.state === 'trying';
    leg.state = 'cancelled';
    // rfc3261#section-9.1: a CANCEL may only follow a provisional response; until one comes, it waits.
    if (wasTrying) leg.cancelWhenProvisional = true;
    else this.sendCancel(leg);
  }

  private sendCancel(leg: OutboundLeg): void {
    sendCancel(this.stack, leg);
  }

  private onCallerCancel(): void {
    if (this.state !== CallState.Routing && this.state !== CallState.Ringing) return;
    for (const leg of this.legs) this.cancelLeg(leg);
    if (this.inbound && !this.inbound.transaction.finalSent) this.inbound.reply(487);
    this.end('cancelled');
  }

  /** Ring timeout or shutdown before an answer: cancel every leg and give the caller `status`. */
  giveUp(status: number, cause: EndCause): void {
    for (const leg of this.legs) this.cancelLeg(leg);
    this.refuseCaller(status);
    this.end(cause);
  }

  /** A request inside one of the call's dialogs, from the side that owns `dialog`. */
  onInDialogRequest(req: IncomingRequest, from: Dialog): void {
    if (!from.acceptRequest(req.message)) {
      req.reply(500, { reason: 'Server Internal Error (CSeq out of order)', headers: [['Retry-After', '1']] });
      return;
    }
    // A party that left (a transfer let it go) may still send its BYE, or a late request: it moves nothing.
    if (this.ended.has(from)) {
      req.reply(req.message.method === 'BYE' ? 200 : 481);
      return;
    }
    if (this.consultation) {
      this.onConsultationRequest(this.consultation, req, from);
      return;
    }
    const to = from === this.callerDialog ? this.answered?.dialog : this.callerDialog;
    const method = req.message.method;
    if (method === 'REFER') {
      if (this.state !== CallState.Answered || this.transfer || !to) req.reply(491, { reason: 'Request Pending (the call is not answered, or a transfer is in progress)' });
      else this.observer.onRefer(this, req, from === this.callerDialog ? 'caller' : 'callee', from);
      return;
    }
    if (method === 'BYE') {
      req.reply(200);
      this.ended.add(from);
      if (to) this.bye(to);
      this.end(from === this.callerDialog ? 'caller-hangup' : 'callee-hangup');
      return;
    }
    if (!to && from === this.callerDialog) {
      this.whileWaiting(req);
      return;
    }
    if (!to || this.state !== CallState.Answered) {
      req.reply(481);
      return;
    }
    const side: CallSide = from === this.callerDialog ? 'caller' : 'callee';
    if (method === 'INFO') {
      const digit = infoDigit(req.message.headers.get('Content-Type'), req.message.body);
      if (digit) this.observer.onDtmf(this, side, digit, 'info');
    }
    // re-INVITE (hold from a phone), UPDATE, INFO (DTMF): relayed across, the answer relayed back.
    this.relayAcross(req, side, from, to).catch((err: unknown) => {
      if (!req.transaction.finalSent) req.reply(500, { reason: 'Server Internal Error (media relay failed)' });
      this.mediaFailed(err);
    });
  }

  /**
   * A request from the caller the PBX answered, while it waits: a new offer is answered by the relay for the PBX's
   * side again (a phone refreshing its session), DTMF is reported, the rest is acknowledged.
   */
  private whileWaiting(req: IncomingRequest): void {
    const method = req.message.method;
    const offer = sdpOf(req.message);
    if (method === 'INFO') {
      const digit = infoDigit(req.message.headers.get('Content-Type'), req.message.body);
      if (digit) this.observer.onDtmf(this, 'caller', digit, 'info');
    }
    if ((method !== 'INVITE' && method !== 'UPDATE') || !offer) {
      // An UPDATE without a body refreshes the session (rfc4028#section-10): its 2xx grants the timer again.
      req.reply(method === 'INVITE' ? 488 : 200, method === 'UPDATE' ? { headers: this.observer.answerHeaders(this, this.callerDialog as Dialog, req.message) } : undefined);
      return;
    }
    this.answerFromPbx(offer, req.flow)
      .then((answer) => {
        if (this.state === CallState.Ended) return req.reply(481);
        const dialog = this.callerDialog as Dialog;
        const headers: Array<[string, string]> = [...(method === 'INVITE' ? [['Contact', dialog.localContact] as [string, string]] : []), ...this.observer.answerHeaders(this, dialog, req.message)];
        const ok = req.reply(200, { body: Buffer.from(answer, 'utf8'), contentType: 'application/sdp', headers });
        if (method === 'INVITE') this.await2xxAck(ok, req.message, req.flow);
        return ok;
      })
      .catch((err: unknown) => {
        if (!req.transaction.finalSent) req.reply(500, { reason: 'Server Internal Error (media relay failed)' });
        this.mediaFailed(err);
      });
  }

  /** The media tag of a side of the answered call. */
  private tagOf(side: CallSide): string {
    return side === 'caller' ? this.callerTag : (this.answered as OutboundLeg).id;
  }

  private otherSide(side: CallSide): CallSide {
    return side === 'caller' ? 'callee' : 'caller';
  }

  /** Sends an in-dialog request of `side` on to the other dialog, its SDP offer through the media plane first. */
  private async relayAcross(req: IncomingRequest, side: CallSide, from: Dialog, to: Dialog): Promise<void> {
    const method = req.message.method;
    const sdpOffer = (method === 'INVITE' || method === 'UPDATE') && isSdp(req.message.headers.get('Content-Type'), req.message.body);
    const body = sdpOffer
      ? await this.mediaBody('offer', req.message, this.tagOf(side), this.tagOf(this.otherSide(side)), to.flow)
      : req.message.body.length > 0 ? req.message.body : undefined;
    if (this.state === CallState.Ended) {
      req.reply(481);
      return;
    }
    const relay = to.createRequest(method, { body, contentType: req.message.headers.get('Content-Type') });
    this.stack.sendRequest(relay, to.flow, {
      onResponse: (response) => {
        if (response.status < 200) return;
        const offer = method === 'INVITE' && !sdpOffer && response.status < 300 ? sdpOf(response) : undefined;
        if (offer) {
          // The other side offered in its 2xx: the ACK carries the answer, once `side` gives it.
          const pending = this.reinviteOffer;
          if (pending?.to === to && pending.cseq === relay.cseq.seq) {
            if (pending.answer) this.ackWithAnswer(to, pending.cseq, pending.answer);
            return;
          }
          this.reinviteOffer = { side, from, to, cseq: relay.cseq.seq, offer };
        } else if (method === 'INVITE' && response.status < 300) this.stack.sendStateless(to.createRequest('ACK', { cseq: relay.cseq.seq }), to.flow);
        this.relayBack(req, side, from, response, sdpOffer).catch((err: unknown) => this.mediaFailed(err));
      },
      onTimeout: () => {
        if (!req.transaction.finalSent) req.reply(408);
      },
    });
  }

  /** The other side's final answer to a relayed request, back to `side` (its SDP through the media plane). */
  private async relayBack(req: IncomingRequest, side: CallSide, from: Dialog, response: SipResponse, sdpOffer: boolean): Promise<void> {
    const success = response.status < 300;
    const isInvite = req.message.method === 'INVITE';
    const offered = !sdpOffer && this.reinviteOffer?.from === from && isInvite && success;
    const answered = offered
      ? await this.mediaBody('offer', response, this.tagOf(this.otherSide(side)), this.tagOf(side), from.flow)
      : sdpOffer && success ? await this.mediaBody('answer', response, this.tagOf(this.otherSide(side)), this.tagOf(side), from.flow) : undefined;
    if (side === 'caller' && answered && !offered) this.callerAnswer = answered.toString('utf8');
    const answer = req.reply(response.status, {
      reason: response.reason,
      body: answered ?? (response.body.length > 0 ? response.body : undefined),
      contentType: response.headers.get('Content-Type'),
      headers: [...(isInvite && success ? [['Contact', from.localContact] as [string, string]] : []), ...(success ? this.observer.answerHeaders(this, from, req.message) : [])],
    });
    if (isInvite && success) this.await2xxAck(answer, req.message, req.flow);
    if (sdpOffer && success) {
      this.noteSdp(side, req.message);
      this.noteSdp(this.otherSide(side), response);
      await this.setHolding(side, sdpHolds(req.message.body.toString('utf8')));
    }
  }

  /** `side` holds the other (or resumes): the other side hears music on hold while it lasts. */
  private async setHolding(side: CallSide, holds: boolean, strict = false): Promise<void> {
    if (this.holding.has(side) === holds || this.state !== CallState.Answered) return;
    if (holds) this.holding.add(side);
    else this.holding.delete(side);
    this.observer.onHold(this, side, holds);
    const holderTag = this.tagOf(side);
    const heldTag = this.tagOf(this.otherSide(side));
    try {
      // A holding phone may go on sending (sendonly): its audio is blocked, so the held party hears the music alone.
      if (holds) {
        await this.media.plane.block(this.mediaId, holderTag, true);
        if (this.media.holdMusic) await this.media.plane.play(this.mediaId, heldTag, this.media.holdMusic);
      } else {
        await this.media.plane.stopPlay(this.mediaId, heldTag);
        // A muted side stays silent after the hold.
        if (!this.muted.has(side)) await this.media.plane.block(this.mediaId, holderTag, false);
      }
    } catch (err) {
      if (strict) throw err;
      // Direct media has no music to play: the held phone hears what its peer sends (usually silence).
      if (!(err instanceof MediaUnavailableError)) this.media.onError(err, 'call:hold music');
    }
  }

  /** Which side of the call an extension is on, if it is a party to it. */
  sideOf(extensionId: string): CallSide | undefined {
    if (this.caller.extensionId === extensionId) return 'caller';
    if (this.callee?.extensionId === extensionId) return 'callee';
    return undefined;
  }

  /** The API's checks before it acts on the media of an answered call. */
  private mediaControl(what: string): void {
    if (this.state !== CallState.Answered) throw new CallStateError(`${what}: the call is not answered`);
    if (this.consultation) throw new CallStateError(`${what}: a transfer is in progress`);
    if (this.media.plane.unavailableReason !== undefined) throw new MediaUnavailableError(what, this.media.plane.unavailableReason);
  }

  /**
   * `side` puts the other on hold from the API (its phone sends no re-INVITE): the relay stops `side`'s audio and
   * plays music to the other side until `held` is false. Needs the relay.
   */
  async holdFrom(side: CallSide, held: boolean): Promise<void> {
    this.mediaControl('Holding a call');
    await this.setHolding(side, held, true);
  }

  /** Mutes `side`: the other side stops hearing it, and `side` still hears the other. Needs the relay. */
  async mute(side: CallSide, muted: boolean): Promise<void> {
    this.mediaControl('Muting a call');
    if (this.muted.has(side) === muted) return;
    if (muted) this.muted.add(side);
    else this.muted.delete(side);
    // A side on hold stays blocked until it resumes.
    if (muted || !this.holding.has(side)) await this.media.plane.block(this.mediaId, this.tagOf(side), muted);
  }

  private noteSdp(side: CallSide, message: { body: Buffer; headers: SipHeaders }): void {
    const sdp = sdpOf(message);
    if (sdp) this.sdpOf[side] = sdp;
  }


  /** The hold and mute of the pairing being broken up are undone (the caller goes on with someone else). */
  private releaseMediaControls(): void {
    const quiet = (err: unknown) => {
      if (!(err instanceof MediaUnavailableError)) this.media.onError(err, 'call:release media controls');
    };
    for (const side of ['caller', 'callee'] as const) {
      if (this.holding.has(side)) {
        this.observer.onHold(this, side, false);
        this.media.plane.stopPlay(this.mediaId, this.tagOf(this.otherSide(side))).catch(quiet);
      }
      if (this.holding.has(side) || this.muted.has(side)) this.media.plane.block(this.mediaId, this.tagOf(side), false).catch(quiet);
    }
    this.holding.clear();
    this.muted.clear();
  }

  /**
   * Blind transfer of the caller, inside the B2BUA: the callee's leg hears BYE, and every contact of `target` is
   * rung with the caller's media description. When one answers, the caller is re-INVITEd with the target's
   * description (through the media plane) and the two talk; the caller never learns of SIP REFER. If nobody
   * answers in `ringTimeoutSeconds`, or all refuse, the caller is hung up (`transfer-failed`). Answers how the
   * ringing ended; a target with no contact changes nothing and answers `unavailable`.
   */
  transferCaller(target: RingTarget, ringTimeoutSeconds: number): Promise<RingOutcome> {
    // Checked at once (a throw, not a rejection), so the API can refuse before anything changes.
    const { old, sdp } = this.transferable();
    if (target.contacts.length === 0) return Promise.resolve('unavailable');
    return this.runTransfer(old, old.dialog as Dialog, sdp, target, ringTimeoutSeconds);
  }

  /** What a blind transfer needs, or why it cannot be done now. */
  private transferable(): { old: OutboundLeg; sdp: StoredSdp } {
    const old = this.answered;
    if (this.state !== CallState.Answered || !old?.dialog || !this.callerDialog) throw new CallStateError('Transferring a call: the call is not answered');
    if (this.transfer || this.consultation) throw new CallStateError('Transferring a call: a transfer is already in progress');
    const sdp = this.sdpOf.caller;
    if (!sdp) throw new CallStateError('Transferring a call: the caller described no media');
    return { old, sdp };
  }

  /**
   * A REFER from the party who answered (rfc3515), its target found: accepted (202), the transferor is told at once
   * that it worked (a NOTIFY with `SIP/2.0 200 OK`, rfc3515#section-2.4.5, as a PBX that takes the transfer over
   * does), and the caller is transferred blind. The transferor's phone hangs up, or hears BYE.
   */
  acceptRefer(req: IncomingRequest, target: { ring: RingTarget; ringTimeoutSeconds: number } | { router: TransferTarget; take: (call: Call) => void }): void {
    let transferor: Dialog;
    try {
      transferor = this.transferable().old.dialog as Dialog;
    } catch (err) {
      req.reply(491, { reason: `Request Pending (${(err as Error).message})` });
      return;
    }
    answerRefer(this.stack, req, transferor, '200 OK');
    if ('take' in target) this.waitAgain(target.router, target.take);
    else void this.transferCaller(target.ring, target.ringTimeoutSeconds).catch(() => undefined);
  }

  /**
   * Blind transfer to a router (a queue's number): the party who answered hears BYE, and the caller waits again,
   * held by the PBX and hearing music, for the router to ring parties round after round (`take`). Needs the relay:
   * the caller, answered long ago, can only hear music through it.
   */
  waitAgain(target: TransferTarget, take: (call: Call) => void): void {
    const { old } = this.transferable();
    const music = this.media.holdMusic;
    const unavailable = this.media.plane.unavailableReason ?? (music ? undefined : 'no music on hold is configured');
    if (unavailable !== undefined || !music) throw new MediaUnavailableError('A transfer to a queue', unavailable ?? '');
    this.releaseMediaControls();
    this.answered = undefined;
    this.callee = undefined;
    this.bye(old.dialog as Dialog);
    this.routed = true;
    this.waitingSince = Date.now();
    this.moveTo(CallState.Routing);
    const caller = this.sdpOf.caller;
    if (caller && this.callerAnswer) this.sdpOf.caller = { body: Buffer.from(narrowOffer(caller.body.toString('utf8'), this.callerAnswer), 'utf8'), type: caller.type };
    this.observer.onTransferring(this, old.party, target, false);
    this.answering = this.waitWith(music).catch((err: unknown) => this.mediaFailed(err));
    take(this);
  }

  /** Which party of the call a dialog of its own is with, if it is the caller's or the answered party's. */
  partyOf(dialog: Dialog): { side: CallSide; party: CallParty } | undefined {
    if (dialog === this.callerDialog) return { side: 'caller', party: this.caller };
    if (dialog === this.answered?.dialog && this.callee) return { side: 'callee', party: this.callee };
    return undefined;
  }

  /** Why the call cannot take part in joining two calls now, if it cannot. */
  joinRefusal(): string | undefined {
    if (this.state !== CallState.Answered || !this.callerDialog || !this.answered?.dialog) return 'the call is not answered';
    if (this.transfer || this.consultation) return 'a transfer is already in progress';
    if (!this.sdpOf.caller) return 'the caller described no media';
    return undefined;
  }

  /**
   * Joining two calls of one phone (rfc5589#section-7, the phone's attended transfer), the call the phone placed: its
   * party who answered is handed over to the other call ({@link adoptCallee}), and the phone, this call's caller,
   * hears BYE. The call itself stays until {@link close}d with `transferred`, once the other call has its party.
   */
  handOverCallee(): OutboundLeg {
    const refusal = this.joinRefusal();
    const leg = this.answered;
    if (refusal || !leg) throw new CallStateError(`Joining calls: ${refusal ?? 'the call is not answered'}`);
    this.releaseMediaControls();
    this.answered = undefined;
    this.legs.splice(this.legs.indexOf(leg), 1);
    this.bye(this.callerDialog as Dialog);
    return leg;
  }

  /**
   * Joining two calls of one phone, the call the phone took: its caller goes on with `leg`, the party another call
   * handed over, and the phone (the party who answered here, `from`) hears BYE. The new party is offered the caller's
   * media in this call's relay session and re-INVITEd with it; the caller, if its last answer did not send and
   * receive (the phone had held it by re-INVITE), is re-INVITEd with the new party's media. Needs the relay.
   */
  async adoptCallee(leg: OutboundLeg, from: CallParty): Promise<void> {
    const refusal = this.joinRefusal();
    const old = this.answered;
    const dialog = leg.dialog;
    if (refusal || !old?.dialog || !dialog) throw new CallStateError(`Joining calls: ${refusal ?? 'the other call is not answered'}`);
    const callerDialog = this.callerDialog as Dialog;
    const callerSdp = this.sdpOf.caller as StoredSdp;
    this.releaseMediaControls();
    this.legs.push(leg);
    this.answered = leg;
    this.callee = leg.party;
    this.observer.onDialog(this, dialog);
    this.bye(old.dialog);
    const offer = { body: Buffer.from(sendingAndReceiving(callerSdp.body.toString('utf8')), 'utf8'), type: callerSdp.type };
    const body = await this.mediaBody('offer', sdpMessage(offer), this.callerTag, leg.id, leg.flow);
    if (this.state === CallState.Ended) return;
    const answer = await this.sendReinvite(dialog, body, offer.type);
    if (answer.status >= 300) throw new Error(`the transfer's target refused the re-INVITE with ${answer.status}`);
    if ((this.state as CallState) === CallState.Ended) return;
    // The relay's answer for the caller is not sent: the caller's side of the relay does not change.
    await this.mediaBody('answer', answer, leg.id, this.callerTag, callerDialog.flow);
    this.noteSdp('callee', answer);
    if (!sendsAndReceives(callerSdp.body.toString('utf8'))) {
      // The caller last answered a hold: it sends again only when asked to.
      const again = await this.mediaBody('offer', answer, leg.id, this.callerTag, callerDialog.flow);
      if ((this.state as CallState) === CallState.Ended) return;
      const callerAnswer = await this.sendReinvite(callerDialog, again, answer.headers.get('Content-Type'));
      if (callerAnswer.status >= 300) throw new Error(`the caller refused the transfer's re-INVITE with ${callerAnswer.status}`);
      await this.mediaBody('answer', callerAnswer, this.callerTag, leg.id, leg.flow);
      this.noteSdp('caller', callerAnswer);
      this.callerAnswer = undefined;
    }
    if ((this.state as CallState) === CallState.Ended) return;
    this.observer.onTransferring(this, from, leg.party, true);
    this.observer.onTransferred(this, from, leg);
  }

  private async runTransfer(old: OutboundLeg, oldDialog: Dialog, sdp: StoredSdp, target: RingTarget, ringTimeoutSeconds: number): Promise<RingOutcome> {
    this.releaseMediaControls();
    this.answered = undefined;
    this.callee = undefined;
    this.bye(oldDialog);
    let settle!: (outcome: RingOutcome) => void;
    const outcome = new Promise<RingOutcome>((resolve) => (settle = resolve));
    const transfer: Transfer = { from: old.party, legs: [], chosen: undefined, settle };
    this.transfer = transfer;
    this.observer.onTransferring(this, old.party, target.party, false);
    const offer = sdpMessage(sdp);
    const branches = target.contacts.map(() => randomUUID());
    let bodies: Array<Buffer | undefined>;
    try {
      // Each new party gets its own side in the relay (named up front): without the to-tag the relay would reuse the
      // side of the party who left, its ports, ICE and DTLS, which only a plain RTP phone gets away with.
      bodies = await Promise.all(target.contacts.map(({ flow }, i) => this.mediaBody('offer', offer, this.callerTag, branches[i], flow, branches[i])));
      // The caller hears ringback while the target rings (through the relay; with direct media, silence).
      if (this.media.plane.unavailableReason === undefined && this.media.ringback) await this.waitWith(this.media.ringback);
    } catch (err) {
      this.mediaFailed(err);
      return outcome;
    }
    if ((this.state as CallState) === CallState.Ended) return outcome;
    const maxForwards = 69;
    for (const [i, { binding, flow }] of target.contacts.entries()) {
      transfer.legs.push(this.placeLeg(binding, flow, target.party, branches[i] as string, { maxForwards, display: undefined, body: bodies[i], contentType: sdp.type }, (leg, response) => this.onTransferResponse(transfer, leg, response), (leg, status) => this.onTransferLegFailed(leg, status)));
    }
    this.after(ringTimeoutSeconds * 1000, () => {
      if (this.transfer !== transfer || transfer.chosen) return;
      for (const leg of transfer.legs) this.cancelLeg(leg);
      this.transferFailed(transfer, 'no-answer');
    });
    return outcome;
  }

  /**
   * What a transfer's or a consultation's leg makes of a response: a provisional one marks it ringing, a failure goes
   * to `failed`, a 2xx makes the leg's dialog (or, retransmitted, is ACKed again). True for a first 2xx to act on.
   */
  private firstAnswer(leg: OutboundLeg, response: SipResponse, failed: (status: number) => void): boolean {
    const status = response.status;
    if (status < 200) {
      if (!this.consumedProvisional(leg, status) && leg.state === 'trying') {
        leg.state = 'ringing';
        this.observer.onRinging(this, leg);
      }
      return false;
    }
    if (status >= 300) {
      failed(status);
      return false;
    }
    if (!leg.dialog) {
      leg.dialog = Dialog.asUac(leg.invite, response, leg.flow, leg.invite.headers.get('Contact') as string);
      this.ackLeg(leg);
      return true;
    }
    this.ackLeg(leg);
    return false;
  }

  private onTransferResponse(transfer: Transfer, leg: OutboundLeg, response: SipResponse): void {
    if (!this.firstAnswer(leg, response, (status) => this.onTransferLegFailed(leg, status)) || !leg.dialog) return;
    if (this.state === CallState.Ended || this.transfer !== transfer || transfer.chosen) {
      leg.state = 'cancelled';
      this.bye(leg.dialog);
      return;
    }
    leg.state = 'answered';
    transfer.chosen = leg;
    for (const other of transfer.legs) if (other !== leg) this.cancelLeg(other);
    this.observer.onDialog(this, leg.dialog);
    this.bridgeTransfer(transfer, leg, response).catch((err: unknown) => this.mediaFailed(err));
  }

  /**
   * The target answered: the ringback stops, the caller is re-INVITEd with the target's media, and the two are the
   * call's sides.
   */
  private async bridgeTransfer(transfer: Transfer, leg: OutboundLeg, response: SipResponse): Promise<void> {
    const callerDialog = this.callerDialog as Dialog;
    await this.stopWaiting();
    const body = await this.mediaBody('offer', response, leg.id, this.callerTag, callerDialog.flow);
    if (this.state === CallState.Ended) return;
    const answer = await this.sendReinvite(callerDialog, body, response.headers.get('Content-Type'));
    if (answer.status >= 300) throw new Error(`the caller refused the transfer's re-INVITE with ${answer.status}`);
    // The target already has its answer (the media plane's ports for it do not change): this one is for the relay.
    await this.mediaBody('answer', answer, this.callerTag, leg.id, leg.flow);
    if ((this.state as CallState) === CallState.Ended) return;
    this.answered = leg;
    this.callee = leg.party;
    this.noteSdp('callee', response);
    this.noteSdp('caller', answer);
    // The caller answered this time: its description is its choice already.
    this.callerAnswer = undefined;
    this.transfer = undefined;
    this.observer.onTransferred(this, transfer.from, leg);
    transfer.settle('answered');
  }

  private sendReinvite(dialog: Dialog, body: Buffer | undefined, contentType: string | undefined): Promise<SipResponse> {
    return new Promise((resolve, reject) => {
      const invite = dialog.createRequest('INVITE', { body, contentType });
      this.stack.sendRequest(invite, dialog.flow, {
        onResponse: (response) => {
          if (response.status < 200) return;
          if (response.status < 300) this.stack.sendStateless(dialog.createRequest('ACK', { cseq: invite.cseq.seq }), dialog.flow);
          resolve(response);
        },
        onTimeout: () => reject(new Error('the re-INVITE to the caller timed out')),
      });
    });
  }

  private onTransferLegFailed(leg: OutboundLeg, status: number): void {
    if (!leg.live) return;
    leg.state = 'failed';
    leg.finalStatus = status;
    const transfer = this.transfer;
    if (!transfer || !transfer.legs.includes(leg) || transfer.chosen) return;
    if (endsFork(status)) for (const other of sameParty(transfer.legs, leg)) this.cancelLeg(other);
    if (transfer.legs.some((l) => l.live)) return;
    this.transferFailed(transfer, transfer.legs.some((l) => l.finalStatus === 486 || l.finalStatus === 600) ? 'busy' : 'unavailable');
  }

  /** Nobody took the transferred caller: it is hung up. */
  private transferFailed(transfer: Transfer, outcome: RingOutcome): void {
    this.transfer = undefined;
    transfer.settle(outcome);
    this.hangUpAll('transfer-failed');
  }

  /** The consultation in progress: whom it rings or talks with. */
  get consulting(): { target: CallParty; answered: boolean } | undefined {
    const c = this.consultation;
    return c && { target: c.target, answered: c.chosen !== undefined };
  }

  /**
   * Attended transfer, first step: the caller is put on hold (it hears music) and every contact of `target` is rung
   * for the agent (the side who answered), with the agent's media description. When the target answers, the agent
   * is re-INVITEd to talk with it. Then {@link completeConsultation} bridges the caller with the target and lets the
   * agent go, or {@link cancelConsultation} takes the caller back to the agent; a target that does not answer in
   * `ringTimeoutSeconds`, refuses or hangs up cancels it too. Needs the relay: the caller must hear music while the
   * agent and the target talk. Answers how the ringing ended.
   */
  consult(target: RingTarget, ringTimeoutSeconds: number): Promise<RingOutcome> {
    const agent = this.answered;
    this.mediaControl('An attended transfer');
    if (!agent?.dialog || !this.callerDialog) throw new CallStateError('An attended transfer: the call is not answered');
    if (this.transfer || this.consultation) throw new CallStateError('An attended transfer: a transfer is already in progress');
    const sdp = this.sdpOf.callee;
    if (!sdp || !this.sdpOf.caller) throw new CallStateError('An attended transfer: a side described no media');
    if (target.contacts.length === 0) return Promise.resolve('unavailable');
    let settle!: (outcome: RingOutcome) => void;
    const outcome = new Promise<RingOutcome>((resolve) => (settle = resolve));
    const c: Consultation = { agent, target: target.party, legs: [], chosen: undefined, paired: false, agentGone: false, closing: false, settle };
    this.consultation = c;
    this.runConsultation(c, sdp, target, ringTimeoutSeconds).catch((err: unknown) => this.mediaFailed(err));
    return outcome;
  }

  private async runConsultation(c: Consultation, sdp: StoredSdp, target: RingTarget, ringTimeoutSeconds: number): Promise<void> {
    await this.setHolding('callee', true, true);
    if (this.consultation !== c) return;
    this.observer.onConsulting(this, c.agent.party, c.target);
    const offer = sdpMessage(sdp);
    const branches = target.contacts.map(() => randomUUID());
    // The target gets its own side in the relay, named up front (see runTransfer).
    const bodies = await Promise.all(target.contacts.map(({ flow }, i) => this.mediaBody('offer', offer, c.agent.id, branches[i], flow, branches[i])));
    if (this.consultation !== c || c.closing) return;
    for (const [i, { binding, flow }] of target.contacts.entries()) {
      const request = { maxForwards: 70, display: undefined, body: bodies[i], contentType: sdp.type, from: c.agent.party };
      c.legs.push(this.placeLeg(binding, flow, target.party, branches[i] as string, request, (leg, response) => this.onConsultResponse(c, leg, response), (leg, status) => this.onConsultLegFailed(c, leg, status)));
    }
    this.after(ringTimeoutSeconds * 1000, () => {
      if (this.consultation !== c || c.chosen || c.closing) return;
      this.consultationFailed(c, 'no-answer');
    });
  }

  private onConsultResponse(c: Consultation, leg: OutboundLeg, response: SipResponse): void {
    if (!this.firstAnswer(leg, response, (status) => this.onConsultLegFailed(c, leg, status)) || !leg.dialog) return;
    if (this.state === CallState.Ended || this.consultation !== c || c.chosen || c.closing) {
      leg.state = 'cancelled';
      this.bye(leg.dialog);
      return;
    }
    leg.state = 'answered';
    c.chosen = leg;
    c.targetSdp = sdpOf(response);
    for (const other of c.legs) if (other !== leg) this.cancelLeg(other);
    this.observer.onDialog(this, leg.dialog);
    this.observer.onConsulted(this, c.agent.party, leg);
    c.settle('answered');
    // The agent left while the target rang: the caller is put through at once.
    const next = c.agentGone ? this.bridgeCallerWithTarget(c) : this.pairAgentWithTarget(c, leg, response);
    next.catch((err: unknown) => this.mediaFailed(err));
  }

  private onConsultLegFailed(c: Consultation, leg: OutboundLeg, status: number): void {
    if (!leg.live) return;
    leg.state = 'failed';
    leg.finalStatus = status;
    if (this.consultation !== c || c.chosen || c.closing) return;
    if (endsFork(status)) for (const other of sameParty(c.legs, leg)) this.cancelLeg(other);
    if (c.legs.some((l) => l.live)) return;
    this.consultationFailed(c, c.legs.some((l) => l.finalStatus === 486 || l.finalStatus === 600) ? 'busy' : 'unavailable');
  }

  /**
   * The target answered: its answer completes the relay's offer made from the agent's side, so the agent and the
   * target talk (the caller still holds). The agent's phone is not asked anything: its side of the relay is as it was.
   */
  private async pairAgentWithTarget(c: Consultation, leg: OutboundLeg, response: SipResponse): Promise<void> {
    await this.mediaBody('answer', response, leg.id, c.agent.id, (c.agent.dialog as Dialog).flow);
    if (this.consultation !== c || c.closing || c.agentGone) return;
    // The relay still forwards the caller's audio to the agent's side: the caller is silenced while the two talk,
    // and the hold blocked the agent's audio, which the target hears now.
    await this.media.plane.block(this.mediaId, this.callerTag, true);
    await this.media.plane.block(this.mediaId, c.agent.id, false);
    c.paired = true;
  }

  /**
   * Completes the attended transfer: the agent hears BYE and the caller is bridged with the target. If the target
   * still rings, the agent is let go now and the caller is put through when the target answers.
   */
  completeConsultation(): void {
    const c = this.consultation;
    if (!c || c.closing || c.agentGone) throw new CallStateError('Completing a transfer: no consultation is in progress');
    this.agentLeaves(c);
  }

  /** The agent is done with the caller (the transfer completes): its leg hears BYE unless it hung up itself. */
  private agentLeaves(c: Consultation, hungUp = false): void {
    c.agentGone = true;
    if (!hungUp && c.agent.dialog) this.bye(c.agent.dialog);
    this.observer.onTransferring(this, c.agent.party, c.target, true);
    if (c.chosen) this.bridgeCallerWithTarget(c).catch((err: unknown) => this.mediaFailed(err));
  }

  /** The caller and the target are paired in the relay: they talk, the music stops. */
  private async bridgeCallerWithTarget(c: Consultation): Promise<void> {
    if (c.closing) return;
    c.closing = true;
    const leg = c.chosen as OutboundLeg;
    const targetSdp = c.targetSdp;
    this.releaseMediaControls();
    await this.media.plane.block(this.mediaId, this.callerTag, false);
    await this.pairInRelay({ tag: this.callerTag, sdp: this.sdpOf.caller, flow: (this.callerDialog as Dialog).flow }, { tag: leg.id, sdp: targetSdp, flow: leg.flow });
    if (this.state === CallState.Ended) return;
    this.consultation = undefined;
    this.answered = leg;
    this.callee = leg.party;
    if (targetSdp) this.sdpOf.callee = targetSdp;
    this.observer.onTransferred(this, c.agent.party, leg);
  }

  /**
   * Pairs two parties of the call in the relay, from the media descriptions they last gave, without asking either:
   * each one's side of the relay (its ports, ICE and DTLS) stays as it is, so neither phone needs a re-INVITE.
   */
  private async pairInRelay(offerer: { tag: string; sdp: StoredSdp | undefined; flow: Flow }, answerer: { tag: string; sdp: StoredSdp | undefined; flow: Flow }): Promise<void> {
    if (!offerer.sdp || !answerer.sdp) throw new Error('a party of the call described no media');
    await this.mediaBody('offer', sdpMessage(offerer.sdp), offerer.tag, answerer.tag, answerer.flow);
    await this.mediaBody('answer', sdpMessage(answerer.sdp), answerer.tag, offerer.tag, offerer.flow);
  }

  /** Cancels the consultation: the target's legs are let go and the caller is back with the agent. */
  cancelConsultation(): void {
    const c = this.consultation;
    if (!c || c.closing || c.agentGone) throw new CallStateError('Cancelling a transfer: no consultation is in progress');
    this.consultationFailed(c, 'cancelled');
  }

  /**
   * The consultation ends without a transfer: the target is let go (CANCEL or BYE, unless it hung up itself) and the
   * caller goes back to the agent, who is re-INVITEd with the caller's media; the music stops. If the agent already
   * left, the caller is alone: it is hung up.
   */
  private consultationFailed(c: Consultation, outcome: RingOutcome | 'cancelled' | 'target-hangup'): void {
    if (c.closing) return;
    c.closing = true;
    for (const leg of c.legs) this.cancelLeg(leg);
    if (c.chosen?.dialog && outcome !== 'target-hangup') this.bye(c.chosen.dialog);
    c.settle(outcome === 'cancelled' || outcome === 'target-hangup' ? 'ended' : (outcome as RingOutcome));
    this.observer.onConsultationEnded(this, c.agent.party, c.target, outcome === 'cancelled' ? 'cancelled' : 'failed');
    if (c.agentGone) {
      this.consultation = undefined;
      this.hangUpAll('transfer-failed');
      return;
    }
    this.backToAgent(c).catch((err: unknown) => this.mediaFailed(err));
  }

  private async backToAgent(c: Consultation): Promise<void> {
    await this.pairInRelay({ tag: this.callerTag, sdp: this.sdpOf.caller, flow: (this.callerDialog as Dialog).flow }, { tag: c.agent.id, sdp: this.sdpOf.callee, flow: (c.agent.dialog as Dialog).flow });
    if (this.state === CallState.Ended) return;
    this.consultation = undefined;
    await this.media.plane.block(this.mediaId, this.callerTag, false);
    await this.setHolding('callee', false);
  }

  /** A request in one of the call's dialogs while a consultation runs: BYE moves it on, the rest waits. */
  private onConsultationRequest(c: Consultation, req: IncomingRequest, from: Dialog): void {
    const method = req.message.method;
    if (method !== 'BYE') {
      // The pairings change under a consultation: an offer now would race them (rfc3261#section-14.1).
      if (method === 'INVITE' || method === 'UPDATE' || method === 'REFER') req.reply(491);
      else req.reply(200);
      return;
    }
    req.reply(200);
    this.ended.add(from);
    if (from === c.chosen?.dialog) {
      this.consultationFailed(c, 'target-hangup');
    } else if (from === c.agent.dialog) {
      // The agent hangs up: the transfer completes (at once, or when the target answers).
      if (!c.agentGone) this.agentLeaves(c, true);
    } else {
      // The caller hangs up: nobody is left to transfer.
      if (!c.agentGone && c.agent.dialog) this.bye(c.agent.dialog);
      this.end('caller-hangup');
    }
  }

  /** A DTMF digit the relay saw in the call's media, from the party tagged `fromTag`. */
  onMediaDtmf(fromTag: string, digit: string): void {
    if (this.state !== CallState.Answered) return;
    this.observer.onDtmf(this, fromTag === this.callerTag ? 'caller' : 'callee', digit, 'rfc4733');
  }

  /** How long the caller talked with parties by `end`: from the first answer, less any wait in a queue since. */
  talkMs(end: number): number {
    if (this.answeredAt === undefined) return 0;
    return end - this.answeredAt - this.waitedMs - (this.waitingSince === undefined ? 0 : end - this.waitingSince);
  }

  /** An ACK in one of the call's dialogs (`dialog`): the answer to the 2xx we owed, with a late offer's answer. */
  onAck(ack?: SipRequest, dialog?: Dialog): void {
    this.pending2xx = undefined;
    const leg = this.lateOffer;
    if (ack && leg && dialog !== undefined && dialog === this.callerDialog) this.lateAnswer(ack, leg);
    const reinvite = this.reinviteOffer;
    if (ack && reinvite && !reinvite.answer && dialog === reinvite.from) this.reinviteAnswer(ack, reinvite);
  }

  /**
   * The ACK of the side whose re-INVITE had no SDP: its answer to the other side's offer goes on in our ACK to the
   * other side, through the relay (rfc3264#section-4). Without one, the other side is acknowledged as it is.
   */
  private reinviteAnswer(ack: SipRequest, r: NonNullable<Call['reinviteOffer']>): void {
    const answer = sdpOf(ack);
    if (!answer || this.state !== CallState.Answered) {
      this.stack.sendStateless(r.to.createRequest('ACK', { cseq: r.cseq }), r.to.flow);
      return;
    }
    this.toCaller(async () => {
      const other = this.otherSide(r.side);
      const body = await this.mediaBody('answer', ack, this.tagOf(r.side), this.tagOf(other), r.to.flow);
      r.answer = { body: body ?? answer.body, type: answer.type };
      this.ackWithAnswer(r.to, r.cseq, r.answer);
      this.noteSdp(other, sdpMessage(r.offer));
      this.noteSdp(r.side, ack);
    });
  }

  private ackWithAnswer(to: Dialog, cseq: number, answer: StoredSdp): void {
    this.stack.sendStateless(to.createRequest('ACK', { cseq, body: answer.body, contentType: answer.type }), to.flow);
  }

  /** The peer of `flow` is gone (its connection closed): the call ends, the other side hears BYE. */
  onFlowClosed(flow: Flow): void {
    if (this.state === CallState.Ended) return;
    if (this.state !== CallState.Answered) {
      if (this.inbound?.flow.id === flow.id || (this.callerDialog !== undefined && this.callerDialog.flow.id === flow.id)) {
        for (const leg of this.legs) this.cancelLeg(leg);
        this.end('peer-lost');
      } else {
        for (const leg of this.legs) if (leg.flow.id === flow.id && leg.live) this.onLegFailed(leg, 480);
      }
      return;
    }
    const c = this.consultation;
    if (c && c.chosen?.dialog?.flow.id === flow.id) {
      this.ended.add(c.chosen.dialog);
      this.consultationFailed(c, 'target-hangup');
      return;
    }
    if (c && c.agent.dialog?.flow.id === flow.id && this.callerDialog?.flow.id !== flow.id) {
      this.ended.add(c.agent.dialog);
      if (!c.agentGone) this.agentLeaves(c, true);
      return;
    }
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

  /** Ends one dialog, once: a party that heard BYE is not told again. */
  private bye(dialog: Dialog): void {
    if (this.ended.has(dialog)) return;
    this.ended.add(dialog);
    this.stack.sendRequest(dialog.createRequest('BYE'), dialog.flow, NO_USER);
  }

  private end(cause: EndCause): void {
    if (this.state === CallState.Ended) return;
    this.endedAt = Date.now();
    this.endCause = cause;
    // The caller always gets a final answer, whatever ended the call before it had one.
    if (this.inbound && !this.inbound.transaction.finalSent) this.inbound.reply(cause === 'shutdown' ? 503 : 480);
    this.moveTo(CallState.Ended);
    // A transfer's target still ringing hears CANCEL; one that answered but was not bridged yet, BYE.
    for (const leg of this.legs) this.cancelLeg(leg);
    const c = this.consultation;
    if (c) {
      this.consultation = undefined;
      if (c.chosen?.dialog) this.bye(c.chosen.dialog);
      c.settle('ended');
    }
    const transfer = this.transfer;
    if (transfer) {
      if (transfer.chosen?.dialog && transfer.chosen !== this.answered) this.bye(transfer.chosen.dialog);
      this.transfer = undefined;
      transfer.settle('ended');
    }
    this.pending2xx = undefined;
    this.attempt?.settle('ended');
    for (const leg of this.legs) this.releaseLeg(leg);
    if (this.mediaUsed) this.media.plane.delete(this.mediaId).catch((err: unknown) => this.media.onError(err, 'call:media delete'));
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
