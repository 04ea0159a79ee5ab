/**
 * Blind transfer of the caller, inside the B2BUA (rfc5589's transferee is the caller, the transferor the party who
 * answered): the transferor's leg hears BYE, and every contact of the target is rung with the caller's media
 * description while the caller hears ringback. When one answers, the caller is re-INVITEd with the target's
 * description (through the media plane) and the two talk; the caller never learns of SIP REFER. If nobody answers
 * in time, or all refuse, the caller is hung up (`transfer-failed`).
 */
import { randomUUID } from 'node:crypto';
import type { Dialog, SipResponse } from '../../../sip/index.ts';
import type { StoredSdp } from '../../../media/index.ts';
import type { CallContext, CallTask } from '../call-context.ts';
import { type CallParty, CallState, CallStateError, type RingOutcome, type RingTarget } from '../call-types.ts';
import { type Fork, type ForkHandler, legsFor } from '../fork.ts';
import type { Leg } from '../leg.ts';
import { sdpMessage } from '../media-bridge.ts';

/** What transferring the caller needs, or why it cannot be done now (`what`: the action, for the error). */
export function transferable(call: CallContext, what: string): { old: Leg; sdp: StoredSdp } {
  const old = call.answered;
  if (call.state !== CallState.Answered || !old?.dialog || !call.callerDialog) throw new CallStateError(`${what}: the call is not answered`);
  if (call.task) throw new CallStateError(`${what}: a transfer is already in progress`);
  const sdp = call.bridge.sdp.caller;
  if (!sdp) throw new CallStateError(`${what}: the caller described no media`);
  return { old, sdp };
}

/** The outcome of a task's ringing, and the settling of it. */
export function outcomeOf(): { outcome: Promise<RingOutcome>; settle: (outcome: RingOutcome) => void } {
  let settle!: (outcome: RingOutcome) => void;
  const outcome = new Promise<RingOutcome>((resolve) => (settle = resolve));
  return { outcome, settle };
}

/** Busy when any of a failed fork's legs said so, else unavailable: what a transfer's target did. */
export function targetFailure(legs: readonly Leg[]): RingOutcome {
  return legs.some((l) => l.finalStatus === 486 || l.finalStatus === 600) ? 'busy' : 'unavailable';
}

export class BlindTransfer implements CallTask, ForkHandler {
  readonly name = 'blind-transfer';
  private readonly fork: Fork;
  private chosen: Leg | undefined;

  private constructor(
    private readonly call: CallContext,
    private readonly from: CallParty,
    private readonly settle: (outcome: RingOutcome) => void,
  ) {
    this.fork = call.fork(this);
  }

  /**
   * Starts the transfer. Checked at once (a throw, not a rejection), so the API can refuse before anything changes;
   * a target with no contact changes nothing and answers `unavailable`. Answers how the ringing ended.
   */
  static start(call: CallContext, target: RingTarget, ringTimeoutSeconds: number): Promise<RingOutcome> {
    const { old, sdp } = transferable(call, 'Transferring a call');
    if (target.contacts.length === 0) return Promise.resolve('unavailable');
    call.bridge.releaseControls();
    call.answered = undefined;
    call.callee = undefined;
    call.bye(old.dialog as Dialog);
    const { outcome, settle } = outcomeOf();
    const transfer = new BlindTransfer(call, old.party, settle);
    call.task = transfer;
    call.notices.transferring(old.party, target.party, false);
    // A failure to place the target's legs rejects, as the API and the REFER path expect.
    return transfer.run(sdp, target, ringTimeoutSeconds).then(() => outcome);
  }

  private async run(sdp: StoredSdp, target: RingTarget, ringTimeoutSeconds: number): Promise<void> {
    const { call } = this;
    const { bridge } = call;
    const offer = sdpMessage(sdp);
    const branches = target.contacts.map(() => randomUUID());
    let bodies: Array<Buffer | undefined>;
    try {
      // Each new party gets its own side in the relay (named up front): without the to-tag the relay would reuse the
      // side of the party who left, its ports, ICE and DTLS, which only a plain RTP phone gets away with.
      bodies = await Promise.all(target.contacts.map(({ flow }, i) => bridge.body('offer', offer, bridge.callerTag, branches[i], flow, branches[i], target.addressing?.codecs)));
      // The caller hears ringback while the target rings (through the relay; with direct media, silence).
      if (bridge.unavailable === undefined && bridge.media.ringback) await bridge.waitWith(bridge.media.ringback);
    } catch (err) {
      call.mediaFailed(err);
      return;
    }
    if (call.state === CallState.Ended) return;
    const legs = legsFor(target, branches, bodies);
    this.fork.ring(legs, { maxForwards: 69, display: undefined, contentType: sdp.type }, ringTimeoutSeconds);
  }

  onProvisional(leg: Leg, _response: SipResponse, first: boolean): void {
    if (first) this.call.notices.ringing(leg);
  }

  onAnswer(leg: Leg, response: SipResponse): boolean {
    const { call } = this;
    if (call.state === CallState.Ended || call.task !== this || this.chosen) return false;
    this.chosen = leg;
    call.notices.dialog(leg.dialog as Dialog);
    this.bridgeTarget(leg, response).catch((err: unknown) => call.mediaFailed(err));
    return true;
  }

  /** The target answered: the ringback stops, the caller is re-INVITEd with the target's media, and the two talk. */
  private async bridgeTarget(leg: Leg, response: SipResponse): Promise<void> {
    const { call } = this;
    const { bridge } = call;
    const callerDialog = call.callerDialog as Dialog;
    await bridge.stopWaiting();
    const body = await bridge.body('offer', response, leg.id, bridge.callerTag, callerDialog.flow);
    if (call.state === CallState.Ended) return;
    const answer = await call.reinvite(callerDialog, body, response.headers.get('Content-Type'));
    if (answer.status >= 300) throw new Error(`the caller refused the transfer's re-INVITE with ${answer.status}`);
    // The target already has its answer (the media plane's ports for it do not change): this one is for the relay.
    await bridge.body('answer', answer, bridge.callerTag, leg.id, leg.flow);
    if ((call.state as CallState) === CallState.Ended) return;
    call.takeCallee(leg);
    bridge.note('callee', response);
    bridge.note('caller', answer);
    // The caller answered this time: its description is its choice already.
    bridge.callerChose();
    call.task = undefined;
    call.notices.transferred(this.from, leg);
    this.settle('answered');
  }

  onFailed(_status: number, legs: readonly Leg[]): void {
    this.failed(targetFailure(legs));
  }

  onTimeout(): void {
    this.failed('no-answer');
  }

  /** Nobody took the transferred caller: it is hung up. */
  private failed(outcome: RingOutcome): void {
    if (this.call.task !== this) return;
    this.call.task = undefined;
    this.settle(outcome);
    this.call.hangUpAll('transfer-failed');
  }

  kill(): void {
    if (this.chosen?.dialog && this.chosen !== this.call.answered) this.call.bye(this.chosen.dialog);
    this.settle('ended');
  }
}
