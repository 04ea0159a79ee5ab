/// <reference lib="dom" />
/**
 * A JsSIP softphone for browser tests, bundled by the test and run in Chromium: it registers over SIP over WebSocket,
 * calls or answers, and reports what WebRTC says of the audio it receives.
 */
import JsSIP from 'jssip';

type Session = InstanceType<typeof JsSIP.UA> extends { call(...args: never[]): infer S } ? S : never;

interface PhoneState {
  registered: boolean;
  registrationError?: string;
  incoming: number;
  established: boolean;
  ended?: string;
  failed?: string;
}

const state: PhoneState = { registered: false, incoming: 0, established: false };
let ua: InstanceType<typeof JsSIP.UA> | undefined;
let session: Session | undefined;
const audio = new Audio();
audio.autoplay = true;

function track(s: Session): void {
  session = s;
  state.established = false;
  state.ended = undefined;
  state.failed = undefined;
  s.on('confirmed', () => (state.established = true));
  s.on('ended', (e: { cause: string }) => (state.ended = e.cause));
  s.on('failed', (e: { cause: string }) => (state.failed = e.cause));
  s.on('peerconnection', (e: { peerconnection: RTCPeerConnection }) => {
    e.peerconnection.addEventListener('track', (t: RTCTrackEvent) => (audio.srcObject = t.streams[0] ?? new MediaStream([t.track])));
  });
  // An outgoing call has its peer connection at once.
  const pc = (s as unknown as { connection?: RTCPeerConnection }).connection;
  pc?.addEventListener('track', (t: RTCTrackEvent) => (audio.srcObject = t.streams[0] ?? new MediaStream([t.track])));
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
  call(target: string): void {
    if (!ua) throw new Error('not started');
    track(ua.call(target, { mediaConstraints: { audio: true, video: false }, pcConfig: { iceServers: [] } }));
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
  stop(): void {
    ua?.stop();
  },
};

(window as unknown as { phone: typeof phone }).phone = phone;
