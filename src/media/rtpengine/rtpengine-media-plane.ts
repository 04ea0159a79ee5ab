/**
 * The media plane on rtpengine: every call is anchored. Each SDP is rewritten for the side it goes to (a browser
 * gets UDP/TLS/RTP/SAVPF with ICE, DTLS and rtcp-mux; a phone plain RTP/AVP), G.711 and telephone-event are added
 * for transcoding when the two sides share no codec, and forks of a ringing call are branches of one media session.
 * DTMF arrives as JSON datagrams from rtpengine's DTMF log (its `dtmf-log-dest` pointed at our socket).
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import type { BValue } from './bencode.ts';
import type { NgClient } from './ng-client.ts';
import { type DtmfEvent, type FinishedRecording, type MediaPlane, type MediaProfile, MediaUnavailableError, type SdpStep } from '../media-plane.ts';
import { mixdown } from '../recording/mixdown.ts';
import { type CapturedDatagram, readPcap } from '../recording/pcap.ts';
import { withoutTelephoneEvent } from '../sdp.ts';

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
  /** rtpengine's `--recording-dir` (pcap method), when recordings are possible: it must be readable here. */
  recordingDir?: string;
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
  private readonly recordingListeners: Array<(recording: FinishedRecording) => void> = [];
  /** Calls being recorded: the tags of the left and right channels, and the relay ports each one sent to. */
  private readonly recorded = new Map<string, { channels: [string, string]; ports: Map<number, 0 | 1> }>();
  /** Deletes under way: closing waits for them, so no recording is left unfinished by a shutdown. */
  private readonly deleting = new Set<Promise<void>>();

  private constructor(
    private readonly client: NgClient,
    private readonly dtmfSocket: dgram.Socket,
    private readonly onError: (err: unknown, context: string) => void,
    private readonly recordingDir: string | undefined,
  ) {
    dtmfSocket.on('message', (data) => this.onDtmfLog(data));
    dtmfSocket.on('error', (err) => onError(err, 'media:dtmf socket'));
  }

  static async start(options: RtpEngineMediaPlaneOptions): Promise<RtpEngineMediaPlane> {
    const plane = new RtpEngineMediaPlane(options.client, options.dtmfSocket, options.onError ?? (() => {}), options.recordingDir);
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
    const dtmf = step.dtmf;
    // `inject DTMF` (in offer and answer) lets `play DTMF` add events later. A side that takes tones only never
    // learns of telephone-event: an offer to it has it masked (the other side may still send events), and its own
    // SDP (a carrier's offer or answer) loses it before the relay reads it. With `codec strip` instead, rtpengine
    // 10.5 answered a carrier that offered telephone-event with it and relayed the phone's events, since transcoding
    // toward the phone re-adds what was stripped. `always transcode` makes the relay decode the audio it puts the
    // other side's events into as tones (verified with rtpengine 10.5: without it, events to a masked side pass
    // through untouched).
    const flags = [...(dtmf?.inject ? ['inject DTMF'] : []), ...(dtmf?.tones ? ['always transcode'] : [])];
    const events = dtmf?.tones === 'receiver' ? [] : ['telephone-event'];
    const codec: { [key: string]: BValue } = {};
    if (step.codecs) codec.mask = ['all'];
    else if (events.length === 0) codec.mask = ['telephone-event'];
    codec.transcode = [...(step.codecs ?? ['PCMU', 'PCMA']), ...events];
    return {
      'call-id': step.callId,
      'from-tag': step.fromTag,
      'to-tag': step.toTag,
      'via-branch': step.branch,
      sdp: dtmf?.tones === 'sender' ? withoutTelephoneEvent(step.sdp) : step.sdp,
      ...PROFILE_FLAGS[step.profile],
      replace: ['origin', 'session-connection'],
      flags: flags.length > 0 ? flags : undefined,
      codec,
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

  delete(callId: string): Promise<void> {
    const job = this.deleteNow(callId);
    this.deleting.add(job);
    const forget = () => void this.deleting.delete(job);
    job.then(forget, forget);
    return job;
  }

  private async deleteNow(callId: string): Promise<void> {
    const recording = this.recorded.get(callId);
    if (recording) await this.learnPorts(callId).catch((err: unknown) => this.onError(err, 'media:recording ports'));
    // delete-delay 0: the ports come back at once (rtpengine keeps a deleted call 30 s otherwise).
    await this.client.request('delete', { 'call-id': callId, 'delete-delay': 0 });
    if (recording) {
      this.recorded.delete(callId);
      this.finishRecording(callId, (port) => recording.ports.get(port));
    }
  }

  async startRecording(callId: string, channels: [string, string]): Promise<void> {
    if (!this.recordingDir) throw new MediaUnavailableError('Recording a call', 'the relay\'s recordings are not readable here (an external rtpengine)');
    if (!this.recorded.has(callId)) this.recorded.set(callId, { channels, ports: new Map() });
    await this.client.request('start recording', { 'call-id': callId });
    await this.learnPorts(callId);
  }

  async stopRecording(callId: string): Promise<void> {
    if (!this.recorded.has(callId)) return;
    await this.learnPorts(callId);
    await this.client.request('stop recording', { 'call-id': callId });
  }

  /** Which relay ports each recorded party sends to (a re-INVITE may add some): their packets make its channel. */
  private async learnPorts(callId: string): Promise<void> {
    const recording = this.recorded.get(callId);
    if (!recording) return;
    const reply = await this.client.request('query', { 'call-id': callId });
    const tags = (reply.tags ?? {}) as { [tag: string]: BValue };
    for (const [index, tag] of recording.channels.entries()) {
      const monologue = tags[tag] as { medias?: Array<{ streams?: Array<{ 'local port'?: number }> }> } | undefined;
      for (const media of monologue?.medias ?? []) {
        for (const stream of media.streams ?? []) if (typeof stream['local port'] === 'number') recording.ports.set(stream['local port'], index as 0 | 1);
      }
    }
  }

  /** The pcap files rtpengine wrote for a call become one recording; the files are removed once it is handed on. */
  private finishRecording(callId: string, channelOf: (port: number) => 0 | 1 | undefined): void {
    const dir = this.recordingDir;
    if (!dir) return;
    try {
      const pcaps = path.join(dir, 'pcaps');
      const files = fs.existsSync(pcaps) ? fs.readdirSync(pcaps).filter((f) => f.startsWith(`${callId}-`) && f.endsWith('.pcap')) : [];
      const datagrams: CapturedDatagram[] = [];
      for (const file of files) datagrams.push(...readPcap(fs.readFileSync(path.join(pcaps, file))));
      const finished: FinishedRecording = { callId, mixdown: mixdown(datagrams, channelOf) };
      for (const listener of this.recordingListeners) listener(finished);
      for (const file of files) fs.rmSync(path.join(pcaps, file), { force: true });
      const metadata = path.join(dir, 'metadata');
      if (fs.existsSync(metadata)) for (const f of fs.readdirSync(metadata)) if (f.includes(`-${callId}-`)) fs.rmSync(path.join(metadata, f), { force: true });
    } catch (err) {
      this.onError(err, 'media:recording');
    }
  }

  onRecording(listener: (recording: FinishedRecording) => void): void {
    this.recordingListeners.push(listener);
  }

  async recoverRecordings(live: (callId: string) => boolean): Promise<void> {
    const pcaps = this.recordingDir ? path.join(this.recordingDir, 'pcaps') : undefined;
    if (!pcaps || !fs.existsSync(pcaps)) return;
    const calls = new Set(fs.readdirSync(pcaps).filter((f) => f.startsWith(CALL_ID_PREFIX) && f.endsWith('.pcap')).map((f) => f.slice(0, f.lastIndexOf('-'))));
    for (const callId of calls) {
      if (live(callId) || this.recorded.has(callId)) continue;
      // Who sent to which port is no longer known: the first party heard is the left channel.
      const order: number[] = [];
      this.finishRecording(callId, (port) => {
        if (!order.includes(port) && order.length < 2) order.push(port);
        const index = order.indexOf(port);
        return index < 0 ? undefined : (index as 0 | 1);
      });
    }
    await Promise.resolve();
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

  async playDtmf(callId: string, fromTag: string, digit: string, durationMs: number): Promise<void> {
    // The participant named by from-tag is the one who presses the key; its peer hears it.
    await this.client.request('play DTMF', { 'call-id': callId, 'from-tag': fromTag, code: digit, duration: Math.min(5000, Math.max(100, durationMs)) });
  }

  async blockDtmf(callId: string, fromTag: string): Promise<void> {
    await this.client.request('block DTMF', { 'call-id': callId, 'from-tag': fromTag });
  }

  async activity(callId: string): Promise<number | undefined> {
    let reply: { [key: string]: BValue };
    try {
      reply = await this.client.request('query', { 'call-id': callId });
    } catch {
      // A call the relay does not hold (deleted, never offered), or a relay restarting: nothing to tell.
      return undefined;
    }
    // `totals` counts what the relay received from the parties, over every stream; what it plays to them is not in it.
    const totals = reply.totals as { RTP?: { packets?: BValue }; RTCP?: { packets?: BValue } } | undefined;
    const rtp = totals?.RTP?.packets;
    const rtcp = totals?.RTCP?.packets;
    if (typeof rtp !== 'number') return undefined;
    return rtp + (typeof rtcp === 'number' ? rtcp : 0);
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

  async close(): Promise<void> {
    await Promise.allSettled([...this.deleting]);
    this.dtmfSocket.close();
  }
}
