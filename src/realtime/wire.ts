/**
 * What the live API puts on the wire: its rooms' names and the bodies of its server events, in seed 001's words.
 * The gateway, the client commands and the broadcasts all speak through these, so an event looks the same whether
 * it is told as it happens or sent again on a reconnect.
 */
import type { Socket } from 'socket.io';
import type { AgentSnapshot, CallView, ContactCenter } from '../contact-center/index.ts';
import type { Principal } from '../directory/index.ts';
import type { DomainEvents } from '../events/index.ts';

/** Admins, managers and supervisors of a tenant: everything of their tenant. */
export const staffRoom = (tenantId: string) => `staff:${tenantId}`;
/** What concerns one agent: its state, the calls it is party to or offered. */
export const agentRoom = (extensionId: string) => `agent:${extensionId}`;
/** A queue's figures, for its members. */
export const queueRoom = (queueId: string) => `queue:${queueId}`;

export interface SocketData {
  token: string;
  principal: Principal;
  /** The user's own agent (extension), if it has one. */
  extensionId: string | undefined;
}

type Events = Record<string, (...args: unknown[]) => void>;
export type PbxSocket = Socket<Events, Events, Events, SocketData>;

export function agentBody(a: AgentSnapshot) {
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

/** An agent's presence, with the call it is on (the first, if several) as the contact center sees it. */
export function presenceBody(a: AgentSnapshot, cc: Pick<ContactCenter, 'sessions'>) {
  const callId = a.calls[0];
  const session = callId === undefined ? undefined : cc.sessions.ofCall(callId);
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

/** `call:state:changed`. */
export function callStateBody(c: CallView, metadata: Record<string, unknown> = {}) {
  return {
    callId: c.callId,
    callSessionId: c.sessionId,
    status: c.status,
    metadata: { direction: c.direction, from: c.from, to: c.to, queueId: c.queueId, agentId: c.agentId, ...metadata },
  };
}

/** `call:incoming`, to each agent offered the call. */
export function incomingBody(e: DomainEvents['cc.call.offered']) {
  return {
    callId: e.callId,
    callSessionId: e.sessionId,
    from: e.from,
    to: e.to,
    queueId: e.queueId,
    ...(e.contactId ? { contactId: e.contactId } : {}),
    ...(e.consultation ? { consultation: e.consultation } : {}),
  };
}

/** `call:ended`. */
export function endedBody(e: DomainEvents['cc.call.ended']) {
  return { callId: e.callId, callSessionId: e.sessionId, duration: e.talkSeconds, status: e.status, cause: e.cause, ...(e.disposition ? { disposition: e.disposition } : {}) };
}

export function queueBody(queueId: string, f: { waiting: number; agents: number; available: number; longestWait: number }) {
  return { queueId, waiting: f.waiting, agents: f.agents, available: f.available, longestWait: f.longestWait };
}
