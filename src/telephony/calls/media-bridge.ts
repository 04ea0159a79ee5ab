/**
 * The media between a call's parties: every SDP on its way across goes through the media plane, rewritten for the
 * side it goes to (anchored by the relay, or passed through by direct media). Each side of the relay is named by a
 * media tag: the caller's, each leg's own id, and the PBX's when the PBX answered a caller itself.
 *
 * A party that holds (sendonly or inactive, or the API's hold) leaves the other hearing music on hold; a muted side
 * is not heard; a waiting caller hears music or ringback with its own audio going nowhere.
 */
import { SipHeaders, type Flow } from '../../sip/index.ts';
import { MediaUnavailableError, narrowOffer, isSdp, sdpOf, silentAnswer, type SdpDtmf, type StoredSdp, type WithBody } from '../../media/index.ts';
import { CALLER_TAG, type CallMedia, type CallSide, type CarrierDtmf, otherSide, PBX_TAG, profileOf } from './call-types.ts';

/** A stored media description as a message body, to offer it again. */
export function sdpMessage(sdp: StoredSdp): { body: Buffer; headers: SipHeaders } {
  return { body: sdp.body, headers: new SipHeaders().add('Content-Type', sdp.type) };
}

/** What the bridge needs to know of its call. */
export interface BridgeHost {
  /** The media tag of the party who answered, while one is on the call. */
  calleeTag(): string | undefined;
  /** The call is answered: hold and mute apply. */
  isAnswered(): boolean;
  /** A side held the other, or resumed. */
  onHold(side: CallSide, held: boolean): void;
}

/** A party's side in the relay: its media tag, its last description and the flow it is reached on. */
export interface RelaySide {
  tag: string;
  sdp: StoredSdp | undefined;
  flow: Flow;
}

export class MediaBridge {
  /** The call asked the media plane for something: its session there is deleted at the end. */
  private used = false;
  /** Which sides hold the other (their phone's last offer was sendonly or inactive, or the API asked). */
  readonly holding = new Set<CallSide>();
  /** Which sides the API muted: the other side does not hear them. */
  readonly muted = new Set<CallSide>();
  /** The SDP each side last described its media with (a transfer offers the caller's to the new party). */
  readonly sdp: Partial<Record<CallSide, StoredSdp>> = {};
  /**
   * The caller's media tag: `caller` for an inbound caller; for a click-to-call, the leg of the caller's device that
   * answered.
   */
  callerTag = CALLER_TAG;
  /**
   * The media description the caller was last given by the relay, when it was an answer to the caller's offer: the
   * codec it speaks is among those, and parties offered its media later must keep to it.
   */
  callerAnswer: string | undefined;
  /** The audio a caller the PBX answered hears until a party answers (music, or ringback). */
  private waitingAudio: string | undefined;
  /**
   * The carrier's side of the call and how it takes DTMF, when its trunk wants SIP INFO or tones and the relay
   * carries the call (see CarrierCalls.applyDtmfMode); undefined: RFC 4733 events pass through as they are.
   */
  carrierDtmf: CarrierDtmf | undefined;
  /** The parties whose RFC 4733 events the relay stops (they reach the carrier as INFO instead). */
  private readonly dtmfBlocked = new Set<string>();
  /** Digits played into the call for the carrier's side, not yet seen back in the relay's DTMF log. */
  private readonly played: Array<{ tag: string; digit: string }> = [];

  constructor(
    /** The call's session in the media plane. */
    readonly mediaId: string,
    readonly media: CallMedia,
    private readonly host: BridgeHost,
  ) {}

  get plane(): CallMedia['plane'] {
    return this.media.plane;
  }

  /** Why the media plane cannot anchor media, if it cannot. */
  get unavailable(): string | undefined {
    return this.media.plane.unavailableReason;
  }

  /** The media tag of a side of the answered call. */
  tagOf(side: CallSide): string {
    return side === 'caller' ? this.callerTag : (this.host.calleeTag() as string);
  }

  /** The SDP a message carries, rewritten by the media plane for the side it goes to; other bodies pass as they are. */
  async body(kind: 'offer' | 'answer', message: WithBody, fromTag: string, toTag: string | undefined, to: Flow, branch?: string, codecs?: readonly string[]): Promise<Buffer | undefined> {
    if (message.body.length === 0) return undefined;
    if (!isSdp(message.headers.get('Content-Type'), message.body)) return message.body;
    this.used = true;
    const step = { callId: this.mediaId, fromTag, toTag, branch, sdp: message.body.toString('utf8'), profile: profileOf(to), codecs, dtmf: this.dtmfStep(fromTag) };
    const sdp = kind === 'offer' ? await this.media.plane.offer(step) : await this.media.plane.answer({ ...step, toTag: toTag as string });
    if (kind === 'answer') await this.blockPhoneDtmf(fromTag, toTag);
    return Buffer.from(sdp, 'utf8');
  }

  /** Whether `tag` names the carrier's side of the call. */
  isCarrierTag(tag: string): boolean {
    const side = this.carrierDtmf?.side;
    if (side === undefined || tag === PBX_TAG) return false;
    return side === 'caller' ? tag === this.callerTag : tag !== this.callerTag;
  }

  /** What the relay is told of DTMF for an SDP from `fromTag` (an offer goes to the other party, an answer back). */
  private dtmfStep(fromTag: string): SdpDtmf | undefined {
    const mode = this.carrierDtmf?.mode;
    if (mode === 'info') return { inject: true };
    if (mode === 'inband') return { tones: this.isCarrierTag(fromTag) ? 'sender' : 'receiver' };
    return undefined;
  }

  /**
   * A carrier that takes digits as SIP INFO must not also get the phone's RFC 4733 events: once an answer made the
   * phone's side known to the relay, its events stop there (the relay still reports them, and they go as INFO).
   */
  private async blockPhoneDtmf(...tags: Array<string | undefined>): Promise<void> {
    if (this.carrierDtmf?.mode !== 'info') return;
    for (const tag of tags) {
      if (tag === undefined || tag === PBX_TAG || this.isCarrierTag(tag) || this.dtmfBlocked.has(tag)) continue;
      this.dtmfBlocked.add(tag);
      // A phone's digits that still reach the carrier as events too are no reason to fail the call.
      await this.media.plane.blockDtmf(this.mediaId, tag).catch((err: unknown) => this.media.onError(err, 'call:block dtmf'));
    }
  }

  /** Plays `digit` into the call as pressed by the carrier's side (its SIP INFO): the phone gets RFC 4733 events. */
  async playCarrierDigit(tag: string, digit: string, durationMs: number): Promise<void> {
    this.played.push({ tag, digit });
    await this.media.plane.playDtmf(this.mediaId, tag, digit, durationMs);
  }

  /** Whether a digit the relay reports is one we played (a carrier's INFO, reported already): it is not a new press. */
  wasPlayed(tag: string, digit: string): boolean {
    const index = this.played.findIndex((p) => p.tag === tag && p.digit === digit);
    if (index < 0) return false;
    this.played.splice(index, 1);
    return true;
  }

  /** Keeps the description `side` gave in `message`, if it gave one. */
  note(side: CallSide, message: WithBody): void {
    const sdp = sdpOf(message);
    if (sdp) this.sdp[side] = sdp;
  }

  /**
   * The relay's answer to the caller's `offer` from the PBX's side (the PBX answers the caller itself). Parties rung
   * later are offered only the codec the caller was answered with: the caller keeps it, its side of the relay does
   * not change when one answers.
   */
  async answerFromPbx(offer: StoredSdp, flow: Flow): Promise<string> {
    this.used = true;
    const sdp = offer.body.toString('utf8');
    const toPbx = await this.media.plane.offer({ callId: this.mediaId, fromTag: this.callerTag, toTag: PBX_TAG, sdp, profile: 'rtp', dtmf: this.dtmfStep(this.callerTag) });
    const answer = await this.media.plane.answer({ callId: this.mediaId, fromTag: PBX_TAG, toTag: this.callerTag, sdp: silentAnswer(toPbx), profile: profileOf(flow), dtmf: this.dtmfStep(PBX_TAG) });
    this.sdp.caller = { body: Buffer.from(narrowOffer(sdp, answer), 'utf8'), type: offer.type };
    this.callerAnswer = answer;
    return answer;
  }

  /** The caller will be offered to someone new: only the codec it was last answered with. */
  narrowCallerOffer(): void {
    const caller = this.sdp.caller;
    if (caller && this.callerAnswer) this.sdp.caller = { body: Buffer.from(narrowOffer(caller.body.toString('utf8'), this.callerAnswer), 'utf8'), type: caller.type };
  }

  /** The caller answered an offer of ours: its description is its own choice from now on. */
  callerChose(): void {
    this.callerAnswer = undefined;
  }

  /** The caller the PBX answered waits: its audio goes nowhere, and it hears `audio`. */
  async waitWith(audio: string): Promise<void> {
    this.waitingAudio = audio;
    await this.media.plane.block(this.mediaId, this.callerTag, true);
    await this.media.plane.play(this.mediaId, this.callerTag, audio);
  }

  /** A party answered the waiting caller: the audio stops and the caller is heard again. */
  async stopWaiting(): Promise<void> {
    if (!this.waitingAudio) return;
    this.waitingAudio = undefined;
    await this.media.plane.stopPlay(this.mediaId, this.callerTag);
    await this.media.plane.block(this.mediaId, this.callerTag, false);
  }

  /** `side` holds the other (or resumes): the other side hears music on hold while it lasts. */
  async setHolding(side: CallSide, holds: boolean, strict = false): Promise<void> {
    if (this.holding.has(side) === holds || !this.host.isAnswered()) return;
    if (holds) this.holding.add(side);
    else this.holding.delete(side);
    this.host.onHold(side, holds);
    const holderTag = this.tagOf(side);
    const heldTag = this.tagOf(otherSide(side));
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

  /** Mutes `side`: the other side stops hearing it, and `side` still hears the other. */
  async mute(side: CallSide, muted: boolean): Promise<void> {
    if (this.muted.has(side) === muted) return;
    if (muted) this.muted.add(side);
    else this.muted.delete(side);
    // A side on hold stays blocked until it resumes.
    if (muted || !this.holding.has(side)) await this.media.plane.block(this.mediaId, this.tagOf(side), muted);
  }

  /** Blocks (or lets through) the audio of the party tagged `tag`. */
  block(tag: string, blocked: boolean): Promise<void> {
    return this.media.plane.block(this.mediaId, tag, blocked);
  }

  /** The hold and mute of the pairing being broken up are undone (the caller goes on with someone else). */
  releaseControls(): void {
    const quiet = (err: unknown) => {
      if (!(err instanceof MediaUnavailableError)) this.media.onError(err, 'call:release media controls');
    };
    for (const side of ['caller', 'callee'] as const) {
      if (this.holding.has(side)) {
        this.host.onHold(side, false);
        this.media.plane.stopPlay(this.mediaId, this.tagOf(otherSide(side))).catch(quiet);
      }
      if (this.holding.has(side) || this.muted.has(side)) this.media.plane.block(this.mediaId, this.tagOf(side), false).catch(quiet);
    }
    this.holding.clear();
    this.muted.clear();
  }

  /**
   * Pairs two parties of the call in the relay, from the media descriptions they last gave, without asking either:
   * each one's side of the relay (its ports, ICE and DTLS) stays as it is, so neither phone needs a re-INVITE.
   */
  async pair(offerer: RelaySide, answerer: RelaySide): Promise<void> {
    if (!offerer.sdp || !answerer.sdp) throw new Error('a party of the call described no media');
    await this.body('offer', sdpMessage(offerer.sdp), offerer.tag, answerer.tag, answerer.flow);
    await this.body('answer', sdpMessage(answerer.sdp), answerer.tag, offerer.tag, offerer.flow);
  }

  /** The call ended while the relay was asked something: whatever that created in the relay is released again. */
  forget(): void {
    this.media.plane.delete(this.mediaId).catch((err: unknown) => this.media.onError(err, 'call:media delete'));
  }

  /** The call is over: its session in the media plane is deleted, if it has one. */
  close(): void {
    if (this.used) this.forget();
  }

  /** Marks the session as used, for steps that ask the media plane directly. */
  use(): void {
    this.used = true;
  }
}
