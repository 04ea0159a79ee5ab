/**
 * What a call tells its owner, with the call it is about, and the same said from inside the call (its parts tell
 * the call's notices, which carry the call to the owner).
 */
import type { Dialog, IncomingRequest, SipRequest } from '../../sip/index.ts';
import type { CallNotices } from './call-context.ts';
import type { CallParty, CallSide, EndCause, TransferTarget } from './call-types.ts';
import type { Leg } from './leg.ts';

/** What a call tells its owner: the dialogs to route to it, and its life. */
export interface CallObserverOf<C> {
  onDialog(call: C, dialog: Dialog): void;
  onRinging(call: C, leg: Leg): void;
  onAnswered(call: C, leg: Leg): void;
  onEnded(call: C, cause: EndCause): void;
  onHold(call: C, side: CallSide, held: boolean): void;
  onDtmf(call: C, side: CallSide, digit: string, via: 'rfc4733' | 'info'): void;
  onTransferring(call: C, from: CallParty, target: TransferTarget, attended: boolean): void;
  onRefer(call: C, req: IncomingRequest, side: CallSide, dialog: Dialog): void;
  onConsulting(call: C, from: CallParty, target: CallParty): void;
  onConsulted(call: C, from: CallParty, leg: Leg): void;
  onConsultationEnded(call: C, from: CallParty, target: CallParty, outcome: 'cancelled' | 'failed'): void;
  onTransferred(call: C, from: CallParty, leg: Leg): void;
  /** Header fields for an INVITE the call sends to a party (a session timer asked for, RFC 4028). */
  offerHeaders(call: C): Array<[string, string]>;
  /** Header fields for a 2xx the call sends in `dialog` to `request`, an INVITE or UPDATE (the session timer granted). */
  answerHeaders(call: C, dialog: Dialog, request: SipRequest): Array<[string, string]>;
}

/** The observer's callbacks, said from inside the call. */
export function noticesOf<C>(call: C, o: CallObserverOf<C>): CallNotices {
  return {
    dialog: (dialog) => o.onDialog(call, dialog),
    ringing: (leg) => o.onRinging(call, leg),
    answered: (leg) => o.onAnswered(call, leg),
    hold: (side, held) => o.onHold(call, side, held),
    dtmf: (side, digit, via) => o.onDtmf(call, side, digit, via),
    transferring: (from, target, attended) => o.onTransferring(call, from, target, attended),
    refer: (req, side, dialog) => o.onRefer(call, req, side, dialog),
    consulting: (from, target) => o.onConsulting(call, from, target),
    consulted: (from, leg) => o.onConsulted(call, from, leg),
    consultationEnded: (from, target, outcome) => o.onConsultationEnded(call, from, target, outcome),
    transferred: (from, leg) => o.onTransferred(call, from, leg),
    offerHeaders: () => o.offerHeaders(call),
    answerHeaders: (dialog, request) => o.answerHeaders(call, dialog, request),
  };
}
