/**
 * What the engine asks of media, per call. A call's parties are named by tags (the caller's, and one per
 * outbound leg); every SDP the B2BUA forwards passes through {@link MediaPlane.offer} or {@link MediaPlane.answer}
 * on its way, rewritten for the transport of the side it goes to. The relay (rtpengine) anchors media and can
 * play, block, record and report DTMF; direct media passes SDP through and refuses what needs a relay with
 * {@link MediaUnavailableError}.
 */
import type { Mixdown } from './recording/mixdown.ts';

/** What the receiving side of an SDP speaks: a browser (ICE, DTLS-SRTP, rtcp-mux) or a phone (plain RTP). */
export type MediaProfile = 'webrtc' | 'rtp';

export interface SdpStep {
  /** The call's media session; one per B2BUA call. */
  callId: string;
  /** The tag of the party whose SDP this is. */
  fromTag: string;
  /** The tag of the party it goes to, once known (answers, re-offers). */
  toTag?: string;
  /** A fork of the offer: each outbound leg of a ringing call is a branch of its own. */
  branch?: string;
  sdp: string;
  /** What the receiving side speaks. */
  profile: MediaProfile;
  /**
   * The only codecs the receiving side is offered (a carrier's), in order; the relay transcodes from whatever the
   * offerer has. Absent: the offerer's codecs, with PCMU and PCMA added for a side that shares none.
   */
  codecs?: readonly string[];
  /** How DTMF crosses the relay in this call, when not as RFC 4733 events passed through (a carrier's DTMF mode). */
  dtmf?: SdpDtmf;
}

/**
 * DTMF other than RFC 4733 events passed through. Both the offer and the answer of a session carry the same.
 * - `inject`: digits will be played into the call ({@link MediaPlane.playDtmf}): SIP INFO digits become events.
 * - `tones`: one side takes DTMF only as audio: the side this SDP goes to (`receiver`), or the side it comes from
 *   (`sender`). It is offered no telephone-event, its own SDP is read without it (a carrier may offer events while
 *   its trunk says tones), and the relay turns the other side's RFC 4733 events into tones.
 */
export interface SdpDtmf {
  inject?: boolean;
  tones?: 'receiver' | 'sender';
}

export interface DtmfEvent {
  callId: string;
  /** The party that pressed the key. */
  fromTag: string;
  digit: string;
  durationMs: number;
}

/** A call's recording, mixed down once its media session ended. */
export interface FinishedRecording {
  callId: string;
  mixdown: Mixdown;
}

export class MediaUnavailableError extends Error {
  override readonly name = 'MediaUnavailableError';
  constructor(what: string, why: string) {
    super(`${what} needs the media relay (rtpengine), and ${why}`);
  }
}

export interface MediaPlane {
  readonly kind: 'rtpengine' | 'direct';
  /** Why relay-only features are unavailable, or undefined when they are available. */
  readonly unavailableReason: string | undefined;
  /** An SDP offer from `fromTag`, rewritten for the side it goes to. */
  offer(step: SdpStep): Promise<string>;
  /** An SDP answer from `fromTag` to the offer of `toTag`, rewritten for the side it goes back to. */
  answer(step: SdpStep & { toTag: string }): Promise<string>;
  /** The media sessions of ours the relay holds now (none for direct media). */
  sessions(): Promise<string[]>;
  /** Releases the call's media; idempotent, and quiet for a call the relay does not know. */
  delete(callId: string): Promise<void>;
  /** Plays an audio file to the party `toTag`, repeating it, until {@link stopPlay}. */
  play(callId: string, toTag: string, file: string): Promise<void>;
  stopPlay(callId: string, toTag: string): Promise<void>;
  /** Stops (or restores) the audio the party `fromTag` sends: its peer hears silence. */
  block(callId: string, fromTag: string, blocked: boolean): Promise<void>;
  /**
   * Records the call from now on: `channels` names the parties of the left and right channels. The recording is
   * finished (and handed to {@link onRecording}) when the call's media is deleted.
   */
  startRecording(callId: string, channels: [string, string]): Promise<void>;
  /** Pauses the recording (until {@link startRecording} again); what was recorded is kept. */
  stopRecording(callId: string): Promise<void>;
  onRecording(listener: (recording: FinishedRecording) => void): void;
  /** Finishes the recordings an earlier run left behind (a crash, a kill), except those of calls still `live`. */
  recoverRecordings(live: (callId: string) => boolean): Promise<void>;
  /**
   * How many packets (RTP and RTCP) the relay has received from the call's parties so far, or undefined when it
   * cannot tell (direct media, or a call the relay does not hold). A count that stops moving means nobody sends:
   * the engine ends calls whose media stopped (rtpengine's own `--timeout` cannot tell us in userspace mode without
   * a B2BUA callback, so it is asked).
   */
  activity(callId: string): Promise<number | undefined>;
  /**
   * Plays a DTMF digit into the call as if the party `fromTag` pressed it: its peer gets RFC 4733 events when it
   * takes telephone-event, else a tone. The session must have been set up with `dtmf.inject`.
   */
  playDtmf(callId: string, fromTag: string, digit: string, durationMs: number): Promise<void>;
  /** The RFC 4733 events the party `fromTag` sends stop at the relay (they are still reported to {@link onDtmf}). */
  blockDtmf(callId: string, fromTag: string): Promise<void>;
  /** DTMF digits pressed in calls (RFC 4733 telephone-events seen by the relay). */
  onDtmf(listener: (event: DtmfEvent) => void): void;
  /** The relay lost every call it carried (it restarted): the calls it anchored have no audio any more. */
  onLost(listener: (reason: string) => void): void;
  close(): Promise<void>;
}

/** Media straight between the phones: SDP passes through, and what needs a relay says so. */
export class DirectMediaPlane implements MediaPlane {
  readonly kind = 'direct';

  constructor(readonly unavailableReason: string) {}

  offer(step: SdpStep): Promise<string> {
    return Promise.resolve(step.sdp);
  }

  answer(step: SdpStep): Promise<string> {
    return Promise.resolve(step.sdp);
  }

  sessions(): Promise<string[]> {
    return Promise.resolve([]);
  }

  delete(): Promise<void> {
    return Promise.resolve();
  }

  play(): Promise<void> {
    return Promise.reject(new MediaUnavailableError('Playing audio into a call', this.unavailableReason));
  }

  stopPlay(): Promise<void> {
    return Promise.resolve();
  }

  block(): Promise<void> {
    return Promise.reject(new MediaUnavailableError('Muting a party', this.unavailableReason));
  }

  startRecording(): Promise<void> {
    return Promise.reject(new MediaUnavailableError('Recording a call', this.unavailableReason));
  }

  stopRecording(): Promise<void> {
    return Promise.reject(new MediaUnavailableError('Recording a call', this.unavailableReason));
  }

  onRecording(): void {}

  recoverRecordings(): Promise<void> {
    return Promise.resolve();
  }

  /** The media does not pass here: nothing to count. */
  activity(): Promise<number | undefined> {
    return Promise.resolve(undefined);
  }

  playDtmf(): Promise<void> {
    return Promise.reject(new MediaUnavailableError('Playing DTMF into a call', this.unavailableReason));
  }

  blockDtmf(): Promise<void> {
    return Promise.reject(new MediaUnavailableError('Blocking DTMF', this.unavailableReason));
  }

  onDtmf(): void {}

  onLost(): void {}

  close(): Promise<void> {
    return Promise.resolve();
  }
}
