/**
 * Agents: one per extension, each in a state of {@link AGENT_TRANSITIONS}, kept in memory (the ACD reads it on
 * every decision) and written through to the extension row and the activity log, in order, per agent.
 *
 * State follows reality, not only what people click:
 * - no registered device: OFFLINE, and AVAILABLE is refused (a phantom available agent is the worst bug there is);
 * - a queue offer: RINGING; answered: BUSY; hung up: WRAP_UP for the queue's time, then AVAILABLE;
 * - a direct or outbound call: BUSY, then back to the state before it;
 * - AWAY or OFFLINE asked for during a call takes effect when the call ends (the call is not cut);
 * - a restart never leaves an agent RINGING, BUSY or WRAP_UP.
 */
import { eq, sql } from 'drizzle-orm';
import { agentActivityLog, type Db, extensions, tenants } from '../db/index.ts';
import { inSlices, WriteBehind } from '../db/write-behind.ts';
import type { WriteJournal } from '../db/write-journal.ts';
import { PbxError } from '../errors/index.ts';
import type { PbxEventBus } from '../events/index.ts';
import { type AgentStatus, assertMove, type SettableState } from './agent-state.ts';

/** Whether an extension has a device registered now (the registrar's location service). */
export interface AgentPresence {
  isRegistered(extensionId: string): boolean;
}

export interface AgentSnapshot {
  extensionId: string;
  tenantId: string;
  userId: string;
  number: number;
  status: AgentStatus;
  reason: string | null;
  /** When the agent entered its state. */
  since: Date;
  /** The calls the agent is on (engine call ids). */
  calls: string[];
  /** The queue call being offered to the agent, while RINGING. */
  offeredCallId: string | undefined;
  /** The state asked for during a call, applied when it ends. */
  pending: { status: 'AWAY' | 'OFFLINE'; reason: string | null } | undefined;
  registered: boolean;
}

interface Agent {
  extensionId: string;
  tenantId: string;
  userId: string;
  number: number;
  isActive: boolean;
  status: AgentStatus;
  reason: string | null;
  since: number;
  /** Calls the agent is on, with the wrap-up each earns when it ends. */
  calls: Map<string, { wrapUp: number }>;
  /**
   * The longest wrap-up earned by a call that ended while the agent was still on another (a phone's attended
   * transfer leaves the queue call first): it is owed once the last call ends.
   */
  owedWrapUp: { seconds: number; callId: string } | undefined;
  /** Direct calls ringing the agent's devices: the ACD does not offer on top of them. */
  ringing: Set<string>;
  offeredCallId: string | undefined;
  resumeTo: { status: AgentStatus; reason: string | null } | undefined;
  pending: { status: 'AWAY' | 'OFFLINE'; reason: string | null } | undefined;
  wrapUpTimer: NodeJS.Timeout | undefined;
  /** Queue offers left unanswered in a row (auto-pause). */
  unanswered: number;
  /** Settles when this agent's last change is written. */
  written: Promise<void>;
}

interface StatusChange {
  tenantId: string;
  extensionId: string;
  userId: string | null;
  from: AgentStatus;
  to: AgentStatus;
  reason: string | null;
  callId: string | null;
  at: Date;
}

export const AUTO_PAUSE_REASON = 'Auto-pause';
export const RESTART_REASON = 'Server restart';
export const UNREGISTERED_REASON = 'No registered device';

export class AgentService {
  private readonly agents = new Map<string, Agent>();
  private readonly unsubscribe: Array<() => void> = [];
  private readonly awayReasons = new Map<string, string[]>();
  /**
   * Every call moves its agents two or three times: the changes are written behind, in batches. An agent's
   * latest status (one row per extension) and the activity log (every change, in order) are written together.
   */
  private readonly writer: WriteBehind<StatusChange>;

  constructor(
    private readonly db: Db,
    private readonly bus: PbxEventBus,
    private readonly presence: AgentPresence,
    private readonly onError: (err: unknown, context: string) => void,
    journal?: WriteJournal,
  ) {
    this.writer = new WriteBehind({ name: 'agents', write: (changes) => this.write(changes), onError: this.onError, journal, gatherMs: 50 });
  }

  private async write(changes: StatusChange[]): Promise<void> {
    // The latest change of each agent sets its row; every change goes to the log. One transaction, so a batch
    // tried again after a failure cannot log a change twice.
    const latest = new Map<string, StatusChange>();
    for (const c of changes) latest.set(c.extensionId, c);
    await this.db.transaction(async (tx) => {
      await inSlices([...latest.values()], 500, (slice) =>
        tx.execute(sql`
          update ${extensions} set status = v.status, status_reason = v.reason, status_changed_at = v.at, updated_at = v.at
          from (values ${sql.join(
            slice.map((c) => sql`(${c.extensionId}::uuid, ${c.tenantId}::uuid, ${c.to}, ${c.reason}::text, ${c.at.toISOString()}::timestamptz)`),
            sql`, `,
          )}) as v(id, tenant_id, status, reason, at)
          where ${extensions.id} = v.id and ${extensions.tenantId} = v.tenant_id`),
      );
      await inSlices(changes, 500, (slice) =>
        tx.insert(agentActivityLog).values(
          slice.map((c) => ({ tenantId: c.tenantId, extensionId: c.extensionId, userId: c.userId, fromStatus: c.from, toStatus: c.to, reason: c.reason, callId: c.callId, createdAt: c.at })),
        ),
      );
    });
  }

  /** Loads every extension's agent, puts right what a stop left behind, and follows registrations and calls. */
  async start(): Promise<void> {
    // What an earlier run journaled is written before the state it left behind is read.
    await this.writer.flush();
    const rows = await this.db.select().from(extensions);
    for (const row of rows) {
      const agent = this.add(row);
      const registered = this.presence.isRegistered(agent.extensionId);
      if (agent.status === 'RINGING' || agent.status === 'BUSY' || agent.status === 'WRAP_UP') {
        this.move(agent, registered ? 'AVAILABLE' : 'OFFLINE', RESTART_REASON, null);
      } else if (agent.status === 'AVAILABLE' && !registered) {
        this.move(agent, 'OFFLINE', UNREGISTERED_REASON, null);
      }
    }
    for (const t of await this.db.select({ id: tenants.id, reasons: tenants.awayReasons }).from(tenants)) this.awayReasons.set(t.id, t.reasons);
    const { bus } = this;
    this.unsubscribe.push(
      bus.on('extension.created', (e) => this.reload(e.extensionId)),
      bus.on('extension.updated', (e) => this.reload(e.extensionId)),
      bus.on('extension.deleted', (e) => this.forget(e.extensionId)),
      bus.on('tenant.created', (e) => void this.awayReasons.set(e.tenantId, ['Break', 'Lunch', 'Training', 'Meeting'])),
      bus.on('registration.removed', (e) => this.deviceGone(e.extensionId)),
      bus.on('call.created', (e) => {
        this.joined(e.callerExtensionId, e.callId);
        const callee = e.calleeExtensionId && this.agents.get(e.calleeExtensionId);
        if (callee) callee.ringing.add(e.callId);
      }),
      bus.on('call.answered', (e) => this.joined(e.calleeExtensionId, e.callId)),
      // A blind transfer: the agent who let the caller go is done with it (wrap-up for a queue call)...
      bus.on('call.transferring', (e) => {
        const agent = this.agentOf(e.fromExtensionId);
        if (agent) this.left(agent, e.callId);
        if (!e.attended && e.toExtensionId) this.agentOf(e.toExtensionId)?.ringing.add(e.callId);
      }),
      // ...and the target who answered is on it.
      bus.on('call.transferred', (e) => this.joined(e.toExtensionId, e.callId)),
      // An attended transfer's target is rung, then on the call with the agent while it consults, and let go if
      // the consultation ends without a transfer.
      bus.on('call.consulting', (e) => void this.agentOf(e.toExtensionId)?.ringing.add(e.callId)),
      bus.on('call.consulted', (e) => this.joined(e.toExtensionId, e.callId)),
      bus.on('call.consultation.ended', (e) => {
        const target = this.agentOf(e.toExtensionId);
        if (target) this.left(target, e.callId);
      }),
      bus.on('call.ended', (e) => {
        this.remember(e.callId);
        for (const agent of this.agents.values()) if (agent.calls.has(e.callId) || agent.ringing.has(e.callId)) this.left(agent, e.callId);
      }),
    );
  }

  /** Waits for every state change to be written. */
  async flush(): Promise<void> {
    await this.writer.flush();
  }

  async stop(): Promise<void> {
    for (const off of this.unsubscribe.splice(0)) off();
    for (const agent of this.agents.values()) clearTimeout(agent.wrapUpTimer);
    await this.writer.close();
  }

  private add(row: typeof extensions.$inferSelect): Agent {
    const agent: Agent = {
      extensionId: row.id,
      tenantId: row.tenantId,
      userId: row.userId,
      number: row.number,
      isActive: row.isActive,
      status: row.status,
      reason: row.statusReason,
      since: row.statusChangedAt.getTime(),
      calls: new Map(),
      ringing: new Set(),
      offeredCallId: undefined,
      resumeTo: undefined,
      pending: undefined,
      wrapUpTimer: undefined,
      unanswered: 0,
      owedWrapUp: undefined,
      written: Promise.resolve(),
    };
    this.agents.set(row.id, agent);
    return agent;
  }

  private async reload(extensionId: string): Promise<void> {
    const [row] = await this.db.select().from(extensions).where(eq(extensions.id, extensionId));
    if (!row) return;
    const agent = this.agents.get(extensionId);
    if (!agent) {
      this.add(row);
      return;
    }
    agent.isActive = row.isActive;
    agent.number = row.number;
    if (!row.isActive && agent.status !== 'OFFLINE' && agent.calls.size === 0) this.move(agent, 'OFFLINE', 'Extension deactivated', null);
  }

  private forget(extensionId: string): void {
    const agent = this.agents.get(extensionId);
    if (!agent) return;
    clearTimeout(agent.wrapUpTimer);
    this.agents.delete(extensionId);
  }

  get(tenantId: string, extensionId: string): AgentSnapshot {
    const agent = this.agents.get(extensionId);
    if (!agent || agent.tenantId !== tenantId) throw new PbxError('PBX_ERR_EXTENSION_NOT_FOUND');
    return this.snapshot(agent);
  }

  find(extensionId: string): AgentSnapshot | undefined {
    const agent = this.agents.get(extensionId);
    return agent && this.snapshot(agent);
  }

  /** The agent of a user (a user has one extension at most). */
  ofUser(tenantId: string, userId: string): AgentSnapshot | undefined {
    for (const agent of this.agents.values()) if (agent.tenantId === tenantId && agent.userId === userId) return this.snapshot(agent);
    return undefined;
  }

  list(tenantId: string): AgentSnapshot[] {
    return [...this.agents.values()].filter((a) => a.tenantId === tenantId).map((a) => this.snapshot(a));
  }

  private snapshot(agent: Agent): AgentSnapshot {
    return {
      extensionId: agent.extensionId,
      tenantId: agent.tenantId,
      userId: agent.userId,
      number: agent.number,
      status: agent.status,
      reason: agent.reason,
      since: new Date(agent.since),
      calls: [...agent.calls.keys()],
      offeredCallId: agent.offeredCallId,
      pending: agent.pending,
      registered: this.presence.isRegistered(agent.extensionId),
    };
  }

  /** Free for a queue offer: AVAILABLE, registered, on no call, rung by nothing else. */
  isIdle(extensionId: string): boolean {
    const agent = this.agents.get(extensionId);
    return (
      !!agent &&
      agent.isActive &&
      agent.status === 'AVAILABLE' &&
      agent.calls.size === 0 &&
      agent.ringing.size === 0 &&
      agent.offeredCallId === undefined &&
      this.presence.isRegistered(extensionId)
    );
  }

  awayReasonsOf(tenantId: string): string[] {
    return this.awayReasons.get(tenantId) ?? [];
  }

  async setAwayReasons(tenantId: string, reasons: string[]): Promise<string[]> {
    const unique = [...new Set(reasons.map((r) => r.trim()).filter((r) => r.length > 0))];
    await this.db.update(tenants).set({ awayReasons: unique, updatedAt: new Date() }).where(eq(tenants.id, tenantId));
    this.awayReasons.set(tenantId, unique);
    return unique;
  }

  /**
   * A change asked for by a person (the agent, or staff). AVAILABLE needs a registered device. During a call, AWAY
   * and OFFLINE wait for its end; AVAILABLE cancels such a wait (and ends a wrap-up early). BUSY follows calls:
   * seed 001 lists it among the states a client sends, and asking for it is refused.
   */
  async setStatus(tenantId: string, extensionId: string, status: SettableState | 'BUSY', reason: string | null): Promise<AgentSnapshot> {
    if (status === 'BUSY') throw new PbxError('PBX_ERR_AGENT_STATE', 'BUSY follows calls; to stop taking calls, set AWAY with a reason');
    const agent = this.agents.get(extensionId);
    if (!agent || agent.tenantId !== tenantId) throw new PbxError('PBX_ERR_EXTENSION_NOT_FOUND');
    const why = status === 'AWAY' ? reason : null;
    if (status === 'AWAY' && why !== null && !this.awayReasonsOf(tenantId).includes(why)) {
      throw new PbxError('PBX_ERR_VALIDATION', `"${why}" is not one of this tenant's away reasons`, { details: { awayReasons: this.awayReasonsOf(tenantId) } });
    }
    if (status === 'AVAILABLE') {
      if (!agent.isActive) throw new PbxError('PBX_ERR_AGENT_NOT_REGISTERED', 'The extension is deactivated');
      if (!this.presence.isRegistered(extensionId)) throw new PbxError('PBX_ERR_AGENT_NOT_REGISTERED');
    }
    const onCall = agent.calls.size > 0 || agent.status === 'RINGING';
    if (onCall) {
      agent.pending = status === 'AVAILABLE' ? undefined : { status, reason: why };
    } else if (status !== agent.status || why !== agent.reason) {
      clearTimeout(agent.wrapUpTimer);
      agent.wrapUpTimer = undefined;
      agent.unanswered = 0;
      this.move(agent, status, why, null);
    }
    await agent.written;
    return this.snapshot(agent);
  }

  /** The ACD offers a queue call: AVAILABLE becomes RINGING. Answers false if the agent is not idle any more. */
  offered(extensionId: string, callId: string): boolean {
    const agent = this.agents.get(extensionId);
    if (!agent || !this.isIdle(extensionId)) return false;
    agent.offeredCallId = callId;
    this.move(agent, 'RINGING', null, callId);
    return true;
  }

  /**
   * The offer ended without this agent answering: back to AVAILABLE. A missed offer counts towards the auto-pause
   * (after `autoPauseAfter` in a row; 0: never); one withdrawn (another agent answered, the caller left) does not.
   */
  notAnswered(extensionId: string, callId: string, autoPauseAfter: number, missed = true): 'available' | 'paused' | 'other' {
    const agent = this.agents.get(extensionId);
    if (!agent || agent.offeredCallId !== callId) return 'other';
    agent.offeredCallId = undefined;
    if (agent.status !== 'RINGING') return 'other';
    if (missed) agent.unanswered++;
    if (agent.pending) {
      this.applyPending(agent, callId);
      return 'other';
    }
    if (!this.presence.isRegistered(extensionId)) {
      this.move(agent, 'OFFLINE', UNREGISTERED_REASON, callId);
      return 'other';
    }
    if (autoPauseAfter > 0 && agent.unanswered >= autoPauseAfter) {
      agent.unanswered = 0;
      this.move(agent, 'AWAY', AUTO_PAUSE_REASON, callId);
      return 'paused';
    }
    this.move(agent, 'AVAILABLE', null, callId);
    return 'available';
  }

  /** A queue call the agent answered earns `wrapUp` seconds of WRAP_UP when it ends. */
  answeredQueueCall(extensionId: string, callId: string, wrapUp: number): void {
    const agent = this.agents.get(extensionId);
    if (!agent) return;
    agent.offeredCallId = agent.offeredCallId === callId ? undefined : agent.offeredCallId;
    agent.unanswered = 0;
    this.joined(extensionId, callId);
    const entry = agent.calls.get(callId);
    if (entry) entry.wrapUp = wrapUp;
  }

  /** Calls that ended in the last minute, by id, with when: news of them that comes late changes no agent. */
  private readonly endedCalls = new Map<string, number>();

  private remember(callId: string): void {
    const now = Date.now();
    this.endedCalls.set(callId, now);
    for (const [id, at] of this.endedCalls) {
      if (now - at < 60_000) break;
      this.endedCalls.delete(id);
    }
  }

  /** The agent is on a call (it placed one, or answered one): BUSY. Never on a call that has ended. */
  /** The agent of an extension; a party outside (through a trunk) has none. */
  private agentOf(extensionId: string | undefined): Agent | undefined {
    return extensionId === undefined ? undefined : this.agents.get(extensionId);
  }

  private joined(extensionId: string | undefined, callId: string): void {
    const agent = this.agentOf(extensionId);
    if (!agent || agent.calls.has(callId) || this.endedCalls.has(callId)) return;
    agent.ringing.delete(callId);
    if (agent.offeredCallId === callId) agent.offeredCallId = undefined;
    agent.calls.set(callId, { wrapUp: 0 });
    clearTimeout(agent.wrapUpTimer);
    agent.wrapUpTimer = undefined;
    if (agent.status !== 'BUSY') {
      const before = agent.status === 'RINGING' || agent.status === 'WRAP_UP' ? 'AVAILABLE' : agent.status;
      agent.resumeTo ??= { status: before, reason: before === 'AWAY' ? agent.reason : null };
      this.move(agent, 'BUSY', null, callId);
    }
  }

  /** A call of the agent ended: wrap-up for a queue call, else back to where it was; what was asked meanwhile wins. */
  private left(agent: Agent, callId: string): void {
    agent.ringing.delete(callId);
    const entry = agent.calls.get(callId);
    if (!entry) return;
    agent.calls.delete(callId);
    if (agent.calls.size > 0 && entry.wrapUp > (agent.owedWrapUp?.seconds ?? 0)) agent.owedWrapUp = { seconds: entry.wrapUp, callId };
    if (agent.calls.size > 0 || agent.status !== 'BUSY') return;
    const owed = agent.owedWrapUp;
    agent.owedWrapUp = undefined;
    const wrapUp = owed && owed.seconds > entry.wrapUp ? owed : { seconds: entry.wrapUp, callId };
    const resume = agent.resumeTo ?? { status: 'AVAILABLE' as const, reason: null };
    agent.resumeTo = undefined;
    if (agent.pending) {
      this.applyPending(agent, callId);
    } else if (!this.presence.isRegistered(agent.extensionId) || !agent.isActive) {
      this.move(agent, 'OFFLINE', UNREGISTERED_REASON, callId);
    } else if (wrapUp.seconds > 0) {
      this.move(agent, 'WRAP_UP', null, wrapUp.callId);
      agent.wrapUpTimer = setTimeout(() => {
        agent.wrapUpTimer = undefined;
        if (agent.status === 'WRAP_UP' && this.agents.get(agent.extensionId) === agent) this.move(agent, 'AVAILABLE', null, null);
      }, wrapUp.seconds * 1000);
      agent.wrapUpTimer.unref();
    } else {
      this.move(agent, resume.status, resume.reason, callId);
    }
  }

  private applyPending(agent: Agent, callId: string | null): void {
    const pending = agent.pending as NonNullable<Agent['pending']>;
    agent.pending = undefined;
    this.move(agent, pending.status, pending.reason, callId);
  }

  /** A registration went: with no device left the agent is OFFLINE (after its call, if on one). */
  private deviceGone(extensionId: string): void {
    const agent = this.agents.get(extensionId);
    if (!agent || agent.status === 'OFFLINE' || this.presence.isRegistered(extensionId)) return;
    if (agent.calls.size > 0 || agent.status === 'RINGING') return; // settled when the call or the offer ends
    clearTimeout(agent.wrapUpTimer);
    agent.wrapUpTimer = undefined;
    this.move(agent, 'OFFLINE', UNREGISTERED_REASON, null);
  }

  /** The one place a state changes: checked against the table, told on the bus, written in order. */
  private move(agent: Agent, to: AgentStatus, reason: string | null, callId: string | null): void {
    const from = agent.status;
    if (from === to && agent.reason === reason) return;
    if (from !== to) assertMove(from, to);
    agent.status = to;
    agent.reason = reason;
    agent.since = Date.now();
    const at = new Date(agent.since);
    this.bus.emit('agent.status.changed', {
      tenantId: agent.tenantId,
      extensionId: agent.extensionId,
      userId: agent.userId,
      number: agent.number,
      from,
      to,
      reason,
      callId,
      at,
    });
    // Keyed by a new id, not a counter: a key must stay unique across restarts for changes the journal keeps.
    this.writer.put(crypto.randomUUID(), { tenantId: agent.tenantId, extensionId: agent.extensionId, userId: agent.userId, from, to, reason, callId, at });
    agent.written = this.writer.flushSoon();
  }
}
