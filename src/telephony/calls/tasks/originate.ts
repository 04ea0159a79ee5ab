/**
 * Ringing the caller back, the first step of a click-to-call (the controller of rfc3725, with the relay as its
 * media): every contact of the caller is rung with an offer from the PBX. The first to answer is the caller's side of
 * the call: it hears `audio` (ringback, or the router's music) until a party answers. Nobody answering in time, or
 * all refusing, ends the call. Needs the relay.
 */
import { randomUUID } from 'node:crypto';
import type { Dialog, SipResponse } from '../../../sip/index.ts';
import { MediaUnavailableError, silentOffer } from '../../../media/index.ts';
import type { CallContext, Round } from '../call-context.ts';
import { CallState, CallStateError, PBX_TAG, profileOf, type RingOutcome, type RingTarget } from '../call-types.ts';
import { type Fork, type ForkHandler, legsFor } from '../fork.ts';
import type { Leg } from '../leg.ts';
import { failureCause, openRound } from './ring.ts';

export class CallBack implements Round, ForkHandler {
  readonly fork: Fork;

  private constructor(
    private readonly call: CallContext,
    private readonly audio: string,
    readonly settle: (outcome: RingOutcome) => void,
  ) {
    this.fork = call.fork(this);
  }

  /** Rings the caller's devices; answers how that ringing ended. */
  static start(call: CallContext, target: RingTarget, ringTimeoutSeconds: number, audio: string): Promise<RingOutcome> {
    const unavailable = call.bridge.unavailable;
    if (unavailable !== undefined) throw new MediaUnavailableError('Click-to-call', unavailable);
    if (call.inbound || call.callerDialog || call.round) throw new CallStateError('Calling back: the caller is already on the call');
    const { round, outcome } = openRound(call, (settle) => new CallBack(call, audio, settle));
    if (target.contacts.length === 0) {
      round.settle('unavailable');
      call.end('unavailable');
      return outcome;
    }
    round.run(target, ringTimeoutSeconds).catch((err: unknown) => call.mediaFailed(err));
    return outcome;
  }

  private async run(target: RingTarget, ringTimeoutSeconds: number): Promise<void> {
    const { call } = this;
    const { bridge } = call;
    bridge.use();
    const branches = target.contacts.map(() => randomUUID());
    const sdp = silentOffer();
    const bodies = await Promise.all(
      target.contacts.map(({ flow }, i) => bridge.plane.offer({ callId: bridge.mediaId, fromTag: PBX_TAG, toTag: branches[i], branch: branches[i], sdp, profile: profileOf(flow) })),
    );
    if (call.state === CallState.Ended || !this.fork.ringing) return;
    // The caller's phone shows the number it is about to call.
    const from = { extensionId: undefined, number: call.dialed };
    const legs = legsFor(target, branches, bodies.map((b) => Buffer.from(b as string, 'utf8')));
    this.fork.ring(legs, { maxForwards: 70, display: undefined, contentType: 'application/sdp', from }, ringTimeoutSeconds);
  }

  onProvisional(leg: Leg, _response: SipResponse, first: boolean): void {
    if (first) this.call.notices.ringing(leg);
  }

  onAnswer(leg: Leg, response: SipResponse): boolean {
    const { call } = this;
    const { bridge } = call;
    if (call.state === CallState.Ended || call.round !== this || call.callerDialog) return false;
    const dialog = leg.dialog as Dialog;
    bridge.callerTag = leg.id;
    call.callerDialog = dialog;
    call.notices.dialog(dialog);
    bridge.note('caller', response);
    call.toCaller(async () => {
      // The PBX's side was offered silence; the caller's answer completes it in the relay.
      await bridge.body('answer', response, leg.id, PBX_TAG, leg.flow, leg.id);
      if (call.state === CallState.Ended) return;
      await bridge.waitWith(this.audio);
      this.settle('answered');
    });
    return true;
  }

  onFailed(status: number): void {
    const cause = failureCause(status);
    this.settle(cause);
    this.call.end(cause);
  }

  onTimeout(): void {
    this.settle('no-answer');
    this.call.end('no-answer');
  }
}
