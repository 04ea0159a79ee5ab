/**
 * The live API: Socket.io namespace `/pbx` on the HTTP server, with the events seed 001 lists (plus `queue:update`).
 * This file holds the connection: its authentication and its rooms. Client events are answered by
 * `commands.ts`, server events told by `broadcasts.ts`.
 *
 * - The handshake carries the JWT in `auth.token`; the user is re-read then and before every client event, so a
 *   deleted or deactivated user loses the socket's rights at once.
 * - Rooms: `staff:<tenant>` (admins, managers, supervisors: everything of their tenant), `agent:<extension>` (what
 *   concerns one agent: its state, the calls it is party to or offered), `queue:<queue>` (the queue's figures, for
 *   its members, who join and leave as they are added and removed).
 * - On every connect (a reconnect too) the socket is sent the present state: agents' status and presence, calls in
 *   progress, queue figures, so a client never shows stale data.
 * - The contact center asks an agent's browser softphones to answer through it ({@link SoftphoneAnswerer}).
 */
import type http from 'node:http';
import { type Namespace, Server } from 'socket.io';
import { type ContactCenter, isStaff, type SoftphoneAnswerer } from '../contact-center/index.ts';
import type { Directory } from '../directory/index.ts';
import { PbxError } from '../errors/index.ts';
import type { PbxEventBus } from '../events/index.ts';
import { Broadcasts } from './broadcasts.ts';
import { ClientCommands } from './commands.ts';
import { agentRoom, type PbxSocket, queueRoom, staffRoom } from './wire.ts';

export interface GatewayDeps {
  directory: Directory;
  bus: PbxEventBus;
  contactCenter: ContactCenter;
  onError(err: unknown, context: string): void;
}

export class RealtimeGateway implements SoftphoneAnswerer {
  private readonly nsp: Namespace;
  private readonly commands: ClientCommands;
  private readonly broadcasts: Broadcasts;
  private readonly unsubscribe: Array<() => void> = [];

  private constructor(
    private readonly io: Server,
    private readonly deps: GatewayDeps,
  ) {
    this.nsp = io.of('/pbx');
    this.commands = new ClientCommands(deps.directory, deps.contactCenter, deps.onError);
    this.broadcasts = new Broadcasts(this.nsp, deps.bus, deps.contactCenter);
    this.nsp.use((socket, next) => {
      this.authenticate(socket as unknown as PbxSocket).then(() => next(), (err: unknown) => next(this.handshakeError(err)));
    });
    this.nsp.on('connection', (socket) => this.connected(socket as unknown as PbxSocket));
    this.broadcasts.start();
    // Members join and leave their queue's room as they are added and removed at runtime.
    this.unsubscribe.push(
      deps.bus.on('queue.event', (e) => {
        if (!e.extensionId) return;
        if (e.event === 'ADDMEMBER') this.nsp.in(agentRoom(e.extensionId)).socketsJoin(queueRoom(e.queueId));
        if (e.event === 'REMOVEMEMBER') this.nsp.in(agentRoom(e.extensionId)).socketsLeave(queueRoom(e.queueId));
      }),
    );
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

  private connected(socket: PbxSocket): void {
    const { principal, extensionId } = socket.data;
    const rooms = [];
    if (isStaff(principal)) rooms.push(staffRoom(principal.tenantId));
    if (extensionId) {
      rooms.push(agentRoom(extensionId));
      for (const q of this.deps.contactCenter.queues.list(principal.tenantId)) if (q.members.some((m) => m.extensionId === extensionId)) rooms.push(queueRoom(q.id));
    }
    void socket.join(rooms);
    this.commands.listen(socket);
    this.broadcasts.catchUp(socket);
  }

  /** Asks the agent's softphones (sockets in its room) to answer the call; true if there was one to ask. */
  requestAnswer(request: Parameters<SoftphoneAnswerer['requestAnswer']>[0]): boolean {
    const room = this.nsp.adapter.rooms.get(agentRoom(request.extensionId));
    if (!room || room.size === 0) return false;
    this.nsp.to(agentRoom(request.extensionId)).emit('call:answer', { callId: request.callId, callSessionId: request.callSessionId });
    return true;
  }

  /** How many sockets are connected now. */
  get connections(): number {
    return this.nsp.sockets.size;
  }

  async close(): Promise<void> {
    this.broadcasts.stop();
    for (const off of this.unsubscribe.splice(0)) off();
    this.nsp.disconnectSockets(true);
    // The HTTP server is closed by its owner; Socket.io only lets go of its connections.
    this.io.engine.close();
  }
}
