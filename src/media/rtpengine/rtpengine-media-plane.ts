/**
 * The media plane on rtpengine: every call is anchored. Each SDP is rewritten for the side it goes to (a browser
 * gets UDP/TLS/RTP/SAVPF with ICE, DTLS and rtcp-mux; a phone plain RTP/AVP), G.711 and telephone-event are added
 * for transcoding when the two sides share no codec, and forks of a ringing call are branches of one media session.
 * DTMF arrives as JSON datagrams from rtpengine's DTMF log (its `dtmf-log-dest` pointed at our socket).
 */
import dgram from 'node:dgram';
import type { BValue } from './bencode.ts';
import type { NgClient } from './ng-client.ts';
import type { DtmfEvent, MediaPlane, MediaProfile, SdpStep } from '../media-plane.ts';

/** rtpengine call ids of ours start with this, so a restart can find and delete what an earlier run left. */
export const CALL_ID_PREFIX = 'switchboard-';

const PROFILE_FLAGS: Record<MediaProfile, { [key: string]: BValue }> = {
  webrtc: { 'transport-protocol': 'UDP/TLS/RTP/SAVPF', ICE: 'force', 'rtcp-mux': ['offer', 'require'], SDES: ['off'] },
  rtp: { 'transport-protocol': 'RTP/AVP', ICE: 'remove', 'rtcp-mux': ['demux'], DTLS: 'off', SDES: ['off'] },
};

const DTMF_DIGITS = '0123456789*#ABCD';

export interface RtpEngineMediaPlaneOptions {
  client: NgClient;
  /** The socket rtpengine's DTMF log is sent to (bound by {@link bindDtmfSocket}). */
  dtmfSocket: dgram.Socket;
  onError?: (err: unknown, context: string) => void;
}

/** A socket for rtpengine's DTMF log, on a free port of `host`. */
export async function bindDtmfSocket(host: string): Promise<dgram.Socket> {
  const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return socket;
}

export class RtpEngineMediaPlane implements MediaPlane {
  readonly kind = 'rtpengine';
  readonly unavailableReason = undefined;
  private readonly dtmfListeners: Array<(event: DtmfEvent) => void> = [];
  private readonly lostListeners: Array<(reason: string) => void> = [];

  private constructor(
    private readonly client: NgClient,
    private readonly dtmfSocket: dgram.Socket,
    private readonly onError: (err: unknown, context: string) => void,
  ) {
    dtmfSocket.on('message', (data) => this.onDtmfLog(data));
    dtmfSocket.on('error', (err) => onError(err, 'media:dtmf socket'));
  }

  static async start(options: RtpEngineMediaPlaneOptions): Promise<RtpEngineMediaPlane> {
    const plane = new RtpEngineMediaPlane(options.client, options.dtmfSocket, options.onError ?? (() => {}));
    await plane.deleteStale();
    return plane;
  }

  async sessions(): Promise<string[]> {
    const reply = await this.client.request('list', { limit: 100_000 });
    const calls = Array.isArray(reply.calls) ? reply.calls : [];
    return calls.filter((id): id is string => typeof id === 'string' && id.startsWith(CALL_ID_PREFIX));
  }

  /** Calls an earlier run of ours left in the relay (a crash, a kill) are deleted, so their ports come back. */
  private async deleteStale(): Promise<void> {
    for (const id of await this.sessions()) await this.delete(id);
  }

  private sdpOf(reply: { [key: string]: BValue }, command: string): string {
    if (typeof reply.sdp !== 'string') throw new Error(`rtpengine's ${command} reply carries no SDP`);
    return reply.sdp;
  }

  private params(step: SdpStep): { [key: string]: BValue | undefined } {
    return {
      'call-id': step.callId,
      'from-tag': step.fromTag,
      'to-tag': step.toTag,
      'via-branch': step.branch,
      sdp: step.sdp,
      ...PROFILE_FLAGS[step.profile],
      replace: ['origin', 'session-connection'],
      codec: { transcode: ['PCMU', 'PCMA', 'telephone-event'] },
    };
  }

  async offer(step: SdpStep): Promise<string> {
    return this.sdpOf(await this.client.request('offer', this.params(step)), 'offer');
  }

  async answer(step: SdpStep & { toTag: string }): Promise<string> {
    // rtpengine names an answer by its offer, as SIP does: from-tag is the offerer's, to-tag the answerer's.
    const { codec: _codec, ...params } = this.params({ ...step, fromTag: step.toTag, toTag: step.fromTag });
    return this.sdpOf(await this.client.request('answer', params), 'answer');
  }

  async delete(callId: string): Promise<void> {
    // delete-delay 0: the ports come back at once (rtpengine keeps a deleted call 30 s otherwise).
    await this.client.request('delete', { 'call-id': callId, 'delete-delay': 0 });
  }

  async play(callId: string, toTag: string, file: string): Promise<void> {
    // The participant named by from-tag is the one who hears the file.
    await this.client.request('play media', { 'call-id': callId, 'from-tag': toTag, file, 'repeat-times': 100_000 });
  }

  async stopPlay(callId: string, toTag: string): Promise<void> {
    await this.client.request('stop media', { 'call-id': callId, 'from-tag': toTag });
  }

  async block(callId: string, fromTag: string, blocked: boolean): Promise<void> {
    await this.client.request(blocked ? 'block media' : 'unblock media', { 'call-id': callId, 'from-tag': fromTag });
  }

  onDtmf(listener: (event: DtmfEvent) => void): void {
    this.dtmfListeners.push(listener);
  }

  onLost(listener: (reason: string) => void): void {
    this.lostListeners.push(listener);
  }

  /** The relay restarted underneath: every call it anchored lost its media. */
  lost(reason: string): void {
    for (const listener of this.lostListeners) listener(reason);
  }

  private onDtmfLog(data: Buffer): void {
    let entry: { callid?: unknown; source_tag?: unknown; event?: unknown; duration?: unknown; type?: unknown };
    try {
      entry = JSON.parse(data.toString('utf8')) as typeof entry;
    } catch {
      return;
    }
    if (typeof entry.callid !== 'string' || typeof entry.source_tag !== 'string' || typeof entry.event !== 'number') return;
    const digit = DTMF_DIGITS[entry.event];
    if (!digit) return;
    const event: DtmfEvent = { callId: entry.callid, fromTag: entry.source_tag, digit, durationMs: typeof entry.duration === 'number' ? entry.duration : 0 };
    for (const listener of this.dtmfListeners) {
      try {
        listener(event);
      } catch (err) {
        this.onError(err, 'media:dtmf listener');
      }
    }
  }

  close(): Promise<void> {
    this.dtmfSocket.close();
    return Promise.resolve();
  }
}
