/**
 * A socket.io-client on the live API (`/pbx`), recording every event it receives in order, with acknowledged
 * client events as promises.
 */
import { io, type Socket } from 'socket.io-client';
import { eventually } from './wait.ts';

export interface LiveEvent {
  name: string;
  data: Record<string, unknown>;
}

export interface LiveClient {
  socket: Socket;
  events: LiveEvent[];
  /** Sends a client event and answers its acknowledgement. */
  ask(name: string, payload: unknown): Promise<{ ok: boolean; data?: Record<string, unknown>; error?: { code: string; message: string } }>;
  /** The first event `name` received since `from` that matches. */
  next(name: string, match?: (data: Record<string, unknown>) => boolean, from?: number): Promise<Record<string, unknown>>;
  close(): void;
}

/** Connects with `token` and waits for the connection (or its refusal, thrown with the server's error code). */
export async function connectLive(url: string, token: string | undefined): Promise<LiveClient> {
  const socket = io(`${url}/pbx`, { auth: token === undefined ? {} : { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  const events: LiveEvent[] = [];
  socket.onAny((name: string, data: Record<string, unknown>) => void events.push({ name, data }));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (err: Error & { data?: { code?: string } }) => {
      socket.close();
      reject(Object.assign(new Error(`${err.data?.code ?? 'connect_error'}: ${err.message}`), { code: err.data?.code }));
    });
  });
  return {
    socket,
    events,
    ask: (name, payload) => socket.timeout(10_000).emitWithAck(name, payload),
    next: (name, match = () => true, from = 0) =>
      eventually(`live event ${name}`, () => events.slice(from).find((e) => e.name === name && match(e.data))?.data),
    close: () => void socket.close(),
  };
}
