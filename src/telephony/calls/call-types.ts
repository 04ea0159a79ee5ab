/**
 * The words of a call, shared by the call, its legs, forks and tasks: its states, its parties and sides, why it
 * ended, how a round of ringing ended, and the media plane as a call uses it.
 */
import type { Flow, SipRequest, SipResponse } from '../../sip/index.ts';
import type { MediaPlane, MediaProfile } from '../../media/index.ts';
import type { Binding } from '../location-service.ts';

/**
 * A call's states (the table of legal moves is in call.ts):
 *
 *   Routing --first 18x--> Ringing --2xx--> Answered --BYE/failure--> Ended
 *   Routing/Ringing ------all legs fail, CANCEL, ring timeout------> Ended
 *   Answered --the answering party sends the caller to a router--> Routing
 */
export enum CallState {
  Routing = 'routing',
  Ringing = 'ringing',
  Answered = 'answered',
  Ended = 'ended',
}

/** Why a call ended, in the engine's words. */
export type EngineEndCause =
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
  /** Hung up by a user through the API (a hang-up button). */
  | 'hangup'
  /** A blind transfer's target did not answer: the transferee, left alone, is hung up. */
  | 'transfer-failed'
  /**
   * A phone joined two of its calls (an attended transfer by REFER with Replaces): this one's other party went on in
   * the other call, and the phone left both.
   */
  | 'transferred'
  /** The relay received no packet from any party for the configured time (see CallWatchdog). */
  | 'media-timeout'
  /** A session refresh (RFC 4028) owed by a party did not come, or one of ours was answered 408/481 or not at all. */
  | 'session-timer-expired'
  /** A party answered an in-dialog OPTIONS with 408 or 481, or did not answer it. */
  | 'probe-failed'
  /** The call lasted as long as its tenant allows. */
  | 'max-duration';

/**
 * Why a call ended: one of the engine's causes, or a reason of whoever routes the call (its router lets a waiting
 * caller go for reasons of its own, which the engine passes on as they are).
 */
export type EndCause = EngineEndCause | (string & Record<never, never>);

/** How one round of ringing ended: someone answered, nobody did (and why), or the call ended meanwhile. */
export type RingOutcome = 'answered' | 'no-answer' | 'busy' | 'rejected' | 'unavailable' | 'ended';

/**
 * A party to a call: an extension of the tenant (its id and number), or a party outside the building reached
 * through a trunk (no extension; its number in E.164, `+14155550100`).
 */
export interface CallParty {
  extensionId: string | undefined;
  number: string;
}

/**
 * Where a leg's INVITE goes: a registered contact (a {@link Binding}), or a carrier's server. `contact` is the
 * Request-URI, `path` the pre-loaded Route set (RFC 3327's Path of a binding, or a trunk's outbound proxy).
 */
export type LegTarget = Pick<Binding, 'contact' | 'path'>;

/** Answers a challenge (401/407) to a leg's INVITE: the INVITE to send again with credentials, or none to give up. */
export interface LegAuth {
  retry(invite: SipRequest, challenge: SipResponse): SipRequest | undefined;
}

/**
 * How a leg to a party outside presents itself (the carrier's words): its From and To (name-addr, without a tag),
 * header fields of its own (P-Asserted-Identity, Privacy), and credentials for the carrier's challenge.
 */
export interface LegAddressing {
  from: string;
  to: string;
  headers: Array<[string, string]>;
  auth: LegAuth | undefined;
  /** The codecs the party takes (a carrier's), offered through the relay, which transcodes; none: the caller's. */
  codecs: readonly string[] | undefined;
}

/** A party to ring and the contacts it is reached at. */
export interface RingTarget {
  party: CallParty;
  contacts: Array<{ binding: LegTarget; flow: Flow }>;
  /** A party outside, through a trunk: how its legs present themselves (an extension's legs need none). */
  addressing?: LegAddressing;
}

/** The INVITE of a new leg: whom it rings, on which contact, with what. */
export interface LegRequest {
  binding: LegTarget;
  flow: Flow;
  party: CallParty;
  /** The leg's media tag and branch. */
  branch: string;
  maxForwards: number;
  display: string | undefined;
  body: Buffer | undefined;
  contentType: string | undefined;
  /** The From party, when it is not the call's caller. */
  from?: CallParty;
  /** A leg to a party outside: its own From, To, header fields and credentials. */
  addressing?: LegAddressing;
}

/** Where a transfer sends the caller: an extension, or a number whose router takes it (no extension). */
export type TransferTarget = CallParty;

export type CallSide = 'caller' | 'callee';

/**
 * A call that crosses the building's walls: the trunk it came in on or goes out through (known once one is tried),
 * the number outside (E.164, or an emergency number as dialled), the phone number (DID) it called, and the caller ID
 * presented outside.
 */
export interface CarrierLink {
  direction: 'inbound' | 'outbound';
  trunkId: string | undefined;
  externalNumber: string;
  did: string | null;
  callerId: string | null;
}

/**
 * A carrier that takes DTMF other than as RFC 4733 events (its trunk's mode), and the side of the call it is on:
 * `info` digits go to it as SIP INFO and its INFO comes back as events; `inband` digits go to it as tones.
 */
export interface CarrierDtmf {
  mode: 'info' | 'inband';
  side: CallSide;
}

export function otherSide(side: CallSide): CallSide {
  return side === 'caller' ? 'callee' : 'caller';
}

/** The media plane as a call uses it, with the file a held party hears. */
export interface CallMedia {
  plane: MediaPlane;
  holdMusic: string | undefined;
  /** What a caller the PBX answered hears while the party it called rings (a click-to-call's first party). */
  ringback: string | undefined;
  onError(err: unknown, context: string): void;
}

/** The header that carries our call id to the parties of a call. */
export const CALL_HEADER = 'X-Switchboard-Call';

/** The methods a party may send in a call's dialogs (REFER: the party who answered transfers its caller). */
export const DIALOG_ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER';

/** The media tag of an inbound caller's side; each outbound leg is tagged with its own id. */
export const CALLER_TAG = 'caller';
/** The media tag of the PBX itself, the side a waiting caller is answered by (see silentAnswer). */
export const PBX_TAG = 'pbx';

/** A browser (WebSocket) gets WebRTC media; every other transport plain RTP. */
export function profileOf(flow: Flow): MediaProfile {
  return flow.protocol === 'WS' || flow.protocol === 'WSS' ? 'webrtc' : 'rtp';
}

/** An action the call's state does not allow (holding a call nobody answered yet). */
export class CallStateError extends Error {
  override readonly name = 'CallStateError';
}
