/**
 * SIP transports (RFC 3261 section 18): UDP, and TCP or TLS streams, each listening on its own socket. Incoming bytes
 * become parsed messages or parse failures for the layer above; nothing a peer sends can throw out of here.
 * Connections are bounded in number, in total and per source address, and a connection must finish each message it
 * starts (its first one counted from its opening) within a time, or it is closed: a flood of sockets, or of sockets
 * that send half a message and wait, cannot exhaust the process. CRLF keepalives (RFC 5626 section 4.4.1) start
 * no message, so a registered flow that only pings between requests is kept.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { MAX_MESSAGE_SIZE, parseDatagram, type ParseResult, StreamParser } from '../message/index.ts';
import type { Flow, TransportProtocol } from './flow.ts';

export interface TransportListener {
  /** A message, or a failure to parse one, arrived on a flow. */
  onParsed(result: ParseResult, flow: Flow, raw: Buffer | undefined): void;
  onFlowClosed(flow: Flow): void;
}

export interface Transport {
  readonly protocol: TransportProtocol;
  readonly host: string;
  /** The port actually bound (useful when 0 was asked for). */
  readonly port: number;
  /** A flow to the given peer: the UDP path, or an existing connection to it, or a new connection. */
  flowTo(address: string, port: number): Promise<Flow>;
  close(): Promise<void>;
}

class UdpFlow implements Flow {
  readonly protocol = 'UDP' as const;
  readonly reliable = false;
  readonly closed = false;

  constructor(
    private readonly socket: dgram.Socket,
    readonly remoteAddress: string,
    readonly remotePort: number,
    readonly localAddress: string,
    readonly localPort: number,
  ) {}

  /** Made when asked: most datagrams' flows are never asked. */
  get id(): string {
    return `udp:${this.remoteAddress}:${this.remotePort}`;
  }

  send(data: Buffer): boolean {
    this.socket.send(data, this.remotePort, this.remoteAddress, () => {});
    return true;
  }

  close(): void {}
}

export class UdpTransport implements Transport {
  readonly protocol = 'UDP' as const;
  private constructor(
    private readonly socket: dgram.Socket,
    readonly host: string,
    readonly port: number,
  ) {}

  static async listen(host: string, port: number, listener: TransportListener): Promise<UdpTransport> {
    const socket = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4', reuseAddr: false, recvBufferSize: 4 * 1024 * 1024 });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', () => {}); // ICMP port unreachable and the like: a UDP peer that went away is not our error
    const bound = socket.address();
    const transport = new UdpTransport(socket, host, bound.port);
    socket.on('message', (data, rinfo) => {
      const flow = new UdpFlow(socket, rinfo.address, rinfo.port, bound.address, bound.port);
      // A lone CRLF (or double CRLF) is a keepalive: answer a double one with a single one (RFC 5626 section 4.4.1).
      if (data.length <= 4 && /^(\r\n)+$/.test(data.toString('latin1'))) {
        if (data.length === 4) flow.send(Buffer.from('\r\n'));
        return;
      }
      if (data.length > MAX_MESSAGE_SIZE) return;
      listener.onParsed(parseDatagram(data), flow, data);
    });
    return transport;
  }

  async flowTo(address: string, port: number): Promise<Flow> {
    const bound = this.socket.address();
    return new UdpFlow(this.socket, address, port, bound.address, bound.port);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}

let nextConnectionId = 1;

class StreamFlow implements Flow {
  readonly reliable = true;
  readonly id: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  closed = false;

  constructor(
    readonly protocol: 'TCP' | 'TLS',
    private readonly socket: net.Socket,
  ) {
    this.id = `${protocol.toLowerCase()}:${nextConnectionId++}`;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remotePort = socket.remotePort ?? 0;
    this.localAddress = socket.localAddress ?? '';
    this.localPort = socket.localPort ?? 0;
  }

  send(data: Buffer): boolean {
    if (this.closed) return false;
    this.socket.write(data);
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
  }
}

/** How connections a peer opens to us are bounded; shared by the TCP, TLS and WebSocket transports. */
export interface ConnectionLimits {
  /** Connections open at once, beyond which new ones are refused. */
  maxConnections?: number;
  /** Connections open at once from one source address, beyond which its new ones are closed at once. */
  maxConnectionsPerAddress?: number;
  /**
   * A connection is closed when it has not completed its first SIP message this long after opening, or a later
   * message this long after that message's first byte. Keepalive CRLFs count as no message.
   */
  messageTimeoutMs?: number;
}

export const DEFAULT_CONNECTION_LIMITS: Required<ConnectionLimits> = { maxConnections: 10_000, maxConnectionsPerAddress: 500, messageTimeoutMs: 30_000 };

/**
 * The deadlines of a transport's connections, checked by one sweep rather than a timer each: a connection is due
 * while it owes a message (from its opening until its first message, and from the first byte of each later one).
 */
export class MessageDeadlines<C> {
  private readonly due = new Map<C, number>();
  private readonly sweep: NodeJS.Timeout;

  constructor(
    private readonly timeoutMs: number,
    private readonly expire: (connection: C) => void,
  ) {
    this.sweep = setInterval(() => this.reap(), Math.max(50, Math.min(1000, Math.floor(timeoutMs / 4))));
    this.sweep.unref();
  }

  /** The connection owes a message from now on (opened, or started one); an earlier deadline stands. */
  owe(connection: C): void {
    if (!this.due.has(connection)) this.due.set(connection, Date.now() + this.timeoutMs);
  }

  /** The connection completed what it owed. */
  settle(connection: C): void {
    this.due.delete(connection);
  }

  private reap(): void {
    const now = Date.now();
    for (const [connection, at] of this.due) {
      if (at > now) continue;
      this.due.delete(connection);
      this.expire(connection);
    }
  }

  stop(): void {
    clearInterval(this.sweep);
    this.due.clear();
  }
}

/** Connections open per source address, to refuse one more beyond the cap. */
export class AddressCounts {
  private readonly counts = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** Counts a connection from `address`; false (and not counted) when the address is at its cap. */
  take(address: string): boolean {
    const n = this.counts.get(address) ?? 0;
    if (n >= this.max) return false;
    this.counts.set(address, n + 1);
    return true;
  }

  release(address: string): void {
    const n = (this.counts.get(address) ?? 1) - 1;
    if (n <= 0) this.counts.delete(address);
    else this.counts.set(address, n);
  }
}

export interface StreamTransportOptions extends ConnectionLimits {
  /** A connection that carries nothing at all for this long is closed (a registered phone refreshes or pings well within). */
  idleTimeoutMs?: number;
  tls?: { cert: Buffer; key: Buffer };
}

export class StreamTransport implements Transport {
  private readonly flows = new Set<StreamFlow>();
  private readonly deadlines: MessageDeadlines<StreamFlow>;

  private constructor(
    readonly protocol: 'TCP' | 'TLS',
    private readonly server: net.Server,
    readonly host: string,
    readonly port: number,
    private readonly listener: TransportListener,
    private readonly options: StreamTransportOptions,
  ) {
    this.deadlines = new MessageDeadlines(options.messageTimeoutMs ?? DEFAULT_CONNECTION_LIMITS.messageTimeoutMs, (flow) => flow.close());
  }

  static async listen(host: string, port: number, listener: TransportListener, options: StreamTransportOptions = {}): Promise<StreamTransport> {
    const protocol = options.tls ? 'TLS' : 'TCP';
    // The server hands sockets over before the transport object exists only in theory; the holder bridges the two.
    const holder: { transport?: StreamTransport } = {};
    const messageTimeoutMs = options.messageTimeoutMs ?? DEFAULT_CONNECTION_LIMITS.messageTimeoutMs;
    // The cap per address is applied to the raw connection, before a TLS handshake costs anything.
    const perAddress = new AddressCounts(options.maxConnectionsPerAddress ?? DEFAULT_CONNECTION_LIMITS.maxConnectionsPerAddress);
    const admit = (socket: net.Socket): boolean => {
      const address = socket.remoteAddress ?? '';
      if (!perAddress.take(address)) {
        socket.destroy();
        return false;
      }
      socket.once('close', () => perAddress.release(address));
      return true;
    };
    let server: net.Server;
    if (options.tls) {
      // The handshake must be done within the message timeout too; a peer that never starts one would otherwise
      // hold its socket forever (tls's own handshakeTimeout waits for a first byte). The message deadline of the
      // connection runs from the end of its handshake.
      const handshakes = new Map<string, NodeJS.Timeout>();
      const key = (socket: net.Socket) => `${socket.remoteAddress}|${socket.remotePort}`;
      server = tls.createServer({ cert: options.tls.cert, key: options.tls.key }, (socket) => {
        clearTimeout(handshakes.get(key(socket)));
        handshakes.delete(key(socket));
        holder.transport?.adopt(socket, true);
      });
      server.on('connection', (socket: net.Socket) => {
        if (!admit(socket)) return;
        const k = key(socket);
        const timer = setTimeout(() => socket.destroy(), messageTimeoutMs);
        timer.unref();
        handshakes.set(k, timer);
        socket.once('close', () => {
          clearTimeout(timer);
          if (handshakes.get(k) === timer) handshakes.delete(k);
        });
      });
    } else {
      server = net.createServer((socket) => {
        if (admit(socket)) holder.transport?.adopt(socket, true);
      });
    }
    server.maxConnections = options.maxConnections ?? DEFAULT_CONNECTION_LIMITS.maxConnections;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', () => {});
    if (options.tls) server.on('tlsClientError', () => {});
    const bound = server.address() as net.AddressInfo;
    holder.transport = new StreamTransport(protocol, server, host, bound.port, listener, options);
    return holder.transport;
  }

  /** A connection a peer opened (`inbound`) owes its first message at once; one we opened owes nothing yet. */
  private adopt(socket: net.Socket, inbound: boolean): StreamFlow {
    const flow = new StreamFlow(this.protocol, socket);
    this.flows.add(flow);
    const parser = new StreamParser();
    let completed = inbound ? 0 : 1;
    if (inbound) this.deadlines.owe(flow);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    socket.setTimeout(this.options.idleTimeoutMs ?? 15 * 60_000, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      const results = parser.push(chunk, () => flow.send(Buffer.from('\r\n')));
      completed += results.length;
      // Until its first message a connection keeps the deadline of its opening; after, one runs from the first
      // byte of an unfinished message (a message that ended in this chunk while another began gets a fresh one).
      if (completed > 0) {
        if (parser.pending === 0 || results.length > 0) this.deadlines.settle(flow);
        if (parser.pending > 0) this.deadlines.owe(flow);
      }
      for (const result of results) {
        this.listener.onParsed(result, flow, undefined);
        // A stream that could not be framed cannot be trusted for the next message either.
        if (!result.ok && (result.reason.includes('Content-Length') || result.reason.includes('too large'))) {
          socket.end();
          return;
        }
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      flow.closed = true;
      this.flows.delete(flow);
      this.deadlines.settle(flow);
      this.listener.onFlowClosed(flow);
    });
    return flow;
  }

  async flowTo(address: string, port: number): Promise<Flow> {
    for (const flow of this.flows) {
      if (!flow.closed && flow.remoteAddress === address && flow.remotePort === port) return flow;
    }
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = this.options.tls
        ? tls.connect({ host: address, port, rejectUnauthorized: false }, () => resolve(s))
        : net.connect({ host: address, port }, () => resolve(s));
      s.once('error', reject);
      s.setTimeout(10_000, () => s.destroy(new Error(`connection to ${address}:${port} timed out`)));
    });
    socket.setTimeout(0);
    return this.adopt(socket, false);
  }

  get connectionCount(): number {
    return this.flows.size;
  }

  async close(): Promise<void> {
    this.deadlines.stop();
    for (const flow of this.flows) flow.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
