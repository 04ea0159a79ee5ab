/**
 * The live connection: Socket.io namespace `/pbx` with the session's token. On connect the server sends the
 * present state through the same events it sends later, so this store is a mirror of the server's: agents,
 * queues' figures, calls in progress, and calls offered to this agent. Socket.io reconnects by itself.
 */
import { io, type Socket } from 'socket.io-client';
import { create } from 'zustand';
import type { AgentStatus } from '../lib/types.ts';
import { usePhone } from './phone.ts';

export interface LiveAgent {
  agentId: string;
  userId?: string;
  extension: string;
  status: AgentStatus;
  reason: string | null;
  since: string;
  registered?: boolean;
  pendingStatus?: string | null;
  currentCall?: { callId: string; callSessionId: string | null; from: string | null; duration: number } | null;
}

export interface LiveQueue {
  queueId: string;
  waiting: number;
  agents: number;
  available: number;
  longestWait: number;
  /** When these figures came, to count the longest wait on between updates. */
  at: number;
}

export interface LiveCall {
  callId: string;
  callSessionId: string;
  status: string;
  metadata: { direction?: string; from?: string; to?: string; queueId?: string | null; agentId?: string | null; muted?: boolean; side?: string };
}

export interface IncomingCall {
  callId: string;
  callSessionId: string;
  from: string;
  to: string;
  queueId: string | null;
  contactId?: string;
  /** An attended transfer's consultation: `from` is the agent who consults, about this caller. */
  consultation?: { caller: string };
}

export interface Ack<T = unknown> {
  ok: boolean;
  data?: T;
  error?: { code: string; message: string };
}

interface LiveState {
  connected: boolean;
  error: string | null;
  agents: Record<string, LiveAgent>;
  queues: Record<string, LiveQueue>;
  calls: Record<string, LiveCall>;
  incoming: Record<string, IncomingCall>;
  /** Counts ended calls, so that views of totals know when to read them again. */
  endedCalls: number;
  /** performance.now() of the last server event, for the wallboard's latency figure. */
  lastEventAt: number;
  connect(token: string): void;
  disconnect(): void;
  emit<T>(event: string, payload: unknown): Promise<Ack<T>>;
}

let socket: Socket | null = null;

export const useLive = create<LiveState>()((set, get) => ({
  connected: false,
  error: null,
  agents: {},
  queues: {},
  calls: {},
  incoming: {},
  endedCalls: 0,
  lastEventAt: 0,

  connect(token) {
    if (socket) return;
    const s = io('/pbx', { auth: { token }, transports: ['websocket'], reconnectionDelayMax: 10_000 });
    socket = s;
    const stamp = () => ({ lastEventAt: performance.now() });
    s.on('connect', () => set({ connected: true, error: null, agents: {}, queues: {}, calls: {} }));
    s.on('disconnect', (reason) => set({ connected: false, error: reason === 'io client disconnect' ? null : `Disconnected (${reason}); reconnecting` }));
    s.on('connect_error', (err) => set({ connected: false, error: err.message }));
    s.on('agent:status:updated', (a: LiveAgent) => set((st) => ({ ...stamp(), agents: { ...st.agents, [a.agentId]: { ...st.agents[a.agentId], ...a } } })));
    s.on('presence:update', (a: LiveAgent) =>
      set((st) => ({ ...stamp(), agents: { ...st.agents, [a.agentId]: { ...st.agents[a.agentId], ...a, currentCall: a.currentCall ?? null } } })),
    );
    s.on('queue:update', (q: Omit<LiveQueue, 'at'>) => set((st) => ({ ...stamp(), queues: { ...st.queues, [q.queueId]: { ...q, at: Date.now() } } })));
    s.on('call:state:changed', (c: LiveCall) => set((st) => ({ ...stamp(), calls: { ...st.calls, [c.callId]: { ...st.calls[c.callId], ...c, metadata: { ...st.calls[c.callId]?.metadata, ...c.metadata } } } })));
    s.on('call:ended', (e: { callId: string }) =>
      set((st) => {
        const { [e.callId]: _call, ...calls } = st.calls;
        const { [e.callId]: _incoming, ...incoming } = st.incoming;
        return { ...stamp(), calls, incoming, endedCalls: st.endedCalls + 1 };
      }),
    );
    s.on('call:incoming', (c: IncomingCall) => set((st) => ({ ...stamp(), incoming: { ...st.incoming, [c.callId]: c } })));
    s.on('call:answer', (e: { callId: string }) => usePhone.getState().answerRemote(e.callId));
  },

  disconnect() {
    socket?.disconnect();
    socket = null;
    set({ connected: false, error: null, agents: {}, queues: {}, calls: {}, incoming: {} });
  },

  emit<T>(event: string, payload: unknown): Promise<Ack<T>> {
    const s = socket;
    if (!s || !get().connected) return Promise.resolve({ ok: false, error: { code: 'OFFLINE', message: 'Not connected to the server' } });
    return s.timeout(10_000).emitWithAck(event, payload).catch(() => ({ ok: false, error: { code: 'TIMEOUT', message: 'The server did not answer' } })) as Promise<Ack<T>>;
  },
}));
