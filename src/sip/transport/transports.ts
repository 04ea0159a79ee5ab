/**
 * SIP transports (RFC 3261 section 18): UDP, and TCP or TLS streams, each listening on its own socket. Incoming bytes
 * become parsed messages or parse failures for the layer above; nothing a peer sends can throw out of here.
 * Connections are bounded in number and closed when idle, so a flood of sockets cannot exhaust the process.
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

export interface StreamTransportOptions {
  /** Connections open at once, beyond which new ones are refused. */
  maxConnections?: number;
  /** A connection that carries nothing for this long is closed (a registered phone refreshes or pings well within). */
  idleTimeoutMs?: number;
  tls?: { cert: Buffer; key: Buffer };
}

export class StreamTransport implements Transport {
  private readonly flows = new Set<StreamFlow>();

  private constructor(
    readonly protocol: 'TCP' | 'TLS',
    private readonly server: net.Server,
    readonly host: string,
    readonly port: number,
    private readonly listener: TransportListener,
    private readonly options: StreamTransportOptions,
  ) {}

  static async listen(host: string, port: number, listener: TransportListener, options: StreamTransportOptions = {}): Promise<StreamTransport> {
    const protocol = options.tls ? 'TLS' : 'TCP';
    // The server hands sockets over before the transport object exists only in theory; the holder bridges the two.
    const holder: { transport?: StreamTransport } = {};
    const onSocket = (socket: net.Socket) => holder.transport?.adopt(socket);
    const server = options.tls
      ? tls.createServer({ cert: options.tls.cert, key: options.tls.key }, onSocket)
      : net.createServer(onSocket);
    server.maxConnections = options.maxConnections ?? 10_000;
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

  private adopt(socket: net.Socket): StreamFlow {
    const flow = new StreamFlow(this.protocol, socket);
    this.flows.add(flow);
    const parser = new StreamParser();
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    socket.setTimeout(this.options.idleTimeoutMs ?? 15 * 60_000, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      for (const result of parser.push(chunk, () => flow.send(Buffer.from('\r\n')))) {
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
    return this.adopt(socket);
  }

  get connectionCount(): number {
    return this.flows.size;
  }

  async close(): Promise<void> {
    for (const flow of this.flows) flow.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
