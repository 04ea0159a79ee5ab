/**
 * The browser softphone: a JsSIP user agent registered over SIP over WebSocket (`/sip` on this origin) with
 * short-lived credentials the server issues to the logged-in user (POST /api/pbx/softphone/credentials), so the
 * extension's permanent secret never reaches the browser.
 *
 * status: `connecting` (socket or registration under way), `connected` (registered), `disconnected` (with the
 * reason in `error`). JsSIP reconnects a dropped socket by itself, with a growing pause (2 s up to 30 s), and
 * registers again once it is back. A refused registration (the short-lived password expired, or the server's
 * secret changed) fetches new credentials and starts again once.
 *
 * One call at a time, as an agent works: a second incoming call while on one is answered busy by the phone.
 * Hold, mute and transfer are done by the server (REST), so the other party hears music and the agent's own
 * audio is cut in the relay, whatever the other party's device.
 */
import JsSIP from 'jssip';
import type { RTCSession } from 'jssip/lib/RTCSession';
import type { IncomingRTCSessionEvent, RTCSessionEvent } from 'jssip/lib/UA';
import { create } from 'zustand';
import { ApiError, errorText, post } from '../lib/api.ts';
import { fullName, type SoftphoneCredentials } from '../lib/types.ts';
import { useAuth } from './auth.ts';

/** The header the server names its call id in (INVITEs to us, answers to our INVITEs). */
const CALL_HEADER = 'X-Switchboard-Call';

export type PhoneStatus = 'disconnected' | 'connecting' | 'connected';

export interface PhoneCall {
  /** The server's call id, once known: what the call-control API and the live events name. */
  callId: string | null;
  direction: 'incoming' | 'outgoing';
  remote: string;
  remoteName: string | null;
  state: 'ringing' | 'calling' | 'established' | 'ended';
  startedAt: number;
  answeredAt: number | null;
  endedAt: number | null;
  cause: string | null;
}

interface PhoneState {
  status: PhoneStatus;
  error: string | null;
  microphone: 'unknown' | 'granted' | 'denied';
  extension: string | null;
  call: PhoneCall | null;
  /** Digits sent during the call, for the keypad's display. */
  dtmf: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  dial(target: string): void;
  answer(): void;
  /** Answers the ringing call if it is this server call (the manager's or the API's remote answer). */
  answerRemote(callId: string): void;
  reject(): void;
  hangup(): void;
  sendDtmf(digit: string): void;
  clearEnded(): void;
}

let ua: JsSIP.UA | null = null;
let session: RTCSession | null = null;
let domain = '';
let generation = 0;
let retriedAuth = false;
const audio = typeof Audio === 'undefined' ? null : new Audio();
if (audio) audio.autoplay = true;

function displayName(): string | undefined {
  const user = useAuth.getState().session?.user;
  return user ? fullName(user) || undefined : undefined;
}

function websocketUrl(path: string): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${path}`;
}

function playRemote(pc: RTCPeerConnection): void {
  const attach = (e: RTCTrackEvent) => {
    if (audio) audio.srcObject = e.streams[0] ?? new MediaStream([e.track]);
  };
  pc.addEventListener('track', attach);
}

async function askMicrophone(): Promise<'granted' | 'denied'> {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    for (const t of stream.getTracks()) t.stop();
    return 'granted';
  } catch {
    return 'denied';
  }
}

export const usePhone = create<PhoneState>()((set, get) => {
  const patchCall = (patch: Partial<PhoneCall>) => {
    const call = get().call;
    if (call) set({ call: { ...call, ...patch } });
  };

  const track = (s: RTCSession, call: PhoneCall) => {
    session = s;
    set({ call, dtmf: '' });
    s.on('peerconnection', (e) => playRemote(e.peerconnection as unknown as RTCPeerConnection));
    const connection = (s as unknown as { connection?: RTCPeerConnection }).connection;
    if (connection) playRemote(connection);
    const learnCallId = (e: unknown) => {
      const header = (e as { response?: { getHeader(name: string): string | undefined } }).response?.getHeader(CALL_HEADER);
      if (header && session === s && !get().call?.callId) patchCall({ callId: header });
    };
    s.on('progress', learnCallId);
    s.on('accepted', (e: unknown) => {
      learnCallId(e);
      if (session === s) patchCall({ state: 'established', answeredAt: Date.now() });
    });
    s.on('confirmed', () => {
      if (session === s && get().call?.state !== 'established') patchCall({ state: 'established', answeredAt: Date.now() });
    });
    const ended = (e: { cause?: string }) => {
      if (session !== s) return;
      session = null;
      patchCall({ state: 'ended', endedAt: Date.now(), cause: e.cause ?? null });
    };
    s.on('ended', ended);
    s.on('failed', ended);
  };

  const startUa = async (gen: number) => {
    const credentials = await post<SoftphoneCredentials>('/api/pbx/softphone/credentials');
    if (gen !== generation) return;
    const socket = new JsSIP.WebSocketInterface(websocketUrl(credentials.websocketPath));
    const agent = new JsSIP.UA({
      sockets: [socket],
      uri: `sip:${credentials.extension}@${credentials.domain}`,
      authorization_user: credentials.username,
      password: credentials.password,
      realm: credentials.realm,
      display_name: displayName(),
      register: true,
      register_expires: 300,
      session_timers: false,
      user_agent: 'Switchboard web softphone',
      connection_recovery_min_interval: 2,
      connection_recovery_max_interval: 30,
    });
    ua = agent;
    domain = credentials.domain;
    set({ extension: credentials.extension });
    const current = () => ua === agent && gen === generation;
    agent.on('connecting', () => current() && get().status !== 'connected' && set({ status: 'connecting' }));
    agent.on('disconnected', (e) => {
      if (!current()) return;
      set({ status: 'disconnected', error: `Connection to the server lost${e.code ? ` (${e.code})` : ''}; reconnecting` });
    });
    agent.on('registered', () => {
      if (!current()) return;
      retriedAuth = false;
      set({ status: 'connected', error: null });
    });
    agent.on('unregistered', () => current() && set({ status: 'disconnected', error: 'Not registered' }));
    agent.on('registrationFailed', (e) => {
      if (!current()) return;
      const cause = String(e.cause ?? 'registration failed');
      set({ status: 'disconnected', error: `Registration failed: ${cause}` });
      // Expired or revoked short-lived credentials: fetch new ones, once.
      if (!retriedAuth && (cause === JsSIP.C.causes.REJECTED || cause === JsSIP.C.causes.AUTHENTICATION_ERROR)) {
        retriedAuth = true;
        void restart();
      }
    });
    agent.on('newRTCSession', (e: RTCSessionEvent) => {
      if (e.originator !== 'remote') return;
      const incoming = e as IncomingRTCSessionEvent;
      if (session) {
        incoming.session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
        return;
      }
      const from = incoming.request.from;
      track(incoming.session, {
        callId: incoming.request.getHeader(CALL_HEADER) ?? null,
        direction: 'incoming',
        remote: from.uri.user ?? '',
        remoteName: from.display_name || null,
        state: 'ringing',
        startedAt: Date.now(),
        answeredAt: null,
        endedAt: null,
        cause: null,
      });
    });
    agent.start();
  };

  const restart = async () => {
    const gen = ++generation;
    ua?.stop();
    ua = null;
    try {
      await startUa(gen);
    } catch (err) {
      if (gen === generation) set({ status: 'disconnected', error: err instanceof ApiError ? err.message : errorText(err) });
    }
  };

  return {
    status: 'disconnected',
    error: null,
    microphone: 'unknown',
    extension: null,
    call: null,
    dtmf: '',

    async start() {
      if (ua) return;
      set({ status: 'connecting', error: null });
      retriedAuth = false;
      const microphone = await askMicrophone();
      set({ microphone });
      await restart();
    },

    async stop() {
      generation++;
      const agent = ua;
      ua = null;
      session = null;
      set({ status: 'disconnected', error: null, call: null, extension: null });
      if (!agent) return;
      // JsSIP unregisters first and closes the socket when the REGISTER transaction is done.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2000);
        agent.on('unregistered', () => {
          clearTimeout(timer);
          resolve();
        });
        agent.stop();
        if (!agent.isRegistered()) {
          clearTimeout(timer);
          resolve();
        }
      });
    },

    dial(target) {
      if (!ua || session) return;
      const s = ua.call(`sip:${target}@${domain}`, { mediaConstraints: { audio: true, video: false } });
      track(s, { callId: null, direction: 'outgoing', remote: target, remoteName: null, state: 'calling', startedAt: Date.now(), answeredAt: null, endedAt: null, cause: null });
    },

    answer() {
      if (session && get().call?.state === 'ringing') session.answer({ mediaConstraints: { audio: true, video: false } });
    },

    answerRemote(callId) {
      const call = get().call;
      if (call?.state === 'ringing' && call.callId === callId) get().answer();
    },

    reject() {
      if (session && get().call?.state === 'ringing') session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
    },

    hangup() {
      if (session && !session.isEnded()) session.terminate();
    },

    sendDtmf(digit) {
      if (!session || get().call?.state !== 'established') return;
      session.sendDTMF(digit, { duration: 120 });
      set({ dtmf: (get().dtmf + digit).slice(-24) });
    },

    clearEnded() {
      if (get().call?.state === 'ended') set({ call: null, dtmf: '' });
    },
  };
});

/** For the browser tests and the curious: the live peer connection of the call, if any. */
export function currentPeerConnection(): RTCPeerConnection | null {
  return (session as unknown as { connection?: RTCPeerConnection } | null)?.connection ?? null;
}

/** What WebRTC says of the call's audio: packets each way and the energy received (for support and tests). */
export async function callAudioStats(): Promise<{ packetsReceived: number; packetsSent: number; totalAudioEnergy: number; audioLevel: number } | null> {
  const pc = currentPeerConnection();
  if (!pc) return null;
  const out = { packetsReceived: 0, packetsSent: 0, totalAudioEnergy: 0, audioLevel: 0 };
  (await pc.getStats()).forEach((r: { type: string; kind?: string; packetsReceived?: number; packetsSent?: number; totalAudioEnergy?: number; audioLevel?: number }) => {
    if (r.type === 'inbound-rtp' && r.kind === 'audio') Object.assign(out, { packetsReceived: r.packetsReceived ?? 0, totalAudioEnergy: r.totalAudioEnergy ?? 0, audioLevel: r.audioLevel ?? 0 });
    if (r.type === 'outbound-rtp' && r.kind === 'audio') out.packetsSent = r.packetsSent ?? 0;
  });
  return out;
}
