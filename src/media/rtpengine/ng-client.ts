/**
 * rtpengine's ng control protocol: each request is `COOKIE <bencoded dictionary>` in one UDP datagram, and the reply
 * carries the same cookie. Requests are retried on silence (UDP may lose them; rtpengine answers a repeated cookie
 * from its cache, so a retry never runs a command twice) and fail after a deadline. A reply with
 * `result: error` becomes an {@link RtpEngineError} with rtpengine's reason.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { type BValue, decode, encode } from './bencode.ts';

export class RtpEngineError extends Error {
  override readonly name = 'RtpEngineError';
  constructor(
    message: string,
    readonly command: string,
  ) {
    super(message);
  }
}

export type NgReply = { [key: string]: BValue };

export interface NgClientOptions {
  host: string;
  port: number;
  /** Wait this long for a reply before sending again. */
  retryMs?: number;
  /** Give up after this many sends. */
  attempts?: number;
}

export class NgClient {
  private readonly socket: dgram.Socket;
  private readonly pending = new Map<string, { resolve: (r: NgReply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout | undefined }>();
  private closed = false;

  private constructor(
    private readonly options: NgClientOptions,
    socket: dgram.Socket,
  ) {
    this.socket = socket;
    socket.on('message', (data) => this.onReply(data));
    socket.on('error', () => {});
  }

  /** Sends to another port from now on (a daemon started again on a fresh port). */
  retarget(port: number): void {
    this.options.port = port;
  }

  static async connect(options: NgClientOptions): Promise<NgClient> {
    const socket = dgram.createSocket(options.host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve) => socket.bind(0, options.host.includes(':') ? '::1' : '127.0.0.1', () => resolve()));
    return new NgClient(options, socket);
  }

  private onReply(data: Buffer): void {
    const space = data.indexOf(0x20);
    if (space <= 0) return;
    const cookie = data.toString('latin1', 0, space);
    const waiter = this.pending.get(cookie);
    if (!waiter) return;
    this.pending.delete(cookie);
    clearTimeout(waiter.timer);
    try {
      const reply = decode(data.subarray(space + 1));
      if (typeof reply !== 'object' || Array.isArray(reply)) throw new Error('reply is not a dictionary');
      waiter.resolve(reply);
    } catch (err) {
      waiter.reject(new RtpEngineError(`unreadable reply: ${(err as Error).message}`, 'unknown'));
    }
  }

  /** Sends a command and answers rtpengine's reply dictionary; `result: error` rejects. */
  async request(command: string, params: { [key: string]: BValue | undefined } = {}): Promise<NgReply> {
    if (this.closed) throw new RtpEngineError('the ng client is closed', command);
    const cookie = randomBytes(8).toString('hex');
    const body: { [key: string]: BValue } = { command };
    for (const [k, v] of Object.entries(params)) if (v !== undefined) body[k] = v;
    const datagram = Buffer.concat([Buffer.from(`${cookie} `), encode(body)]);
    const retryMs = this.options.retryMs ?? 500;
    const attempts = this.options.attempts ?? 4;
    const reply = await new Promise<NgReply>((resolve, reject) => {
      const entry = { resolve, reject, timer: undefined as NodeJS.Timeout | undefined };
      this.pending.set(cookie, entry);
      let sent = 0;
      const send = () => {
        if (sent >= attempts) {
          this.pending.delete(cookie);
          reject(new RtpEngineError(`no answer from rtpengine at ${this.options.host}:${this.options.port} to '${command}'`, command));
          return;
        }
        sent++;
        this.socket.send(datagram, this.options.port, this.options.host);
        // The timer's turn comes before the socket's: on a busy loop it can fire with the reply already waiting
        // unread. Deferred to after the poll phase, the reply is read first and no retry (nor a give-up) is wasted.
        entry.timer = setTimeout(() => setImmediate(() => {
          if (this.pending.has(cookie)) send();
        }), retryMs);
      };
      send();
    });
    if (reply.result === 'error') {
      throw new RtpEngineError(`rtpengine refused '${command}': ${String(reply['error-reason'] ?? 'no reason given')}`, command);
    }
    return reply;
  }

  /** True when rtpengine answers `ping` with `pong`. */
  async ping(): Promise<boolean> {
    try {
      return (await this.request('ping')).result === 'pong';
    } catch {
      return false;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [, waiter] of this.pending) {
      clearTimeout(waiter.timer);
      waiter.reject(new RtpEngineError('the ng client closed', 'unknown'));
    }
    this.pending.clear();
    this.socket.close();
  }
}
