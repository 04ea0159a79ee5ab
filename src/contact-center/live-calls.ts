/**
 * The calls in progress, as the contact center sees them: one entry per call, holding its session as it stands
 * (direction, queue, agent, status, times) and the extensions that hear of it (its caller, every agent it was
 * offered to, who answered, transfer and consultation targets). Nobody else keeps a copy: the sessions write the
 * entry's session behind, the doors read it and hear of it through the events published here.
 *
 * Fed by the engine's events and the queues', it publishes what a door needs to tell people, so no door listens to
 * the engine:
 * - `cc.call.offered`: a call rings agents (a direct call's callee once, each queue offer, a transfer or
 *   consultation target), with what their screens show;
 * - `cc.call.changed`: the session changed (status, queue, agent), or a side was muted, with who hears of it;
 * - `cc.call.ended`: the call ended, with its session's last word and who heard of it.
 *
 * An entry is opened by the sessions when the engine creates the call, and closed here when the call ends. Its
 * listeners are subscribed after the sessions', agents' and queues' (see `startContactCenter`): an offer is told
 * with the session those already updated, and a session change reaches the parties known before the offer.
 */
import type { PbxEventBus } from '../events/index.ts';
import type { CallView } from '../events/types.ts';
import type { CallSession } from './call-session-state.ts';

export type { CallView };

export interface LiveCall {
  readonly tenantId: string;
  readonly callId: string;
  /** The call came in on a number the contact center routes (a queue's): its offers are the queue's. */
  readonly routed: boolean;
  /** The call's session as it stands; the sessions change it and write it behind. */
  readonly session: CallSession;
  /** When the agent put the caller on hold, while it holds: the session's hold time counts from it. */
  holdStartedAt: number | undefined;
  /** Settles when the session's last change is written. */
  written: Promise<void>;
  /** The extensions that hear of the call. */
  readonly parties: Set<string>;
}

/** A session as the events and the doors show it. */
export function viewOf(session: CallSession): CallView {
  return {
    callId: session.callId,
    sessionId: session.id,
    status: session.status,
    direction: session.direction,
    from: session.fromNumber,
    to: session.toNumber,
    queueId: session.queueId,
    agentId: session.extensionId,
  };
}

export class LiveCalls {
  private readonly calls = new Map<string, LiveCall>();
  private readonly unsubscribe: Array<() => void> = [];

  constructor(private readonly bus: PbxEventBus) {}

  /** A call the engine just created, with its new session; its caller hears of it from now on. */
  open(e: { tenantId: string; callId: string; routed: boolean; callerExtensionId: string | undefined }, session: CallSession): LiveCall {
    // A caller from outside (through a trunk) is no extension: nobody's screen follows it as a party.
    const parties = new Set<string>(e.callerExtensionId === undefined ? [] : [e.callerExtensionId]);
    const call: LiveCall = { tenantId: e.tenantId, callId: e.callId, routed: e.routed, session, holdStartedAt: undefined, written: Promise.resolve(), parties };
    this.calls.set(e.callId, call);
    return call;
  }

  /** The call, while it is in progress (its session not ended). */
  get(callId: string): LiveCall | undefined {
    const call = this.calls.get(callId);
    return call && call.session.endedAt === null ? call : undefined;
  }

  /** A tenant's calls in progress, oldest first. */
  list(tenantId: string): LiveCall[] {
    return [...this.calls.values()].filter((c) => c.tenantId === tenantId && c.session.endedAt === null);
  }

  /** A tenant's call in progress, by the call's id or its session's. */
  find(tenantId: string, idOrCallId: string): LiveCall | undefined {
    const call = this.get(idOrCallId) ?? [...this.calls.values()].find((c) => c.session.id === idOrCallId && c.session.endedAt === null);
    return call?.tenantId === tenantId ? call : undefined;
  }

  /** Follows the engine's and the queues' events; called once the sessions, agents and queues follow them. */
  start(): void {
    const { bus } = this;
    this.unsubscribe.push(
      bus.on('leg.ringing', (e) => {
        // A queue call's offers are told by `queue.offered`; a direct call rings its callee once per call.
        const call = this.calls.get(e.callId);
        if (call && !call.routed && this.involve(call, e.extensionId)) this.offer(call, [e.extensionId]);
      }),
      bus.on('queue.offered', (e) => {
        const call = this.calls.get(e.callId);
        if (!call) return;
        for (const extensionId of e.extensionIds) this.involve(call, extensionId);
        this.offer(call, e.extensionIds);
      }),
      bus.on('call.answered', (e) => {
        const call = this.calls.get(e.callId);
        if (call) this.involve(call, e.calleeExtensionId);
      }),
      bus.on('call.transferring', (e) => {
        // A transfer to a queue: its offers are told by `queue.offered`.
        const call = this.calls.get(e.callId);
        if (call && e.toExtensionId && this.involve(call, e.toExtensionId)) this.offer(call, [e.toExtensionId]);
      }),
      bus.on('call.consulting', (e) => {
        const call = this.calls.get(e.callId);
        if (call && this.involve(call, e.toExtensionId)) this.offer(call, [e.toExtensionId], { from: e.from, to: e.to });
      }),
      bus.on('session.updated', (e) => {
        const call = this.calls.get(e.callId);
        if (call) this.bus.emit('cc.call.changed', { tenantId: call.tenantId, ...viewOf(call.session), extensionIds: this.audience(call, e.extensionId) });
      }),
      bus.on('call.muted', (e) => {
        const call = this.calls.get(e.callId);
        if (call) this.bus.emit('cc.call.changed', { tenantId: call.tenantId, ...viewOf(call.session), extensionIds: this.audience(call), muted: { side: e.side, muted: e.muted } });
      }),
      bus.on('call.ended', (e) => {
        const call = this.calls.get(e.callId);
        if (!call) return;
        this.calls.delete(e.callId);
        const s = call.session;
        this.bus.emit('cc.call.ended', {
          tenantId: call.tenantId,
          callId: e.callId,
          sessionId: s.id,
          status: s.status,
          cause: e.cause,
          talkSeconds: Math.round(s.talkMs / 1000),
          disposition: s.disposition,
          extensionIds: this.audience(call, e.calleeExtensionId),
        });
      }),
    );
  }

  stop(): void {
    for (const off of this.unsubscribe.splice(0)) off();
    this.calls.clear();
  }

  /** Adds a party; false if it was one already, or is outside (no extension). */
  private involve(call: LiveCall, extensionId: string | undefined): extensionId is string {
    if (extensionId === undefined || call.parties.has(extensionId)) return false;
    call.parties.add(extensionId);
    return true;
  }

  /** The call's parties, and whoever else an event names (the session's agent, the callee). */
  private audience(call: LiveCall, also?: string | null): string[] {
    return [...new Set([...call.parties, ...(also ? [also] : [])])];
  }

  /** Tells that the call rings these agents; a consultation names the agent who consults and the caller it is about. */
  private offer(call: LiveCall, extensionIds: string[], consultation?: { from: string; to: string }): void {
    const s = call.session;
    this.bus.emit('cc.call.offered', {
      tenantId: call.tenantId,
      callId: call.callId,
      sessionId: s.id,
      extensionIds: [...extensionIds],
      from: consultation ? String(consultation.from) : s.fromNumber,
      to: consultation ? String(consultation.to) : s.toNumber,
      queueId: s.queueId,
      contactId: s.contactId,
      consultation: consultation ? { caller: s.fromNumber } : null,
    });
  }
}
