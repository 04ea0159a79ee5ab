/**
 * The SIP stack: transports below, server transactions in the middle, and one delegate above (the transaction
 * user) that is told of each new request. It stamps `received` and `rport` on the top Via (RFC 3261 section
 * 18.2.1, RFC 3581), routes responses back as section 18.2.2 says, absorbs retransmissions, matches ACK and CANCEL
 * to their INVITE, and answers requests it cannot parse with 400 (505 for another version) when an answer can be
 * formed. It knows nothing of what the requests are for.
 */
import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import type https from 'node:https';
import os from 'node:os';
import {
  formatParams,
  isSipUri,
  parseHostPort,
  type ParseResult,
  REASON_PHRASES,
  SipHeaders,
  type SipRequest,
  SipResponse,
  type Uri,
} from './message/index.ts';
import { type Flow, hostForUri } from './transport/flow.ts';
import { type ClientTransaction, type ClientTransactionUser, InviteClientTransaction, NonInviteClientTransaction } from './transaction/client-transaction.ts';
import { CompletedTransactions } from './transaction/completed-transactions.ts';
import { type ConnectionLimits, StreamTransport, type Transport, type TransportListener, UdpTransport } from './transport/transports.ts';
import { WebSocketTransport } from './transport/websocket.ts';
import {
  DEFAULT_TIMERS,
  InviteServerTransaction,
  NonInviteServerTransaction,
  type ServerTransaction,
  type TransactionTimers,
} from './transaction/server-transaction.ts';

export interface ListenSpec {
  protocol: 'UDP' | 'TCP' | 'TLS';
  host: string;
  port: number;
  tls?: { cert: Buffer; key: Buffer };
}

export interface SipStackOptions {
  listen: ListenSpec[];
  /** The host to put in our Via and Contact headers when it differs from the bound address (NAT, 0.0.0.0). */
  publicHost?: string;
  timers?: Partial<TransactionTimers>;
  /** Server header of our responses. */
  serverName?: string;
  /** Bounds on the TCP, TLS and WebSocket connections peers open (defaults: `DEFAULT_CONNECTION_LIMITS`). */
  connections?: ConnectionLimits;
}

export interface ReplyOptions {
  reason?: string;
  headers?: Array<[string, string]>;
  body?: Buffer;
  contentType?: string;
}

/** A new request, as the transaction user sees it. */
export interface IncomingRequest {
  readonly message: SipRequest;
  readonly flow: Flow;
  readonly transaction: ServerTransaction;
  /** Answers the request through its transaction; a later final answer is refused. */
  reply(status: number, options?: ReplyOptions): SipResponse;
}

export interface SipStackDelegate {
  onRequest(request: IncomingRequest): void | Promise<void>;
  /** An ACK that matched no transaction: the ACK of a 2xx, for the dialog layer. */
  onAck?(message: SipRequest, flow: Flow): void;
  onFlowClosed?(flow: Flow): void;
  /** A message that could not be parsed arrived from this flow (for abuse accounting). */
  onMalformed?(flow: Flow, reason: string): void;
  /** A response that matched no client transaction: a 2xx retransmitted after its transaction ended. */
  onStrayResponse?(response: SipResponse, flow: Flow): void;
}

/** The first non-internal IPv4 address of this machine, if it has one. */
export function firstExternalIPv4(): string | undefined {
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

// Tags and branches are drawn from a pool refilled 4 KiB at a time: one system call per few hundred tokens.
let pool = Buffer.alloc(0);
let poolAt = 0;

/** `bytes` random bytes as hex (tags, branches, Call-IDs). */
export function randomToken(bytes = 8): string {
  if (poolAt + bytes > pool.length) {
    pool = randomBytes(4096);
    poolAt = 0;
  }
  const token = pool.toString('hex', poolAt, poolAt + bytes);
  poolAt += bytes;
  return token;
}

/** RFC 3261 section 17.2.3: the branch, sent-by and method (ACK counts as INVITE); RFC 2543 peers by dialog fields. */
export function serverTransactionKey(request: SipRequest, methodOverride?: string): string {
  const via = request.topVia;
  const method = methodOverride ?? (request.method === 'ACK' ? 'INVITE' : request.method);
  if (via?.branch?.startsWith('z9hG4bK')) return `${via.branch}|${via.host}:${via.port ?? ''}|${method}`;
  return `2543|${request.callId}|${request.cseq.seq}|${request.from.params.get('tag') ?? ''}|${via?.host ?? ''}:${via?.port ?? ''}|${method}`;
}

/**
 * Whether the top Via has a sent-protocol and a sent-by that parse. Its parameters may be broken (RFC 4475 badinv01)
 * and its version another than 2.0 (badvers, answered 505).
 */
function hasUsableVia(headers: SipHeaders): boolean {
  const top = headers.getAll('Via')[0];
  if (top === undefined) return false;
  // A sent-by holds neither ';' nor ',': what comes before the first of them is the protocol and the sent-by.
  const m = /^\s*[\w\-.!%*+`'~]+\s*\/\s*[\w\-.!%*+`'~]+\s*\/\s*[\w\-.!%*+`'~]+\s+([^;,]+)$/.exec(top.split(/[;,]/)[0] as string);
  if (!m) return false;
  try {
    parseHostPort((m[1] as string).trim().replace(/\s*:\s*/, ':'));
    return true;
  } catch {
    return false;
  }
}

/**
 * A response to `request` with its Via, From, To, Call-ID and CSeq (RFC 3261 section 8.2.6.2). An 18x or 2xx also
 * carries the request's Record-Route values, in order (rfc3261#section-12.1.1, a MUST for a response that creates a
 * dialog): the proxies that recorded the route learn that the dialog goes through them, and the peer's ACK, BYE
 * and re-INVITEs go through them too.
 */
export function createResponse(request: SipRequest | { headers: SipHeaders }, status: number, toTag: string | undefined, options: ReplyOptions = {}): SipResponse {
  const headers = new SipHeaders();
  for (const via of request.headers.getAll('Via')) headers.add('Via', via);
  const from = request.headers.get('From');
  if (from !== undefined) headers.add('From', from);
  let to = request.headers.get('To');
  if (to !== undefined && toTag && status > 100 && !/;\s*tag\s*=/i.test(to)) to += `;tag=${toTag}`;
  if (to !== undefined) headers.add('To', to);
  // A request answered 400 for lacking them has none to copy (RFC 4475 insuf).
  const callId = request.headers.get('Call-ID');
  if (callId !== undefined) headers.add('Call-ID', callId);
  const cseq = request.headers.get('CSeq');
  if (cseq !== undefined) headers.add('CSeq', cseq);
  if (status > 100 && status < 300) for (const route of request.headers.getAll('Record-Route')) headers.add('Record-Route', route);
  for (const [name, value] of options.headers ?? []) headers.add(name, value);
  if (options.body && options.body.length > 0) headers.set('Content-Type', options.contentType ?? 'application/sdp');
  return new SipResponse(status, options.reason ?? REASON_PHRASES[status] ?? 'Unknown', headers, options.body ?? Buffer.alloc(0));
}

export class SipStack {
  readonly transports: Transport[] = [];
  private readonly timers: TransactionTimers;
  private readonly transactions = new Map<string, ServerTransaction>();
  /** Non-INVITE server transactions over UDP after their final response, until Timer J. */
  private readonly completed: CompletedTransactions;
  private readonly clientTransactions = new Map<string, ClientTransaction>();
  private readonly publicHost: string | undefined;
  private readonly connections: ConnectionLimits;
  private closed = false;

  private constructor(
    private readonly delegate: SipStackDelegate,
    options: SipStackOptions,
    private readonly serverName: string,
  ) {
    this.timers = { ...DEFAULT_TIMERS, ...options.timers };
    this.completed = new CompletedTransactions(64 * this.timers.T1);
    this.publicHost = options.publicHost;
    this.connections = options.connections ?? {};
  }

  private readonly listener: TransportListener = {
    onParsed: (result: ParseResult, flow: Flow) => this.onParsed(result, flow),
    onFlowClosed: (flow: Flow) => this.delegate.onFlowClosed?.(flow),
  };

  static async start(options: SipStackOptions, delegate: SipStackDelegate): Promise<SipStack> {
    const stack = new SipStack(delegate, options, options.serverName ?? 'sip-stack');
    const listener = stack.listener;
    try {
      for (const spec of options.listen) {
        stack.transports.push(
          spec.protocol === 'UDP'
            ? await UdpTransport.listen(spec.host, spec.port, listener)
            : await StreamTransport.listen(spec.host, spec.port, listener, { ...stack.connections, tls: spec.tls }),
        );
      }
    } catch (err) {
      await stack.close();
      throw err;
    }
    return stack;
  }

  /** SIP over WebSocket (RFC 7118) at `path` of an HTTP(S) server that someone else runs. */
  attachWebSocket(server: http.Server | https.Server, path: string, options: { secure?: boolean } = {}): WebSocketTransport {
    const transport = WebSocketTransport.attach(server, path, this.listener, { ...this.connections, ...options });
    this.transports.push(transport);
    return transport;
  }

  transport(protocol: string): Transport | undefined {
    return this.transports.find((t) => t.protocol === protocol);
  }

  /** Transactions alive, those absorbing retransmissions after their final response included. */
  get transactionCount(): number {
    return this.transactions.size + this.completed.size;
  }

  private onParsed(result: ParseResult, flow: Flow): void {
    if (this.closed) return;
    try {
      if (!result.ok) {
        this.delegate.onMalformed?.(flow, result.reason);
        if (result.status !== undefined && result.partial && result.partial.method !== 'ACK') this.answerMalformed(result.status, result.reason, result.partial.headers, flow);
        return;
      }
      if (result.message.kind === 'response') this.onResponse(result.message, flow);
      else this.onRequest(result.message, flow);
    } catch (err) {
      // A bug must cost one message, never the process.
      this.delegate.onMalformed?.(flow, `internal error: ${(err as Error).message}`);
    }
  }

  /** rfc3261#section-17.1.3: a response belongs to the client transaction of its top Via's branch and CSeq method. */
  private onResponse(response: SipResponse, flow: Flow): void {
    const via = response.topVia;
    if (!via?.branch) return;
    const tx = this.clientTransactions.get(`${via.branch}|${response.cseq.method}`);
    if (tx) tx.receiveResponse(response);
    else this.delegate.onStrayResponse?.(response, flow);
  }

  /**
   * The host our Via and Contact headers name on this flow: the public host if one is set; else the flow's own
   * local address; else, for a socket bound to every address, the machine's first external IPv4 address (a
   * multi-homed server should set a public host).
   */
  advertisedHost(flow: Flow): string {
    if (this.publicHost) return this.publicHost;
    const local = flow.localAddress.replace(/^::ffff:/, '');
    if (local && local !== '0.0.0.0' && local !== '::') return hostForUri(local);
    return firstExternalIPv4() ?? '127.0.0.1';
  }

  /** The port our Via and Contact name for a protocol: the listening port of its transport. */
  advertisedPort(protocol: string): number | undefined {
    return this.transport(protocol === 'WSS' ? 'WSS' : protocol)?.port;
  }

  private viaFor(flow: Flow, branch: string): string {
    const port = this.advertisedPort(flow.protocol);
    return `SIP/2.0/${flow.protocol} ${this.advertisedHost(flow)}${port ? `:${port}` : ''};branch=${branch};rport`;
  }

  /**
   * Sends a request in a new client transaction over `flow`, with our Via on top (unless `keepVia`, for a CANCEL
   * that must carry its INVITE's Via). Responses reach `user`.
   */
  sendRequest(request: SipRequest, flow: Flow, user: ClientTransactionUser, options: { keepVia?: boolean } = {}): ClientTransaction {
    if (!options.keepVia) request.headers.prepend('Via', this.viaFor(flow, `z9hG4bK${randomToken(10)}`));
    const branch = request.topVia?.branch as string;
    const key = `${branch}|${request.method}`;
    const tx = request.method === 'INVITE'
      ? new InviteClientTransaction(key, request, flow, this.timers, user)
      : new NonInviteClientTransaction(key, request, flow, this.timers, user);
    this.clientTransactions.set(key, tx);
    tx.onTerminated(() => this.clientTransactions.delete(key));
    tx.start();
    return tx;
  }

  /** Sends a request outside any transaction (the ACK for a 2xx, rfc3261#section-13.2.2.4), with a fresh Via. */
  sendStateless(request: SipRequest, flow: Flow): void {
    request.headers.prepend('Via', this.viaFor(flow, `z9hG4bK${randomToken(10)}`));
    flow.send(request.toBuffer());
  }

  /**
   * A flow to the host a SIP URI names (RFC 3263 without DNS records: the host as written): over its `transport`
   * parameter, else TLS for sips and UDP for sip; at its port, else 5061 for TLS and 5060 otherwise. The first Route
   * of a request is where it goes (rfc3261#section-8.1.2, a loose router), which is how a request reaches a phone
   * through the edge proxy of its Path (RFC 3327).
   */
  flowToUri(uri: Uri): Promise<Flow> {
    if (!isSipUri(uri)) return Promise.reject(new Error(`not a SIP URI: ${uri.scheme}`));
    const param = uri.params.get('transport');
    const protocol = param ? param.toUpperCase() : uri.scheme === 'sips' ? 'TLS' : 'UDP';
    return this.flowTo(protocol, uri.host.replace(/^\[|\]$/g, ''), uri.port ?? (protocol === 'TLS' ? 5061 : 5060));
  }

  /** A flow to a peer at address:port over a protocol: the UDP path, an existing connection, or a new one. */
  async flowTo(protocol: string, address: string, port: number): Promise<Flow> {
    const transport = this.transport(protocol);
    if (!transport) throw new Error(`no ${protocol} transport`);
    return transport.flowTo(address, port);
  }

  /**
   * 400 or 505 to a request that could not be parsed (RFC 4475 section 3.1.2, and 3.3.1 for one that lacks From,
   * To or Call-ID): answered whenever its top Via names a transport and a sent-by, so that the peer can match the
   * answer to its request; From, To, Call-ID and CSeq are copied as far as they are there. The answer goes back on
   * the flow the request came on. A request without a readable Via is not answered, and an ACK never is.
   */
  private answerMalformed(status: number, reason: string, headers: SipHeaders, flow: Flow): void {
    if (!hasUsableVia(headers)) return;
    const phrase = status === 400 ? `Bad Request (${reason.replace(/[\r\n]/g, ' ').slice(0, 100)})` : undefined;
    const response = createResponse({ headers }, status, randomToken(), { reason: phrase, headers: [['Server', this.serverName]] });
    flow.send(response.toBuffer());
  }

  private onRequest(request: SipRequest, flow: Flow): void {
    this.stampVia(request, flow);
    const key = serverTransactionKey(request);
    const existing = this.transactions.get(key);
    if (request.method === 'ACK') {
      if (existing instanceof InviteServerTransaction && existing.state === 'completed') existing.receiveAck();
      else if (!existing || existing.state === 'accepted') this.delegate.onAck?.(request, flow);
      return;
    }
    if (existing) {
      existing.receiveRetransmission();
      return;
    }
    if (this.completed.absorb(key)) return;
    if (request.method === 'CANCEL') {
      this.onCancel(request, flow);
      return;
    }
    const transaction = this.createTransaction(key, request, flow);
    if (request.method === 'INVITE') transaction.respond(createResponse(request, 100, undefined, { headers: [['Server', this.serverName]] }));
    this.dispatch(request, flow, transaction);
  }

  private createTransaction(key: string, request: SipRequest, flow: Flow): ServerTransaction {
    const transmit = this.responseRoute(request, flow);
    const transaction =
      request.method === 'INVITE'
        ? new InviteServerTransaction(key, request, flow, this.timers, transmit, randomToken())
        : new NonInviteServerTransaction(key, request, flow, this.timers, transmit, randomToken(), (bytes) => this.completed.add(key, bytes, transmit));
    this.transactions.set(key, transaction);
    transaction.onTerminated(() => this.transactions.delete(key));
    return transaction;
  }

  /** rfc3261#section-9.2: a CANCEL is answered itself, and its INVITE's transaction is told. */
  private onCancel(request: SipRequest, flow: Flow): void {
    const invite = this.transactions.get(serverTransactionKey(request, 'INVITE'));
    const transaction = this.createTransaction(serverTransactionKey(request), request, flow);
    if (!(invite instanceof InviteServerTransaction)) {
      transaction.respond(createResponse(request, 481, transaction.toTag));
      return;
    }
    transaction.respond(createResponse(request, 200, invite.toTag));
    if (invite.state === 'proceeding') invite.cancel();
  }

  private dispatch(request: SipRequest, flow: Flow, transaction: ServerTransaction): void {
    let guard: NodeJS.Timeout | undefined;
    const incoming: IncomingRequest = {
      message: request,
      flow,
      transaction,
      reply: (status, options = {}) => {
        const response = createResponse(request, status, transaction.toTag, {
          ...options,
          headers: [...(options.headers ?? []), ['Server', this.serverName]],
        });
        transaction.respond(response);
        if (status >= 200 && guard) clearTimeout(guard);
        return response;
      },
    };
    const fail = (err: unknown) => {
      this.delegate.onMalformed?.(flow, `request handler failed: ${(err as Error)?.message}`);
      if (!transaction.finalSent && transaction.state !== 'terminated') incoming.reply(500);
    };
    // A non-INVITE request must be answered in time even if its handler forgets (or the peer it relays to never
    // answers): after 64*T1 without a final answer, 500. An INVITE may ring for longer; its call owns it.
    if (request.method !== 'INVITE') {
      guard = setTimeout(() => {
        if (!transaction.finalSent && transaction.state !== 'terminated') incoming.reply(500);
      }, 64 * this.timers.T1);
      guard.unref();
    }
    try {
      const result = this.delegate.onRequest(incoming);
      if (result instanceof Promise) result.catch(fail);
    } catch (err) {
      fail(err);
    }
  }

  /** RFC 3261 section 18.2.1 and RFC 3581: where the request really came from, for the response to go back to. */
  private stampVia(request: SipRequest, flow: Flow): void {
    const [first, ...rest] = request.headers.getAll('Via');
    const via = request.topVia;
    if (first === undefined || !via) return;
    let changed = false;
    if (via.host.replace(/^\[|\]$/g, '') !== flow.remoteAddress) {
      via.params.set('received', flow.remoteAddress);
      changed = true;
    }
    if (via.params.has('rport') && via.params.get('rport') === null) {
      via.params.set('rport', String(flow.remotePort));
      via.params.set('received', flow.remoteAddress);
      changed = true;
    }
    if (!changed) return;
    // Rewrite only the top via-parm of the first Via line; the others stay as written.
    const parts = first.split(',');
    const stamped = `SIP/2.0/${via.transport} ${via.host}${via.port === undefined ? '' : `:${via.port}`}${formatParams(via.params)}`;
    request.headers.remove('Via');
    request.headers.add('Via', [stamped, ...parts.slice(1)].join(','));
    for (const v of rest) request.headers.add('Via', v);
  }

  /**
   * RFC 3261 section 18.2.2: where the responses to a request go, worked out once. The same connection when
   * reliable; over UDP, received:rport or the Via's sent-by. The route holds no reference to the request.
   */
  private responseRoute(request: SipRequest, flow: Flow): (bytes: Buffer) => void {
    if (flow.reliable || flow.protocol !== 'UDP') return (bytes) => void flow.send(bytes);
    const via = request.topVia;
    const rport = via?.params.get('rport');
    const address = via?.params.get('received') ?? via?.host.replace(/^\[|\]$/g, '') ?? flow.remoteAddress;
    const port = rport ? Number(rport) : (via?.port ?? 5060);
    if (address === flow.remoteAddress && port === flow.remotePort) return (bytes) => void flow.send(bytes);
    return (bytes) =>
      void this.transport('UDP')
        ?.flowTo(address, port)
        .then((target) => target.send(bytes));
  }

  /** Sends a response outside the transaction layer (a 2xx retransmitted by the TU, rfc3261#section-13.3.1.4). */
  sendResponse2xx(response: SipResponse, request: SipRequest, flow: Flow): void {
    this.responseRoute(request, flow)(response.toBuffer());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.transactions.values()) t.terminate();
    this.transactions.clear();
    this.completed.clear();
    for (const t of this.clientTransactions.values()) t.terminate();
    this.clientTransactions.clear();
    await Promise.all(this.transports.map((t) => t.close()));
  }
}
