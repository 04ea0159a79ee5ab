/**
 * The live API's server events (seed 001, plus `queue:update`): the contact center's events told to the rooms they
 * concern, and the present state sent to a socket that just connected. It listens to the contact center only
 * (`cc.call.*`, `agent.*`, `queue.*`): who hears of a call is the contact center's to say, in each event.
 */
import type { Namespace } from 'socket.io';
import { type ContactCenter, isStaff, viewOf } from '../contact-center/index.ts';
import type { PbxEventBus } from '../events/index.ts';
import { agentBody, agentRoom, callStateBody, endedBody, incomingBody, type PbxSocket, presenceBody, queueBody, queueRoom, staffRoom } from './wire.ts';

export class Broadcasts {
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    private readonly nsp: Namespace,
    private readonly bus: PbxEventBus,
    private readonly cc: ContactCenter,
  ) {}

  /** Follows the contact center's events until {@link stop}. */
  start(): void {
    const { bus, cc, nsp } = this;
    // The bus already keeps a throwing listener from hurting the publisher; here they are only remembered for stop.
    this.unsubscribe.push(
      bus.on('cc.call.offered', (e) => {
        const body = incomingBody(e);
        for (const extensionId of e.extensionIds) nsp.to(agentRoom(extensionId)).emit('call:incoming', body);
      }),
      bus.on('cc.call.changed', (e) => {
        nsp.to(this.callRooms(e.tenantId, e.extensionIds)).emit('call:state:changed', callStateBody(e, e.muted ? { muted: e.muted.muted, side: e.muted.side } : {}));
      }),
      bus.on('cc.call.ended', (e) => {
        nsp.to(this.callRooms(e.tenantId, e.extensionIds)).emit('call:ended', endedBody(e));
      }),
      bus.on('agent.status.changed', (e) => {
        const agent = cc.agents.find(e.extensionId);
        if (!agent) return;
        const rooms = [staffRoom(e.tenantId), agentRoom(e.extensionId)];
        nsp.to(rooms).emit('agent:status:updated', { ...agentBody(agent), status: e.to, previousStatus: e.from, reason: e.reason, callId: e.callId, since: e.at.toISOString() });
        nsp.to(rooms).emit('presence:update', { ...presenceBody(agent, cc), status: e.to, reason: e.reason, since: e.at.toISOString() });
      }),
      bus.on('queue.updated', (e) => {
        nsp.to([staffRoom(e.tenantId), queueRoom(e.queueId)]).emit('queue:update', queueBody(e.queueId, e));
      }),
    );
  }

  stop(): void {
    for (const off of this.unsubscribe.splice(0)) off();
  }

  /** The present state, to one socket: what it would have heard had it been connected all along. */
  catchUp(socket: PbxSocket): void {
    const { principal, extensionId } = socket.data;
    const { cc } = this;
    const staff = isStaff(principal);
    const own = extensionId === undefined ? undefined : cc.agents.find(extensionId);
    const agents = staff ? cc.agents.list(principal.tenantId) : own ? [own] : [];
    for (const a of agents) {
      socket.emit('agent:status:updated', agentBody(a));
      socket.emit('presence:update', presenceBody(a, cc));
    }
    for (const q of cc.queues.list(principal.tenantId)) {
      if (staff || (extensionId && q.members.some((m) => m.extensionId === extensionId))) socket.emit('queue:update', queueBody(q.id, cc.queues.figures(q)));
    }
    for (const call of cc.calls.list(principal.tenantId)) {
      if (staff || (extensionId && call.parties.has(extensionId))) socket.emit('call:state:changed', callStateBody(viewOf(call.session)));
    }
  }

  /** Where a call's events go: its tenant's staff and every agent the contact center names. */
  private callRooms(tenantId: string, extensionIds: readonly string[]): string[] {
    return [staffRoom(tenantId), ...extensionIds.map(agentRoom)];
  }
}
