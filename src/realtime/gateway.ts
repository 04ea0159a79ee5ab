/**
 * The live API: Socket.io namespace `/pbx` on the HTTP server, with the events seed 001 lists (plus `queue:update`).
 *
 * - The handshake carries the JWT in `auth.token`; the user is re-read then and before every client event, so a
 *   deleted or deactivated user loses the socket's rights at once.
 * - Rooms: `staff:<tenant>` (admins, managers, supervisors: everything of their tenant), `agent:<extension>` (what
 *   concerns one agent: its state, the calls it is party to or offered), `queue:<queue>` (the queue's figures, for
 *   its members).
 * - On every connect (a reconnect too) the socket is sent the present state: agents' status and presence, calls in
 *   progress, queue figures, so a client never shows stale data.
 * - Client events are validated by schema and answered through the acknowledgement: `{ ok: true, data }` or
 *   `{ ok: false, error: { code, message, details? } }`, the same catalogue the REST API answers with.
 */
import type http from 'node:http';
import { type Namespace, Server, type Socket } from 'socket.io';
import { Type, type Static, type TSchema } from 'typebox';
import type { ValidateFunction } from 'ajv';
import type { AgentSnapshot, CallActor, CallSession, ContactCenter, Softphones } from '../contact-center/index.ts';
import type { Directory, Principal } from '../directory/index.ts';
import { PbxError } from '../errors/index.ts';
import type { PbxEventBus } from '../events/index.ts';
import { makeAjv, nulError } from '../api/plugins/validation.ts';

const STAFF_ROLES = new Set(['ADMIN', 'MANAGER', 'SUPERVISOR']);

const staffRoom = (tenantId: string) => `staff:${tenantId}`;
const agentRoom = (extensionId: string) => `agent:${extensionId}`;
const queueRoom = (queueId: string) => `queue:${queueId}`;

interface SocketData {
  token: string;
  principal: Principal;
  /** The user's own agent (extension), if it has one. */
  extensionId: string | undefined;
}

type Events = Record<string, (...args: unknown[]) => void>;
type PbxSocket = Socket<Events, Events, Events, SocketData>;

type Ack = (answer: { ok: true; data: unknown } | { ok: false; error: { code: string; message: string; details?: unknown } }) => void;

const CallRef = Type.Object({ callId: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false });
const ClientEvents = {
  'agent:login': Type.Object({ agentId: Type.Optional(Type.String({ maxLength: 100 })), extension: Type.Optional(Type.String({ maxLength: 20 })) }, { additionalProperties: false }),
  'agent:status:change': Type.Object(
    {
      status: Type.Union(['AVAILABLE', 'AWAY', 'BUSY', 'OFFLINE'].map((s) => Type.Literal(s as 'AVAILABLE' | 'AWAY' | 'BUSY' | 'OFFLINE'))),
      reason: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    },
    { additionalProperties: false },
  ),
  'call:dial': Type.Object(
    { phoneNumber: Type.String({ minLength: 1, maxLength: 32 }), contactId: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })) },
    { additionalProperties: false },
  ),
  'call:answer': CallRef,
  'call:hangup': CallRef,
  'call:hold': Type.Object({ callId: CallRef.properties.callId, hold: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
  'call:transfer': Type.Object(
    {
      callId: CallRef.properties.callId,
      target: Type.String({ minLength: 1, maxLength: 32 }),
      type: Type.Optional(Type.Union([Type.Literal('blind'), Type.Literal('attended')])),
    },
    { additionalProperties: false },
  ),
  'call:transfer:complete': CallRef,
  'call:transfer:cancel': CallRef,
  'call:mute': Type.Object({ callId: CallRef.properties.callId, mute: Type.Optional(Type.Boolean()), muted: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
} satisfies Record<string, TSchema>;

type ClientEventName = keyof typeof ClientEvents;

export interface GatewayDeps {
  directory: Directory;
  bus: PbxEventBus;
  contactCenter: ContactCenter;
  onError(err: unknown, context: string): void;
}

export class RealtimeGateway implements Softphones {
  private readonly nsp: Namespace;
  private readonly validators: Record<ClientEventName, ValidateFunction>;
  /** The extensions party to (or rung for) each call in progress: who hears of it. */
  private readonly parties = new Map<string, { tenantId: string; routed: boolean; extensions: Set<string> }>();
  private readonly unsubscribe: Array<() => void> = [];

  private constructor(
    private readonly io: Server,
    private readonly deps: GatewayDeps,
  ) {
    this.nsp = io.of('/pbx');
    const ajv = makeAjv({ coerceTypes: false });
    this.validators = Object.fromEntries(Object.entries(ClientEvents).map(([name, schema]) => [name, ajv.compile(schema as object)])) as Record<ClientEventName, ValidateFunction>;
    this.nsp.use((socket, next) => {
      this.authenticate(socket as unknown as PbxSocket).then(() => next(), (err: unknown) => next(this.handshakeError(err)));
    });
    this.nsp.on('connection', (socket) => this.connected(socket as unknown as PbxSocket));
    this.subscribe();
    deps.contactCenter.control.setSoftphones(this);
  }

  /** Serves the live API on `server` (Socket.io's own path, `/socket.io/`), leaving other upgrades (`/sip`) alone. */
  static attach(server: http.Server, deps: GatewayDeps): RealtimeGateway {
    const io = new Server(server, {
      serveClient: false,
      // Other WebSocket upgrades on this server (SIP at /sip) are not ours to close.
      destroyUpgrade: false,
      maxHttpBufferSize: 64 * 1024,
      cors: { origin: false },
    });
    return new RealtimeGateway(io, deps);
  }

  private async authenticate(socket: PbxSocket): Promise<void> {
    const auth = socket.handshake.auth as { token?: unknown } | undefined;
    const token = typeof auth?.token === 'string' ? auth.token.replace(/^Bearer\s+/i, '') : undefined;
    const principal = await this.deps.directory.auth.authenticate(token);
    socket.data.token = token as string;
    socket.data.principal = principal;
    socket.data.extensionId = this.deps.contactCenter.agents.ofUser(principal.tenantId, principal.userId)?.extensionId;
  }

  private handshakeError(err: unknown): Error {
    const e = err instanceof PbxError ? err : new PbxError('PBX_ERR_UNAUTHENTICATED');
    return Object.assign(new Error(e.message), { data: { code: e.code } });
  }

  private isStaff(p: Principal): boolean {
    return STAFF_ROLES.has(p.role);
  }

  private connected(socket: PbxSocket): void {
    const { principal, extensionId } = socket.data;
    const rooms = [];
    if (this.isStaff(principal)) rooms.push(staffRoom(principal.tenantId));
    if (extensionId) {
      rooms.push(agentRoom(extensionId));
      for (const q of this.deps.contactCenter.queues.list(principal.tenantId)) if (q.members.some((m) => m.extensionId === extensionId)) rooms.push(queueRoom(q.id));
    }
    void socket.join(rooms);
    for (const name of Object.keys(ClientEvents) as ClientEventName[]) {
      socket.on(name, (payload: unknown, ack?: unknown) => {
        const reply: Ack = typeof ack === 'function' ? (ack as Ack) : () => {};
        this.handle(socket, name, payload).then(
          (data) => reply({ ok: true, data }),
          (err: unknown) => reply({ ok: false, error: this.errorBody(err) }),
        );
      });
    }
    this.sendSnapshot(socket);
  }

  private errorBody(err: unknown): { code: string; message: string; details?: unknown } {
    if (err instanceof PbxError) return { code: err.code, message: err.message, ...(err.details === undefined ? {} : { details: err.details }) };
    this.deps.onError(err, 'realtime:event');
    return { code: 'PBX_ERR_INTERNAL', message: 'Internal server error' };
  }

  /** A client event: validated, its sender re-read, then done by the contact center. */
  private async handle(socket: PbxSocket, name: ClientEventName, payload: unknown): Promise<unknown> {
    // U+0000 first, as at the HTTP door: a status reason holding one would reach PostgreSQL, which refuses it.
    const nul = nulError([['payload', payload]]);
    if (nul) throw nul;
    const validate = this.validators[name];
    if (!validate(payload)) {
      throw new PbxError('PBX_ERR_VALIDATION', undefined, { details: (validate.errors ?? []).map((e) => ({ path: e.instancePath, message: e.message })) });
    }
    let principal: Principal;
    try {
      principal = await this.deps.directory.auth.authenticate(socket.data.token);
    } catch (err) {
      socket.disconnect(true);
      throw err;
    }
    const cc = this.deps.contactCenter;
    const extensionId = cc.agents.ofUser(principal.tenantId, principal.userId)?.extensionId;
    const actor: CallActor = { tenantId: principal.tenantId, extensionId, staff: this.isStaff(principal) };
    const own = (): string => {
      if (!extensionId) throw new PbxError('PBX_ERR_EXTENSION_NOT_FOUND', 'You have no agent extension');
      return extensionId;
    };
    switch (name) {
      case 'agent:login': {
        const body = payload as Static<(typeof ClientEvents)['agent:login']>;
        const agent = cc.agents.get(principal.tenantId, own());
        if ((body.agentId !== undefined && body.agentId !== agent.extensionId) || (body.extension !== undefined && body.extension !== String(agent.number))) {
          throw new PbxError('PBX_ERR_FORBIDDEN', 'That agent is not you');
        }
        return this.agentBody(agent);
      }
      case 'agent:status:change': {
        const body = payload as Static<(typeof ClientEvents)['agent:status:change']>;
        return this.agentBody(await cc.agents.setStatus(principal.tenantId, own(), body.status, body.reason ?? null));
      }
      case 'call:dial': {
        const body = payload as Static<(typeof ClientEvents)['call:dial']>;
        return this.controlBody(await cc.control.dial(actor, body.phoneNumber, body.contactId));
      }
      case 'call:answer':
        return this.controlBody(await cc.control.answer(actor, (payload as Static<typeof CallRef>).callId));
      case 'call:hangup':
        return this.controlBody(await cc.control.hangup(actor, (payload as Static<typeof CallRef>).callId));
      case 'call:hold': {
        const body = payload as Static<(typeof ClientEvents)['call:hold']>;
        return this.controlBody(await cc.control.hold(actor, body.callId, body.hold));
      }
      case 'call:transfer': {
        const body = payload as Static<(typeof ClientEvents)['call:transfer']>;
        return this.controlBody(await cc.control.transfer(actor, body.callId, body.target, body.type ?? 'blind'));
      }
      case 'call:transfer:complete':
        return this.controlBody(await cc.control.completeTransfer(actor, (payload as Static<typeof CallRef>).callId));
      case 'call:transfer:cancel':
        return this.controlBody(await cc.control.cancelTransfer(actor, (payload as Static<typeof CallRef>).callId));
      case 'call:mute': {
        const body = payload as Static<(typeof ClientEvents)['call:mute']>;
        const muted = body.mute ?? body.muted;
        if (muted === undefined) throw new PbxError('PBX_ERR_VALIDATION', 'mute (true or false) is required');
        return this.controlBody(await cc.control.mute(actor, body.callId, muted));
      }
    }
  }

  private controlBody(s: Awaited<ReturnType<ContactCenter['control']['hangup']>>) {
    return { callId: s.callId, callSessionId: s.sessionId ?? null, state: s.state, side: s.side, held: s.held, muted: s.muted, consultation: s.consultation };
  }

  private agentBody(a: AgentSnapshot) {
    return {
      agentId: a.extensionId,
      userId: a.userId,
      extension: String(a.number),
      status: a.status,
      reason: a.reason,
      since: a.since.toISOString(),
      registered: a.registered,
      pendingStatus: a.pending?.status ?? null,
    };
  }

  private presenceBody(a: AgentSnapshot) {
    const callId = a.calls[0];
    const session = callId === undefined ? undefined : this.deps.contactCenter.sessions.ofCall(callId);
    const answeredAt = session?.answeredAt?.getTime();
    return {
      agentId: a.extensionId,
      extension: String(a.number),
      status: a.status,
      reason: a.reason,
      since: a.since.toISOString(),
      ...(callId === undefined
        ? {}
        : { currentCall: { callId, callSessionId: session?.id ?? null, from: session?.fromNumber ?? null, duration: answeredAt === undefined ? 0 : Math.max(0, Math.round((Date.now() - answeredAt) / 1000)) } }),
    };
  }

  private callStateBody(s: CallSession, metadata: Record<string, unknown> = {}) {
    return {
      callId: s.callId,
      callSessionId: s.id,
      status: s.status,
      metadata: { direction: s.direction, from: s.fromNumber, to: s.toNumber, queueId: s.queueId, agentId: s.extensionId, ...metadata },
    };
  }

  private queueBody(queueId: string, f: { waiting: number; agents: number; available: number; longestWait: number }) {
    return { queueId, waiting: f.waiting, agents: f.agents, available: f.available, longestWait: f.longestWait };
  }

  /** The present state, to one socket: what it would have heard had it been connected all along. */
  private sendSnapshot(socket: PbxSocket): void {
    const { principal, extensionId } = socket.data;
    const cc = this.deps.contactCenter;
    const staff = this.isStaff(principal);
    const own = extensionId === undefined ? undefined : cc.agents.find(extensionId);
    const agents = staff ? cc.agents.list(principal.tenantId) : own ? [own] : [];
    for (const a of agents) {
      socket.emit('agent:status:updated', this.agentBody(a));
      socket.emit('presence:update', this.presenceBody(a));
    }
    for (const q of cc.queues.list(principal.tenantId)) {
      if (staff || (extensionId && q.members.some((m) => m.extensionId === extensionId))) socket.emit('queue:update', this.queueBody(q.id, cc.queues.figures(q)));
    }
    for (const [callId, call] of this.parties) {
      if (call.tenantId !== principal.tenantId || (!staff && !(extensionId && call.extensions.has(extensionId)))) continue;
      const session = cc.sessions.ofCall(callId);
      if (session) socket.emit('call:state:changed', this.callStateBody(session));
    }
  }

  /** Where a call's events go: its tenant's staff and every agent party to it. */
  private callRooms(tenantId: string, callId: string, also: Array<string | null | undefined> = []): string[] {
    const extensions = new Set([...(this.parties.get(callId)?.extensions ?? []), ...also.filter((e): e is string => !!e)]);
    return [staffRoom(tenantId), ...[...extensions].map(agentRoom)];
  }

  private involve(callId: string, extensionId: string): boolean {
    const call = this.parties.get(callId);
    if (!call || call.extensions.has(extensionId)) return false;
    call.extensions.add(extensionId);
    return true;
  }

  /** Tells an agent its call rings; a consultation names the agent who consults and the caller it is about. */
  private incoming(callId: string, extensionId: string, consultation?: { from: number; to: number }): void {
    const session = this.deps.contactCenter.sessions.ofCall(callId);
    if (!session) return;
    this.nsp.to(agentRoom(extensionId)).emit('call:incoming', {
      callId,
      callSessionId: session.id,
      from: consultation ? String(consultation.from) : session.fromNumber,
      to: consultation ? String(consultation.to) : session.toNumber,
      queueId: session.queueId,
      ...(session.contactId ? { contactId: session.contactId } : {}),
      ...(consultation ? { consultation: { caller: session.fromNumber } } : {}),
    });
  }

  private subscribe(): void {
    const { bus, contactCenter: cc } = this.deps;
    // The bus already keeps a throwing listener from hurting the publisher; here they are only remembered for close.
    const on: PbxEventBus['on'] = (name, listener) => {
      const off = bus.on(name, listener);
      this.unsubscribe.push(off);
      return off;
    };
    on('call.created', (e) => {
      this.parties.set(e.callId, { tenantId: e.tenantId, routed: e.routed, extensions: new Set([e.callerExtensionId]) });
    });
    on('leg.ringing', (e) => {
      // A queue call's offers are told by `queue.offered`; a direct call rings its callee once per call.
      if (this.parties.get(e.callId)?.routed === false && this.involve(e.callId, e.extensionId)) this.incoming(e.callId, e.extensionId);
    });
    on('queue.offered', (e) => {
      for (const extensionId of e.extensionIds) {
        this.involve(e.callId, extensionId);
        this.incoming(e.callId, extensionId);
      }
    });
    on('call.answered', (e) => void this.involve(e.callId, e.calleeExtensionId));
    on('call.transferring', (e) => {
      // A transfer to a queue: its offers are told by `queue.offered`.
      if (e.toExtensionId && this.involve(e.callId, e.toExtensionId)) this.incoming(e.callId, e.toExtensionId);
    });
    on('call.consulting', (e) => {
      if (this.involve(e.callId, e.toExtensionId)) this.incoming(e.callId, e.toExtensionId, { from: e.from, to: e.to });
    });
    on('session.updated', (e) => {
      const session = cc.sessions.ofCall(e.callId);
      if (!session) return;
      this.nsp.to(this.callRooms(e.tenantId, e.callId, [e.extensionId])).emit('call:state:changed', this.callStateBody(session));
    });
    on('call.muted', (e) => {
      const session = cc.sessions.ofCall(e.callId);
      if (session) this.nsp.to(this.callRooms(e.tenantId, e.callId)).emit('call:state:changed', this.callStateBody(session, { muted: e.muted, side: e.side }));
    });
    on('call.ended', (e) => {
      const rooms = this.callRooms(e.tenantId, e.callId, [e.calleeExtensionId]);
      this.parties.delete(e.callId);
      cc.sessions
        .get(e.tenantId, e.callId)
        .then((s) => {
          this.nsp.to(rooms).emit('call:ended', { callId: e.callId, callSessionId: s.id, duration: Math.round(s.talkMs / 1000), status: s.status, cause: e.cause, ...(s.disposition ? { disposition: s.disposition } : {}) });
        })
        .catch((err: unknown) => this.deps.onError(err, 'realtime:call.ended'));
    });
    on('agent.status.changed', (e) => {
      const agent = cc.agents.find(e.extensionId);
      if (!agent) return;
      const rooms = [staffRoom(e.tenantId), agentRoom(e.extensionId)];
      this.nsp.to(rooms).emit('agent:status:updated', { ...this.agentBody(agent), status: e.to, previousStatus: e.from, reason: e.reason, callId: e.callId, since: e.at.toISOString() });
      this.nsp.to(rooms).emit('presence:update', { ...this.presenceBody(agent), status: e.to, reason: e.reason, since: e.at.toISOString() });
    });
    on('queue.updated', (e) => {
      this.nsp.to([staffRoom(e.tenantId), queueRoom(e.queueId)]).emit('queue:update', this.queueBody(e.queueId, e));
    });
    // Members join and leave their queue's room as they are added and removed at runtime.
    on('queue.event', (e) => {
      if (!e.extensionId) return;
      if (e.event === 'ADDMEMBER') this.nsp.in(agentRoom(e.extensionId)).socketsJoin(queueRoom(e.queueId));
      if (e.event === 'REMOVEMEMBER') this.nsp.in(agentRoom(e.extensionId)).socketsLeave(queueRoom(e.queueId));
    });
  }

  /** Asks the agent's softphones (sockets in its room) to answer the call; true if there was one to ask. */
  requestAnswer(_tenantId: string, extensionId: string, callId: string): boolean {
    const room = this.nsp.adapter.rooms.get(agentRoom(extensionId));
    if (!room || room.size === 0) return false;
    this.nsp.to(agentRoom(extensionId)).emit('call:answer', { callId, callSessionId: this.deps.contactCenter.sessions.ofCall(callId)?.id ?? null });
    return true;
  }

  /** How many sockets are connected now. */
  get connections(): number {
    return this.nsp.sockets.size;
  }

  async close(): Promise<void> {
    for (const off of this.unsubscribe.splice(0)) off();
    this.deps.contactCenter.control.setSoftphones(undefined);
    this.nsp.disconnectSockets(true);
    // The HTTP server is closed by its owner; Socket.io only lets go of its connections.
    this.io.engine.close();
  }
}
