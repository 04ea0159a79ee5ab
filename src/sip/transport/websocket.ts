/**
 * SIP over WebSocket (RFC 7118) on an existing HTTP(S) server, at one path: the upgrade must ask for the `sip`
 * subprotocol; each WebSocket message carries exactly one SIP message (section 5.2), so no stream framing is
 * needed. A flow is one WebSocket connection: responses and later requests for a contact registered over it go
 * back on it, and its bindings end when it closes. Connections are capped per source address, and one that has not
 * carried a SIP message within the message timeout of its upgrade is closed (a frame is whole when ws hands it over,
 * so only the first message is awaited).
 */
import type http from 'node:http';
import type https from 'node:https';
import type net from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { MAX_MESSAGE_SIZE, parseDatagram } from '../message/index.ts';
import type { Flow } from './flow.ts';
import { AddressCounts, type ConnectionLimits, DEFAULT_CONNECTION_LIMITS, MessageDeadlines, type Transport, type TransportListener } from './transports.ts';

let nextWsId = 1;

class WebSocketFlow implements Flow {
  readonly reliable = true;
  readonly id: string;
  closed = false;

  constructor(
    readonly protocol: 'WS' | 'WSS',
    private readonly ws: WebSocket,
    readonly remoteAddress: string,
    readonly remotePort: number,
    readonly localAddress: string,
    readonly localPort: number,
  ) {
    this.id = `${protocol.toLowerCase()}:${nextWsId++}`;
  }

  send(data: Buffer): boolean {
    if (this.closed) return false;
    // Text frames: browsers' SIP stacks (JsSIP, SIP.js) read text.
    this.ws.send(data.toString('utf8'));
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ws.close(1000);
  }

  /** Drops the connection without the closing handshake, which a peer that says nothing would never finish. */
  terminate(): void {
    this.closed = true;
    this.ws.terminate();
  }
}

export class WebSocketTransport implements Transport {
  private readonly flows = new Set<WebSocketFlow>();

  private constructor(
    readonly protocol: 'WS' | 'WSS',
    readonly host: string,
    readonly port: number,
    private readonly wss: WebSocketServer,
    private readonly server: http.Server | https.Server,
    private readonly onUpgrade: (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => void,
    private readonly deadlines: MessageDeadlines<WebSocketFlow>,
  ) {}

  /** Serves SIP over WebSocket at `path` of `server`; other upgrade requests are left to other listeners. */
  static attach(
    server: http.Server | https.Server,
    path: string,
    listener: TransportListener,
    options: { secure?: boolean } & ConnectionLimits = {},
  ): WebSocketTransport {
    const protocol = options.secure ? 'WSS' : 'WS';
    const limits = { ...DEFAULT_CONNECTION_LIMITS, ...options };
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: MAX_MESSAGE_SIZE,
      // RFC 7118 section 4: the `sip` subprotocol is required.
      handleProtocols: (protocols) => (protocols.has('sip') ? 'sip' : false),
    });
    const perAddress = new AddressCounts(limits.maxConnectionsPerAddress);
    const holder: { transport?: WebSocketTransport } = {};
    const onUpgrade = (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      const url = (req.url ?? '').split('?')[0];
      if (url !== path) return;
      const transport = holder.transport;
      const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim());
      if (!transport || !offered.includes('sip') || transport.flows.size >= limits.maxConnections) {
        socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      const address = socket.remoteAddress ?? '';
      if (!perAddress.take(address)) {
        socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      socket.once('close', () => perAddress.release(address));
      wss.handleUpgrade(req, socket, head, (ws) => transport.adopt(ws, req, listener));
    };
    server.on('upgrade', onUpgrade);
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const host = typeof address === 'object' && address ? address.address : '';
    holder.transport = new WebSocketTransport(protocol, host, port, wss, server, onUpgrade, new MessageDeadlines(limits.messageTimeoutMs, (flow: WebSocketFlow) => flow.terminate()));
    return holder.transport;
  }

  private adopt(ws: WebSocket, req: http.IncomingMessage, listener: TransportListener): void {
    const socket = req.socket;
    const flow = new WebSocketFlow(
      this.protocol,
      ws,
      socket.remoteAddress ?? '',
      socket.remotePort ?? 0,
      socket.localAddress ?? '',
      socket.localPort ?? 0,
    );
    this.flows.add(flow);
    this.deadlines.owe(flow);
    ws.on('message', (data, isBinary) => {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
      // A lone CRLF or double CRLF is a keepalive, not a message; a double one is answered with one CRLF, as
      // RFC 5626 section 4.4.1 has it for streams (SIP.js waits for that pong).
      if (!isBinary && /^(\r\n)+$/.test(bytes.toString('latin1'))) {
        if (bytes.length === 4) flow.send(Buffer.from('\r\n'));
        return;
      }
      this.deadlines.settle(flow);
      listener.onParsed(parseDatagram(bytes), flow, undefined);
    });
    ws.on('error', () => {});
    ws.on('close', () => {
      flow.closed = true;
      this.flows.delete(flow);
      this.deadlines.settle(flow);
      listener.onFlowClosed(flow);
    });
  }

  get connectionCount(): number {
    return this.flows.size;
  }

  /** WebSocket peers cannot be dialled: a flow exists only while the peer keeps its connection open. */
  async flowTo(address: string, port: number): Promise<Flow> {
    for (const flow of this.flows) if (!flow.closed && flow.remoteAddress === address && flow.remotePort === port) return flow;
    throw new Error(`no WebSocket connection from ${address}:${port}`);
  }

  /** Drops every connection at once: ws's own close waits for each peer's closing handshake, maybe forever. */
  async close(): Promise<void> {
    this.server.off('upgrade', this.onUpgrade);
    this.deadlines.stop();
    for (const flow of this.flows) flow.closed = true;
    for (const client of this.wss.clients) client.terminate();
    this.wss.close();
  }
}
