/**
 * The call as its parts see it: what the fork, the in-dialog handling and the tasks may read and do on the call
 * they work for (jambonz gives its tasks the call session the same way). The Call implements it; nothing outside
 * `calls/` uses it.
 */
import type { Dialog, Flow, IncomingRequest, SipRequest, SipResponse, SipStack } from '../../sip/index.ts';
import type { CallParty, CallSide, CallState, EndCause, LegRequest, RingOutcome, TransferTarget } from './call-types.ts';

export type { LegRequest } from './call-types.ts';
import type { Fork, ForkHandler } from './fork.ts';
import type { Leg } from './leg.ts';
import type { MediaBridge } from './media-bridge.ts';

/** What the call tells its owner, said from inside the call (the owner hears it with the call it is about). */
export interface CallNotices {
  dialog(dialog: Dialog): void;
  ringing(leg: Leg): void;
  answered(leg: Leg): void;
  hold(side: CallSide, held: boolean): void;
  dtmf(side: CallSide, digit: string, via: 'rfc4733' | 'info'): void;
  /**
   * The party who answered let go of the caller for `target`: a blind transfer (the target is rung now), or an
   * attended one being completed (the target was consulted, and may already be on the call).
   */
  transferring(from: CallParty, target: TransferTarget, attended: boolean): void;
  /** A party of the answered call asks, by REFER in `dialog`, to transfer the other. */
  refer(req: IncomingRequest, side: CallSide, dialog: Dialog): void;
  /** An attended transfer's consultation began: `target` is rung for the transferor `from` while the caller holds. */
  consulting(from: CallParty, target: CallParty): void;
  /** The consultation's target answered: it talks with the transferor. */
  consulted(from: CallParty, leg: Leg): void;
  /** The consultation ended without a transfer. */
  consultationEnded(from: CallParty, target: CallParty, outcome: 'cancelled' | 'failed'): void;
  /** The transfer's target answered: it is the callee now. */
  transferred(from: CallParty, leg: Leg): void;
  /** Header fields for an INVITE the call sends to a party. */
  offerHeaders(): Array<[string, string]>;
  /** Header fields for a 2xx the call sends in `dialog` to `request`, an INVITE or UPDATE. */
  answerHeaders(dialog: Dialog, request: SipRequest): Array<[string, string]>;
}

/** What a task is asked while it runs; a task that takes a request or a closed flow answers true. */
export interface CallTask {
  readonly name: string;
  /** A request in one of the call's dialogs, before the call's own handling. */
  onRequest?(req: IncomingRequest, from: Dialog): boolean;
  /** A party's connection closed while the call is answered. */
  onFlowClosed?(flow: Flow): boolean;
  /** The call ended: the task lets go of whatever it still holds, once. */
  kill(): void;
}

/** A round of ringing for the caller (or, for a click-to-call, for the caller's own devices). */
export interface Round {
  readonly fork: Fork;
  /** Says how the round ended, once; the call's round slot is free again. */
  settle(outcome: RingOutcome): void;
}

export interface CallContext {
  readonly id: string;
  readonly caller: CallParty;
  readonly dialed: string;
  readonly inbound: IncomingRequest | undefined;
  readonly state: CallState;
  readonly stack: SipStack;
  readonly bridge: MediaBridge;
  readonly notices: CallNotices;
  readonly callHeader: [string, string];
  readonly legs: Leg[];
  routed: boolean;
  callerDialog: Dialog | undefined;
  /** The leg of the party who answered, while one is on the call. */
  answered: Leg | undefined;
  callee: CallParty | undefined;
  /** The task in progress (a transfer, a consultation), if any. */
  task: CallTask | undefined;
  /** The round of ringing for the caller in progress, if any. */
  round: Round | undefined;
  /** The PBX answering a routed caller: ringing waits for it. */
  answering: Promise<void> | undefined;
  readonly timerValues: { T1: number; T2: number };
  after(ms: number, fire: () => void): void;
  /** Ends one dialog, once. */
  bye(dialog: Dialog): void;
  /** A dialog that ended (a BYE went or came): it moves nothing any more. */
  markEnded(dialog: Dialog): void;
  end(cause: EndCause): void;
  hangUpAll(cause: EndCause): void;
  mediaFailed(err: unknown): void;
  /** Sends messages toward the caller in order, after whatever went before them. */
  toCaller(step: () => Promise<void>): void;
  contactFor(flow: Flow, user: string): string;
  /** A new leg of the call, its INVITE built but not sent (a fork sends it). */
  newLeg(request: LegRequest): Leg;
  fork(handler: ForkHandler): Fork;
  /** A re-INVITE in `dialog`, acknowledged when it succeeds. */
  reinvite(dialog: Dialog, body: Buffer | undefined, contentType: string | undefined): Promise<SipResponse>;
  /** Retransmits a 2xx until its ACK; without one in 64*T1, the call ends. */
  await2xxAck(response: SipResponse, request: SipRequest, flow: Flow): void;
  /** `leg`'s party answered: it is the callee now, and the caller's talk time counts. */
  takeCallee(leg: Leg): void;
  /** The party who answered is let go and the caller waits for its router again. */
  routeAgain(): void;
  markRinging(): void;
  markAnswered(): void;
  hasEnded(dialog: Dialog): boolean;
  refuseCaller(status: number, reason?: string): void;
  /** Cancels every leg and gives the caller `status` (a ring timeout before an answer). */
  giveUp(status: number, cause: EndCause): void;
  /** The leg that answered offered in its 2xx: its ACK waits for the caller's answer, in the caller's ACK. */
  lateOffer(leg: Leg): void;
  listenForCancel(): void;
}
