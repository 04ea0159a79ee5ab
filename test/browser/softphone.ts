/// <reference lib="dom" />
/**
 * A JsSIP softphone for browser tests, bundled by the test and run in Chromium: it registers over SIP over WebSocket,
 * calls or answers, and reports what WebRTC says of the audio it receives. It keeps every call it had, by index (the
 * order they began in), so a test can hold one, place another and join them by REFER with Replaces.
 */
import JsSIP from 'jssip';

type Session = InstanceType<typeof JsSIP.UA> extends { call(...args: never[]): infer S } ? S : never;

interface CallState {
  established: boolean;
  ended?: string;
  failed?: string;
  /** How the last REFER sent in this call went: `accepted` (a NOTIFY said 2xx), or why it did not. */
  refer?: string;
}

interface PhoneState extends CallState {
  registered: boolean;
  registrationError?: string;
  incoming: number;
  /** Every call, in the order they began; the fields above are the last one's. */
  calls: CallState[];
}

const state: PhoneState = { registered: false, incoming: 0, established: false, calls: [] };
let ua: InstanceType<typeof JsSIP.UA> | undefined;
let session: Session | undefined;
const sessions: Session[] = [];
const audio = new Audio();
audio.autoplay = true;

function track(s: Session): number {
  session = s;
  sessions.push(s);
  const call: CallState = { established: false };
  state.calls.push(call);
  state.established = false;
  state.ended = undefined;
  state.failed = undefined;
  const last = () => session === s;
  s.on('confirmed', () => {
    call.established = true;
    if (last()) state.established = true;
  });
  s.on('ended', (e: { cause: string }) => {
    call.ended = e.cause;
    if (last()) state.ended = e.cause;
  });
  s.on('failed', (e: { cause: string }) => {
    call.failed = e.cause;
    if (last()) state.failed = e.cause;
  });
  s.on('peerconnection', (e: { peerconnection: RTCPeerConnection }) => {
    e.peerconnection.addEventListener('track', (t: RTCTrackEvent) => (audio.srcObject = t.streams[0] ?? new MediaStream([t.track])));
  });
  // An outgoing call has its peer connection at once.
  const pc = (s as unknown as { connection?: RTCPeerConnection }).connection;
  pc?.addEventListener('track', (t: RTCTrackEvent) => (audio.srcObject = t.streams[0] ?? new MediaStream([t.track])));
  return sessions.length - 1;
}

function nth(index: number): Session {
  const s = sessions[index];
  if (!s) throw new Error(`no call ${index}`);
  return s;
}

const phone = {
  state,
  start(config: { ws: string; uri: string; password: string }): void {
    ua = new JsSIP.UA({ sockets: [new JsSIP.WebSocketInterface(config.ws)], uri: config.uri, password: config.password, register: true, session_timers: false });
    ua.on('registered', () => (state.registered = true));
    ua.on('registrationFailed', (e) => (state.registrationError = String(e.cause)));
    ua.on('newRTCSession', (e: { originator: string; session: Session }) => {
      if (e.originator !== 'remote') return;
      state.incoming++;
      track(e.session);
    });
    ua.start();
  },
  /** Places a call; answers its index. */
  call(target: string): number {
    if (!ua) throw new Error('not started');
    return track(ua.call(target, { mediaConstraints: { audio: true, video: false }, pcConfig: { iceServers: [] } }));
  },
  /** Holds call `index` (a re-INVITE with a=sendonly). */
  hold(index: number): void {
    nth(index).hold();
  },
  /** REFER in call `index` to `target`, with Replaces naming call `replaces` when given (an attended transfer). */
  refer(index: number, target: string, replaces?: number): void {
    const call = state.calls[index] as CallState;
    call.refer = 'sent';
    nth(index).refer(target, {
      ...(replaces === undefined ? {} : { replaces: nth(replaces) }),
      eventHandlers: {
        requestFailed: (e: { response?: { status_code: number } }) => (call.refer = `refused ${e.response?.status_code ?? ''}`.trim()),
        accepted: () => (call.refer = 'accepted'),
        failed: (e: { status_line?: { status_code: number } }) => (call.refer = `failed ${e.status_line?.status_code ?? ''}`.trim()),
      },
    } as never);
  },
  /** Hangs up call `index`, or the last one. */
  hangupCall(index: number): void {
    nth(index).terminate();
  },
  answer(): void {
    session?.answer({ mediaConstraints: { audio: true, video: false }, pcConfig: { iceServers: [] } });
  },
  hangup(): void {
    session?.terminate();
  },
  /** What the peer connection received: packets and audio energy of the inbound audio. */
  async stats(): Promise<{ packetsReceived: number; totalAudioEnergy: number; audioLevel: number; packetsSent: number; codec?: string }> {
    const pc = (session as unknown as { connection?: RTCPeerConnection } | undefined)?.connection;
    const out = { packetsReceived: 0, totalAudioEnergy: 0, audioLevel: 0, packetsSent: 0, codec: undefined as string | undefined };
    if (!pc) return out;
    const report = await pc.getStats();
    const codecs = new Map<string, string>();
    report.forEach((r: { type: string; id: string; mimeType?: string }) => {
      if (r.type === 'codec' && r.mimeType) codecs.set(r.id, r.mimeType);
    });
    report.forEach((r: { type: string; kind?: string; packetsReceived?: number; totalAudioEnergy?: number; audioLevel?: number; packetsSent?: number; codecId?: string }) => {
      if (r.type === 'inbound-rtp' && r.kind === 'audio') {
        out.packetsReceived = r.packetsReceived ?? 0;
        out.totalAudioEnergy = r.totalAudioEnergy ?? 0;
        out.audioLevel = r.audioLevel ?? 0;
        if (r.codecId) out.codec = codecs.get(r.codecId);
      }
      if (r.type === 'outbound-rtp' && r.kind === 'audio') out.packetsSent = r.packetsSent ?? 0;
    });
    return out;
  },
  /**
   * Which of `frequencies` dominates what the phone hears over the next `ms` (the received track through an analyser,
   * the power within 15 Hz of each summed), with each one's share of that power.
   */
  async dominant(frequencies: number[], ms: number): Promise<{ frequency: number; share: number }> {
    const stream = audio.srcObject as MediaStream | null;
    if (!stream) return { frequency: 0, share: 0 };
    const context = new AudioContext();
    await context.resume();
    const analyser = context.createAnalyser();
    analyser.fftSize = 16_384;
    context.createMediaStreamSource(stream).connect(analyser);
    // Pulled through to the output (silenced), so the graph runs on a machine without speakers too.
    const mute = context.createGain();
    mute.gain.value = 0;
    analyser.connect(mute).connect(context.destination);
    const bins = new Float32Array(analyser.frequencyBinCount);
    const power = frequencies.map(() => 0);
    const binHz = context.sampleRate / analyser.fftSize;
    for (let t = 0; t < ms; t += 100) {
      await new Promise((r) => setTimeout(r, 100));
      analyser.getFloatFrequencyData(bins);
      frequencies.forEach((f, k) => {
        for (let i = Math.floor((f - 15) / binHz); i <= Math.ceil((f + 15) / binHz); i++) power[k] = (power[k] as number) + 10 ** ((bins[i] ?? -200) / 10);
      });
    }
    await context.close();
    const total = power.reduce((a, b) => a + b, 0);
    const best = power.indexOf(Math.max(...power));
    return { frequency: frequencies[best] as number, share: total > 0 ? (power[best] as number) / total : 0 };
  },
  stop(): void {
    ua?.stop();
  },
};

(window as unknown as { phone: typeof phone }).phone = phone;
