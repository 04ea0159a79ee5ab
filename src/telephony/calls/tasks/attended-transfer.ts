/**
 * Attended transfer through the API, in rfc5589's words: the transferor (the party who answered) consults the
 * target while the transferee (the caller) holds and hears music. Every contact of the target is rung for the
 * transferor with the transferor's media description; when the target answers, the two talk, paired in the relay.
 * Then `complete()` bridges the transferee with the target and lets the transferor go, or `cancel()` takes the
 * transferee back to the transferor. A target that does not answer in time, refuses or hangs up cancels it too; a
 * transferor who hangs up completes it. Needs the relay: the transferee hears music meanwhile.
 */
import { randomUUID } from 'node:crypto';
import type { Dialog, Flow, IncomingRequest, SipResponse } from '../../../sip/index.ts';
import { sdpOf, type StoredSdp } from '../../../media/index.ts';
import type { CallContext, CallTask } from '../call-context.ts';
import { type CallParty, CallState, CallStateError, type RingOutcome, type RingTarget } from '../call-types.ts';
import { type Fork, type ForkHandler, legsFor } from '../fork.ts';
import type { Leg } from '../leg.ts';
import { sdpMessage } from '../media-bridge.ts';
import { outcomeOf, targetFailure } from './blind-transfer.ts';

export class Consultation implements CallTask, ForkHandler {
  readonly name = 'consultation';
  private readonly fork: Fork;
  private readonly target: CallParty;
  /** The target's leg that answered, and its media description. */
  private chosen: Leg | undefined;
  private targetSdp: StoredSdp | undefined;
  /** The transferor left (completed, or hung up): whoever of the target answers gets the transferee. */
  private transferorGone = false;
  /** Completing or cancelling: nothing else may change it. */
  private closing = false;

  private constructor(
    private readonly call: CallContext,
    /** The transferor's answered leg. */
    private readonly transferor: Leg,
    target: RingTarget,
    private readonly settle: (outcome: RingOutcome) => void,
  ) {
    this.target = target.party;
    this.fork = call.fork(this);
  }

  /** Starts a consultation (the API checked the call's media controls first). Answers how the target's ringing ended. */
  static start(call: CallContext, target: RingTarget, ringTimeoutSeconds: number): Promise<RingOutcome> {
    const transferor = call.answered;
    if (!transferor?.dialog || !call.callerDialog) throw new CallStateError('An attended transfer: the call is not answered');
    if (call.task) throw new CallStateError('An attended transfer: a transfer is already in progress');
    const sdp = call.bridge.sdp.callee;
    if (!sdp || !call.bridge.sdp.caller) throw new CallStateError('An attended transfer: a side described no media');
    if (target.contacts.length === 0) return Promise.resolve('unavailable');
    const { outcome, settle } = outcomeOf();
    const c = new Consultation(call, transferor, target, settle);
    call.task = c;
    c.run(sdp, target, ringTimeoutSeconds).catch((err: unknown) => call.mediaFailed(err));
    return outcome;
  }

  /** The consultation in progress on `call`, or why there is none to act on (`what`: the action, for the error). */
  static of(call: CallContext, what: string): Consultation {
    const c = call.task;
    if (!(c instanceof Consultation) || c.closing || c.transferorGone) throw new CallStateError(`${what}: no consultation is in progress`);
    return c;
  }

  /** Whom the consultation rings or talks with. */
  summary(): { target: CallParty; answered: boolean } {
    return { target: this.target, answered: this.chosen !== undefined };
  }

  private get current(): boolean {
    return this.call.task === this && !this.closing;
  }

  private async run(sdp: StoredSdp, target: RingTarget, ringTimeoutSeconds: number): Promise<void> {
    const { call } = this;
    await call.bridge.setHolding('callee', true, true);
    if (call.task !== this) return;
    call.notices.consulting(this.transferor.party, this.target);
    const offer = sdpMessage(sdp);
    const branches = target.contacts.map(() => randomUUID());
    // The target gets its own side in the relay, named up front (see BlindTransfer).
    const bodies = await Promise.all(target.contacts.map(({ flow }, i) => call.bridge.body('offer', offer, this.transferor.id, branches[i], flow, branches[i], target.addressing?.codecs)));
    if (!this.current) return;
    const legs = legsFor(target, branches, bodies);
    this.fork.ring(legs, { maxForwards: 70, display: undefined, contentType: sdp.type, from: this.transferor.party }, ringTimeoutSeconds);
  }

  onProvisional(leg: Leg, _response: SipResponse, first: boolean): void {
    if (first) this.call.notices.ringing(leg);
  }

  onAnswer(leg: Leg, response: SipResponse): boolean {
    const { call } = this;
    if (call.state === CallState.Ended || !this.current || this.chosen) return false;
    this.chosen = leg;
    this.targetSdp = sdpOf(response);
    call.notices.dialog(leg.dialog as Dialog);
    call.notices.consulted(this.transferor.party, leg);
    this.settle('answered');
    // The transferor left while the target rang: the transferee is put through at once.
    const next = this.transferorGone ? this.bridgeTransfereeWithTarget() : this.pairTransferorWithTarget(leg, response);
    next.catch((err: unknown) => call.mediaFailed(err));
    return true;
  }

  onFailed(_status: number, legs: readonly Leg[]): void {
    if (this.current) this.failed(targetFailure(legs));
  }

  onTimeout(): void {
    if (this.current) this.failed('no-answer');
  }

  /**
   * The target answered: its answer completes the relay's offer made from the transferor's side, so the two talk (the
   * transferee still holds). The transferor's phone is not asked anything: its side of the relay is as it was.
   */
  private async pairTransferorWithTarget(leg: Leg, response: SipResponse): Promise<void> {
    const { bridge } = this.call;
    await bridge.body('answer', response, leg.id, this.transferor.id, (this.transferor.dialog as Dialog).flow);
    if (!this.current || this.transferorGone) return;
    // The relay still forwards the transferee's audio to the transferor's side: it is silenced while the two talk,
    // and the hold blocked the transferor's audio, which the target hears now.
    await bridge.block(bridge.callerTag, true);
    await bridge.block(this.transferor.id, false);
  }

  /** Completes the transfer: the transferor hears BYE, and the transferee is bridged with the target once it answered. */
  complete(): void {
    this.transferorLeaves();
  }

  /** The transferor is done with the transferee: its leg hears BYE unless it hung up itself. */
  private transferorLeaves(hungUp = false): void {
    this.transferorGone = true;
    if (!hungUp && this.transferor.dialog) this.call.bye(this.transferor.dialog);
    this.call.notices.transferring(this.transferor.party, this.target, true);
    if (this.chosen) this.bridgeTransfereeWithTarget().catch((err: unknown) => this.call.mediaFailed(err));
  }

  /** The transferee and the target are paired in the relay: they talk, the music stops. */
  private async bridgeTransfereeWithTarget(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const { call } = this;
    const { bridge } = call;
    const leg = this.chosen as Leg;
    bridge.releaseControls();
    await bridge.block(bridge.callerTag, false);
    await bridge.pair(this.transfereeSide(), { tag: leg.id, sdp: this.targetSdp, flow: leg.flow });
    if (call.state === CallState.Ended) return;
    call.task = undefined;
    call.takeCallee(leg);
    if (this.targetSdp) bridge.sdp.callee = this.targetSdp;
    call.notices.transferred(this.transferor.party, leg);
  }

  private transfereeSide(): { tag: string; sdp: StoredSdp | undefined; flow: Flow } {
    const { bridge } = this.call;
    return { tag: bridge.callerTag, sdp: bridge.sdp.caller, flow: (this.call.callerDialog as Dialog).flow };
  }

  /** Cancels the consultation: the target is let go and the transferee is back with the transferor. */
  cancel(): void {
    this.failed('cancelled');
  }

  /**
   * The consultation ends without a transfer: the target is let go (CANCEL or BYE, unless it hung up itself) and the
   * transferee goes back to the transferor; the music stops. If the transferor already left, the transferee is
   * alone: it is hung up.
   */
  private failed(outcome: RingOutcome | 'cancelled' | 'target-hangup'): void {
    if (this.closing) return;
    this.closing = true;
    const { call } = this;
    this.fork.stop();
    if (this.chosen?.dialog && outcome !== 'target-hangup') call.bye(this.chosen.dialog);
    this.settle(outcome === 'cancelled' || outcome === 'target-hangup' ? 'ended' : outcome);
    call.notices.consultationEnded(this.transferor.party, this.target, outcome === 'cancelled' ? 'cancelled' : 'failed');
    if (this.transferorGone) {
      call.task = undefined;
      call.hangUpAll('transfer-failed');
      return;
    }
    this.backToTransferor().catch((err: unknown) => call.mediaFailed(err));
  }

  private async backToTransferor(): Promise<void> {
    const { call } = this;
    const { bridge } = call;
    await bridge.pair(this.transfereeSide(), { tag: this.transferor.id, sdp: bridge.sdp.callee, flow: (this.transferor.dialog as Dialog).flow });
    if (call.state === CallState.Ended) return;
    call.task = undefined;
    await bridge.block(bridge.callerTag, false);
    await bridge.setHolding('callee', false);
  }

  /** A request in one of the call's dialogs while the consultation runs: BYE moves it on, the rest waits. */
  onRequest(req: IncomingRequest, from: Dialog): boolean {
    const { call } = this;
    const method = req.message.method;
    if (method !== 'BYE') {
      // An UPDATE without a body only refreshes its session (rfc4028#section-10): granted again, as on any call, or
      // a party refreshing through a long consultation would see its session expire.
      if (method === 'UPDATE' && !sdpOf(req.message)) req.reply(200, { headers: call.notices.answerHeaders(from, req.message) });
      // The pairings change under a consultation: an offer now would race them (rfc3261#section-14.1).
      else if (method === 'INVITE' || method === 'UPDATE' || method === 'REFER') req.reply(491);
      else req.reply(200);
      return true;
    }
    req.reply(200);
    call.markEnded(from);
    if (from === this.chosen?.dialog) {
      this.failed('target-hangup');
    } else if (from === this.transferor.dialog) {
      // The transferor hangs up: the transfer completes (at once, or when the target answers).
      if (!this.transferorGone) this.transferorLeaves(true);
    } else {
      // The transferee hangs up: nobody is left to transfer.
      if (!this.transferorGone && this.transferor.dialog) call.bye(this.transferor.dialog);
      call.end('caller-hangup');
    }
    return true;
  }

  /** A party's connection closed: the target's ends the consultation, the transferor's completes it. */
  onFlowClosed(flow: Flow): boolean {
    const { call } = this;
    const target = this.chosen?.dialog;
    if (target && target.flow.id === flow.id) {
      call.markEnded(target);
      this.failed('target-hangup');
      return true;
    }
    const transferor = this.transferor.dialog;
    if (transferor && transferor.flow.id === flow.id && call.callerDialog?.flow.id !== flow.id) {
      call.markEnded(transferor);
      if (!this.transferorGone) this.transferorLeaves(true);
      return true;
    }
    return false;
  }

  kill(): void {
    if (this.chosen?.dialog) this.call.bye(this.chosen.dialog);
    this.settle('ended');
  }
}
