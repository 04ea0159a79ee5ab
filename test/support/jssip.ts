/**
 * JsSIP (the npm package) in Node: a JsSIP socket over the `ws` package, as browsers give JsSIP a WebSocket, and
 * a user agent that registers to the server under test.
 */
import JsSIP from 'jssip';
import WebSocket from 'ws';

/** JsSIP's socket interface (via_transport, url, sip_uri, connect, send, on*), over `ws`. */
export class NodeWebSocketInterface {
  readonly via_transport: 'WS' | 'WSS';
  readonly url: string;
  readonly sip_uri: string;
  private ws: WebSocket | undefined;
  onconnect: () => void = () => {};
  ondisconnect: (error: boolean, code?: number, reason?: string) => void = () => {};
  ondata: (data: string) => void = () => {};

  constructor(url: string) {
    this.url = url;
    this.via_transport = url.startsWith('wss:') ? 'WSS' : 'WS';
    this.sip_uri = `sip:${new URL(url).host};transport=ws`;
  }

  connect(): void {
    // The tests' certificates are self-signed, for a name that is not 127.0.0.1.
    const ws = new WebSocket(this.url, 'sip', { rejectUnauthorized: false });
    this.ws = ws;
    ws.on('open', () => this.onconnect());
    ws.on('message', (data) => this.ondata(data.toString()));
    ws.on('close', (code, reason) => this.ondisconnect(code !== 1000, code, reason.toString()));
    ws.on('error', () => {});
  }

  disconnect(): void {
    this.ws?.close(1000);
  }

  send(message: string): boolean {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(message);
    return true;
  }

  isConnected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  isConnecting(): boolean {
    return this.ws?.readyState === WebSocket.CONNECTING;
  }

  /** Drops the connection without a SIP goodbye, as a crashed browser tab would. */
  kill(): void {
    this.ws?.terminate();
  }
}

export interface TestUa {
  ua: JsSIP.UA;
  socket: NodeWebSocketInterface;
  /** Resolves on 'registered', rejects on 'registrationFailed' with its cause. */
  registered: Promise<void>;
}

export function jssipUa(wsUrl: string, options: { user: string; domain: string; password: string; register?: boolean }): TestUa {
  const socket = new NodeWebSocketInterface(wsUrl);
  const ua = new JsSIP.UA({
    sockets: [socket as unknown as JsSIP.Socket],
    uri: `sip:${options.user}@${options.domain}`,
    password: options.password,
    register: options.register ?? true,
    register_expires: 300,
    session_timers: false,
    user_agent: 'JsSIP test',
  });
  const registered = new Promise<void>((resolve, reject) => {
    ua.once('registered', () => resolve());
    ua.once('registrationFailed', (e: { cause?: string; response?: { status_code?: number } }) =>
      reject(new Error(`registration failed: ${e.cause} ${e.response?.status_code ?? ''}`)),
    );
  });
  registered.catch(() => {});
  ua.start();
  return { ua, socket, registered };
}
