/**
 * Ringing parties for the caller: one round, every contact of every target at once through a {@link Fork}. The first
 * to answer is bridged to the caller. Ringing (and early media) is passed back to a caller who hears nothing else;
 * a routed caller already hears ringback or music. A direct call that nobody answers ends with the best failure; a
 * routed call waits for its router's next round.
 */
import { randomUUID } from 'node:crypto';
import { Dialog, type IncomingRequest, type SipResponse } from '../../../sip/index.ts';
import { sdpOf } from '../../../media/index.ts';
import type { CallContext, Round } from '../call-context.ts';
import { CallState, DIALOG_ALLOW, type EngineEndCause, type RingOutcome, type RingTarget } from '../call-types.ts';
import type { Fork, ForkHandler } from '../fork.ts';
import type { Leg } from '../leg.ts';
import { sdpMessage } from '../media-bridge.ts';

/** How a round whose legs all failed with `status` ended, in the call's words. */
export function failureCause(status: number): Extract<EngineEndCause, 'busy' | 'unavailable' | 'rejected'> {
  return status === 486 || status === 600 ? 'busy' : status === 480 || status === 408 ? 'unavailable' : 'rejected';
}

/** A round of ringing begins: the call's round until it settles, and the promise of its outcome. */
export function openRound<R extends Round>(call: CallContext, make: (settle: (outcome: RingOutcome) => void) => R): { round: R; outcome: Promise<RingOutcome> } {
  let resolve!: (outcome: RingOutcome) => void;
  const outcome = new Promise<RingOutcome>((r) => (resolve = r));
  const round: R = make((o) => {
    if (call.round === round) call.round = undefined;
    resolve(o);
  });
  call.round = round;
  return { round, outcome };
}

/**
 * What the round's owner does with a failure. By default a direct call whose legs all failed ends with the best
 * failure; `onFailure` takes the failure instead (the caller keeps waiting, as a call out through a trunk does while
 * the next trunk is tried), and the owner ends the call when it has nothing else to try.
 */
export interface RingOptions {
  onFailure?: (status: number) => void;
}

export class RingRound implements Round, ForkHandler {
  readonly fork: Fork;

  private constructor(
    private readonly call: CallContext,
    readonly settle: (outcome: RingOutcome) => void,
    private readonly options: RingOptions,
  ) {
    this.fork = call.fork(this);
  }

  static async start(call: CallContext, targets: RingTarget[], ringTimeoutSeconds: number, options: RingOptions = {}): Promise<RingOutcome> {
    // A caller the PBX answered waits: each party rung gets its own side in the relay, offered the caller's media.
    const waiting = call.callerDialog !== undefined;
    const stored = call.bridge.sdp.caller;
    const offer = waiting && stored ? sdpMessage(stored) : call.inbound?.message;
    if (!offer) throw new Error('call: the caller described no media');
    const maxForwards = Math.max(0, Number(call.inbound?.message.headers.get('Max-Forwards') ?? 70) - 1);
    const display = call.inbound?.message.from.displayName;
    if (!call.routed) call.listenForCancel();
    const { round, outcome } = openRound(call, (settle) => new RingRound(call, settle, options));
    const contacts = targets.flatMap((t) => t.contacts.map((c) => ({ ...c, party: t.party, addressing: t.addressing })));
    const branches = contacts.map(() => randomUUID());
    let bodies: Array<Buffer | undefined>;
    try {
      bodies = await Promise.all(contacts.map(({ flow, addressing }, i) => call.bridge.body('offer', offer, call.bridge.callerTag, waiting ? branches[i] : undefined, flow, branches[i], addressing?.codecs)));
    } catch (err) {
      call.bridge.media.onError(err, 'call:media offer');
      call.refuseCaller(500, 'Server Internal Error (media relay failed)');
      call.end('media-failed');
      return outcome;
    }
    // The caller may have gone, or the router stopped the round, while the media plane answered.
    if (call.state === CallState.Ended || !round.fork.ringing) return outcome;
    const legs = contacts.map((c, i) => ({ ...c, branch: branches[i] as string, body: bodies[i] }));
    round.fork.ring(legs, { maxForwards, display, contentType: offer.headers.get('Content-Type') }, ringTimeoutSeconds);
    return outcome;
  }

  onProvisional(leg: Leg, response: SipResponse): void {
    const { call } = this;
    if (call.state === CallState.Ended || call.answered) return;
    call.markRinging();
    call.notices.ringing(leg);
    const inbound = call.inbound;
    if (call.routed || !inbound || call.callerDialog) return;
    // Pass the ringing (and early media SDP with 183) back to the caller.
    call.toCaller(async () => {
      // Without the caller's offer, SDP in an unreliable 18x answers nothing (rfc3261#section-13.2.1): not passed.
      const body = sdpOf(inbound.message) ? await call.bridge.body('answer', response, leg.id, call.bridge.callerTag, inbound.flow, leg.id) : undefined;
      if (call.state === CallState.Ended || call.answered || inbound.transaction.finalSent) return;
      inbound.reply(response.status, {
        reason: response.reason,
        body,
        contentType: body ? response.headers.get('Content-Type') : undefined,
        headers: [['Contact', call.contactFor(inbound.flow, call.dialed)], call.callHeader],
      });
    });
  }

  onAnswer(leg: Leg, response: SipResponse): boolean {
    const { call } = this;
    const { bridge } = call;
    const waiting = call.callerDialog !== undefined;
    const inbound = call.inbound;
    // Too late: the caller left, or was answered already.
    if (call.state === CallState.Ended || call.answered || (!waiting && (!inbound || inbound.transaction.finalSent))) return false;
    const late = !waiting && inbound !== undefined && !sdpOf(inbound.message) && sdpOf(response) !== undefined;
    if (late) {
      leg.ackHeld = true;
      call.lateOffer(leg);
    }
    call.takeCallee(leg);
    if (!waiting && inbound) bridge.note('caller', inbound.message);
    bridge.note('callee', response);
    call.markAnswered();
    call.notices.dialog(leg.dialog as Dialog);
    this.settle('answered');
    if (waiting || !inbound) {
      call.toCaller(() => this.joinWaitingCaller(leg, response));
      return true;
    }
    call.toCaller(async () => {
      // A late offer goes to the caller as an offer, from the callee's side of the relay.
      const body = late
        ? await bridge.body('offer', response, leg.id, bridge.callerTag, inbound.flow)
        : await bridge.body('answer', response, leg.id, bridge.callerTag, inbound.flow, leg.id);
      if (call.state === CallState.Ended || inbound.transaction.finalSent) return;
      if (!late) bridge.callerAnswer = body?.toString('utf8');
      const callerContact = call.contactFor(inbound.flow, call.dialed);
      const callerDialog = (call.callerDialog = asUas(inbound, callerContact));
      call.notices.dialog(callerDialog);
      const ok = inbound.reply(200, {
        body,
        contentType: body ? response.headers.get('Content-Type') : undefined,
        headers: [['Contact', callerContact], ['Allow', DIALOG_ALLOW], call.callHeader, ...call.notices.answerHeaders(callerDialog, inbound.message)],
      });
      call.notices.answered(leg);
      call.await2xxAck(ok, inbound.message, inbound.flow);
    });
    return true;
  }

  /**
   * A party answered the caller the PBX had answered: its answer completes the relay's offer made from the caller's
   * side, which does not change (the caller is asked nothing), and the waiting audio stops.
   */
  private async joinWaitingCaller(leg: Leg, response: SipResponse): Promise<void> {
    const { call } = this;
    await call.bridge.body('answer', response, leg.id, call.bridge.callerTag, (call.callerDialog as Dialog).flow, leg.id);
    if (call.state === CallState.Ended) return;
    await call.bridge.stopWaiting();
    call.notices.answered(leg);
  }

  onFailed(status: number): void {
    const { call } = this;
    const cause = failureCause(status);
    this.settle(cause);
    if (this.options.onFailure) {
      this.options.onFailure(status);
      return;
    }
    // A routed caller waits for the router's next round.
    if (call.routed && (call.inbound || call.callerDialog)) return;
    call.refuseCaller(status === 408 ? 480 : status);
    call.end(cause);
  }

  onTimeout(): void {
    if (this.call.routed) this.settle('no-answer');
    else this.call.giveUp(480, 'no-answer');
  }
}

/** The caller's dialog, as the UAS of its INVITE (answered with `contact`). */
export function asUas(inbound: IncomingRequest, contact: string): Dialog {
  return Dialog.asUas(inbound.message, inbound.transaction.toTag, inbound.flow, contact);
}
