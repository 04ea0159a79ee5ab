/** The queues' service: what the rest of the contact center, the API and the engine's router call. */
import type { Db } from '../../db/index.ts';
import { inSlices, queueEvents, WriteBehind, type WriteJournal } from '../../db/index.ts';
import type { PbxEventBus } from '../../events/index.ts';
import { type Call, type CallParty, CallState, type EndCause, type RingTarget } from '../../telephony/index.ts';
import type { AgentService } from '../agents.ts';
import { type Candidate, orderCandidates, type Random } from '../strategies.ts';
import { type Queue, type QueueMember, type QueueSettings, QueueStore } from './queue-store.ts';

/** What the ACD needs of the engine: where an extension rings, and the extension a number names. */
export interface QueueTelephony {
  contactsOf(extensionId: string): Promise<RingTarget['contacts']>;
  findExtension(tenantId: string, number: number): Promise<{ extensionId: string; number: number; ringTimeout: number; isActive: boolean } | undefined>;
}

interface Waiting {
  call: Call;
  queueId: string;
  priority: number;
  enteredAt: number;
  /** Place on entering (1 = first), for the queue log. */
  originalPosition: number;
  /** The agents rung now, if an offer is in progress. */
  offering: string[] | undefined;
  /** Agents offered this round: the next offer goes to someone else until everyone was tried. */
  tried: Set<string>;
  notBefore: number;
  hops: number;
  maxWaitTimer: NodeJS.Timeout | undefined;
}

interface MemberStats {
  lastCallEndedAt: number;
  callsTaken: number;
}

interface Runtime {
  waiting: Waiting[];
  lastPosition: number;
  stats: Map<string, MemberStats>;
  /** Answered calls of the queue still in progress: who took them, for COMPLETECALLER/COMPLETEAGENT. */
  connected: Map<string, { extensionId: string; answeredAt: number; wait: number }>;
}

/** RFC 3261 section 20.26's Priority values, as waiting order (higher waits in front). */
export function callerPriority(header: string | undefined): number {
  switch (header?.trim().toLowerCase()) {
    case 'emergency':
      return 3;
    case 'urgent':
      return 2;
    case 'non-urgent':
      return -1;
    default:
      return 0;
  }
}

const MAX_HOPS = 5;

export class QueueService {
  private readonly store: QueueStore;
  private readonly runtime = new Map<string, Runtime>();
  private readonly unsubscribe: Array<() => void> = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  /** Queue events are written behind, one statement per batch, each keyed by its own row id. */
  private readonly events: WriteBehind<typeof queueEvents.$inferInsert>;

  constructor(
    private readonly db: Db,
    private readonly bus: PbxEventBus,
    private readonly agents: AgentService,
    private readonly telephony: QueueTelephony,
    private readonly onError: (err: unknown, context: string) => void,
    private readonly random: Random = Math.random,
    journal?: WriteJournal,
  ) {
    this.store = new QueueStore(db);
    this.events = new WriteBehind({
      name: 'queue-events',
      // One transaction, so a batch tried again after a failure cannot insert an event twice.
      write: (rows) => this.db.transaction((tx) => inSlices(rows, 500, (slice) => tx.insert(queueEvents).values(slice))),
      onError: this.onError,
      journal,
    });
  }

  async start(): Promise<void> {
    await this.store.load();
    this.unsubscribe.push(
      this.bus.on('agent.status.changed', (e) => {
        for (const q of this.store.all()) {
          if (!q.members.some((m) => m.extensionId === e.extensionId)) continue;
          this.publish(q);
          if (e.to === 'AVAILABLE') this.dispatch(q);
        }
      }),
      this.bus.on('call.ended', (e) => this.onCallEnded(e.callId, e.cause)),
      this.bus.on('call.transferring', (e) => this.onTransfer(e.callId, e.to)),
      this.bus.on('extension.deleted', (e) => {
        this.store.forgetExtension(e.extensionId);
      }),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const off of this.unsubscribe.splice(0)) off();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const rt of this.runtime.values()) for (const w of rt.waiting) clearTimeout(w.maxWaitTimer);
    await this.events.close();
  }

  private rt(queueId: string): Runtime {
    let rt = this.runtime.get(queueId);
    if (!rt) {
      rt = { waiting: [], lastPosition: -1, stats: new Map(), connected: new Map() };
      this.runtime.set(queueId, rt);
    }
    return rt;
  }

  // ---- settings and members -------------------------------------------------------------------------------------

  list(tenantId: string): Queue[] {
    return this.store.list(tenantId);
  }

  get(tenantId: string, id: string): Queue {
    return this.store.get(tenantId, id);
  }

  /** A queue's service-level threshold in seconds (app_queue's `servicelevel`; 20 for a queue deleted since). */
  thresholdOf(queueId: string): number {
    return this.store.thresholdOf(queueId);
  }

  findByNumber(tenantId: string, number: number): Queue | undefined {
    return this.store.findByNumber(tenantId, number);
  }

  async create(tenantId: string, settings: QueueSettings, members: Array<{ extensionId: string; penalty?: number }> = []): Promise<Queue> {
    const queue = await this.store.create(tenantId, settings);
    for (const m of members) await this.addMember(tenantId, queue.id, m.extensionId, m.penalty ?? 0);
    return queue;
  }

  async update(tenantId: string, id: string, patch: Partial<QueueSettings>): Promise<Queue> {
    const queue = await this.store.update(tenantId, id, patch);
    this.dispatch(queue);
    return queue;
  }

  /** Deletes the queue; its waiting callers go to its fallback (a hang-up if that is the queue itself). */
  async delete(tenantId: string, id: string): Promise<Queue> {
    const queue = await this.store.delete(tenantId, id);
    const rt = this.runtime.get(id);
    for (const w of [...(rt?.waiting ?? [])]) {
      this.leave(queue, w);
      w.call.stopRinging();
      void this.fallback(queue, w, 'queue-empty');
    }
    return queue;
  }

  /** QueueAdd: the extension becomes a member (or changes its penalty). */
  async addMember(tenantId: string, queueId: string, extensionId: string, penalty = 0): Promise<QueueMember> {
    const { queue, member } = await this.store.addMember(tenantId, queueId, extensionId, penalty);
    this.event(queue, null, extensionId, 'ADDMEMBER', { penalty });
    this.publish(queue);
    this.dispatch(queue);
    return member;
  }

  /** QueueRemove. */
  async removeMember(tenantId: string, queueId: string, extensionId: string): Promise<void> {
    const queue = await this.store.removeMember(tenantId, queueId, extensionId);
    this.event(queue, null, extensionId, 'REMOVEMEMBER', {});
    this.publish(queue);
  }

  /** QueuePause: paused in this queue only (the agent's own state is AWAY for all queues). */
  async pauseMember(tenantId: string, queueId: string, extensionId: string, paused: boolean, reason: string | null): Promise<QueueMember> {
    const { queue, member } = await this.store.pauseMember(tenantId, queueId, extensionId, paused, reason);
    this.event(queue, null, extensionId, paused ? 'PAUSE' : 'UNPAUSE', { reason });
    this.publish(queue);
    if (!paused) this.dispatch(queue);
    return member;
  }

  // ---- live figures ---------------------------------------------------------------------------------------------

  status(tenantId: string, id: string) {
    const queue = this.get(tenantId, id);
    const rt = this.rt(id);
    const now = Date.now();
    const members = queue.members.map((m) => {
      const agent = this.agents.find(m.extensionId);
      const stats = rt.stats.get(m.extensionId);
      return {
        extensionId: m.extensionId,
        extension: String(m.number),
        penalty: m.penalty,
        paused: m.paused,
        pauseReason: m.pauseReason,
        status: agent?.status ?? 'OFFLINE',
        callsTaken: stats?.callsTaken ?? 0,
        lastCallEndedAt: stats?.lastCallEndedAt ? new Date(stats.lastCallEndedAt) : null,
      };
    });
    return {
      queueId: id,
      name: queue.name,
      number: String(queue.number),
      ...this.figures(queue),
      callers: this.ordered(rt).map((w, i) => ({
        callId: w.call.id,
        from: String(w.call.caller.number),
        position: i + 1,
        priority: w.priority,
        wait: Math.round((now - w.enteredAt) / 1000),
        ringing: w.offering ? w.offering.map((e) => String(queue.members.find((m) => m.extensionId === e)?.number ?? '')) : [],
      })),
      members,
    };
  }

  /** Seed 001's queue:update figures: waiting callers, members logged in, members free now, the longest wait (s). */
  figures(queue: Queue): { waiting: number; agents: number; available: number; longestWait: number } {
    const rt = this.rt(queue.id);
    const now = Date.now();
    const loggedIn = queue.members.filter((m) => {
      const s = this.agents.find(m.extensionId)?.status;
      return s !== undefined && s !== 'OFFLINE';
    });
    return {
      waiting: rt.waiting.length,
      agents: loggedIn.length,
      available: queue.members.filter((m) => !m.paused && this.agents.isIdle(m.extensionId)).length,
      longestWait: rt.waiting.length === 0 ? 0 : Math.round((now - Math.min(...rt.waiting.map((w) => w.enteredAt))) / 1000),
    };
  }

  private publish(queue: Queue): void {
    this.bus.emit('queue.updated', { tenantId: queue.tenantId, queueId: queue.id, ...this.figures(queue) });
  }

  private event(queue: Queue, callId: string | null, extensionId: string | null, event: string, data: Record<string, unknown>): void {
    this.bus.emit('queue.event', { tenantId: queue.tenantId, queueId: queue.id, callId, extensionId, event, data });
    const id = crypto.randomUUID();
    this.events.put(id, { id, tenantId: queue.tenantId, queueId: queue.id, callId, extensionId, event, data, createdAt: new Date() });
    void this.events.flushSoon();
  }

  // ---- the ACD --------------------------------------------------------------------------------------------------

  /** The engine's router: a number that is a queue's takes the call into it. */
  async claim(tenantId: string, number: number): Promise<((call: Call) => void) | undefined> {
    const queue = this.findByNumber(tenantId, number);
    if (!queue || this.stopped) return undefined;
    return (call) => this.enter(queue, call, callerPriority(call.inbound?.message.headers.get('Priority')), 0);
  }

  private ordered(rt: Runtime): Waiting[] {
    return [...rt.waiting].sort((a, b) => b.priority - a.priority || a.enteredAt - b.enteredAt);
  }

  private eligible(queue: Queue): QueueMember[] {
    return queue.members.filter((m) => !m.paused && this.agents.isIdle(m.extensionId));
  }

  /** A caller arrives: full and empty queues send it to the fallback; otherwise it waits its turn. */
  private enter(queue: Queue, call: Call, priority: number, hops: number): void {
    const rt = this.rt(queue.id);
    const w: Waiting = {
      call,
      queueId: queue.id,
      priority,
      enteredAt: Date.now(),
      originalPosition: 0,
      offering: undefined,
      tried: new Set(),
      notBefore: 0,
      hops,
      maxWaitTimer: undefined,
    };
    const from = String(call.caller.number);
    if (queue.maxCallers > 0 && rt.waiting.length >= queue.maxCallers) {
      this.event(queue, call.id, null, 'FULL', { from, waiting: rt.waiting.length });
      void this.fallback(queue, w, 'queue-full');
      return;
    }
    const loggedIn = queue.members.some((m) => {
      const s = this.agents.find(m.extensionId)?.status;
      return s !== undefined && s !== 'OFFLINE';
    });
    const empty = queue.joinWhenEmpty === 'loggedin' ? !loggedIn : queue.joinWhenEmpty === 'available' ? this.eligible(queue).length === 0 : false;
    if (empty) {
      this.event(queue, call.id, null, 'JOINEMPTY', { from, rule: queue.joinWhenEmpty });
      void this.fallback(queue, w, 'queue-empty');
      return;
    }
    rt.waiting.push(w);
    w.originalPosition = this.ordered(rt).indexOf(w) + 1;
    this.event(queue, call.id, null, 'ENTERQUEUE', { from, position: w.originalPosition, priority });
    this.bus.emit('queue.entered', { tenantId: queue.tenantId, callId: call.id, queueId: queue.id, priority });
    if (queue.maxWait > 0) {
      w.maxWaitTimer = setTimeout(() => this.timedOut(queue, w), queue.maxWait * 1000);
      w.maxWaitTimer.unref();
    }
    this.publish(queue);
    this.dispatch(queue);
  }

  private position(queue: Queue, w: Waiting): number {
    return this.ordered(this.rt(queue.id)).indexOf(w) + 1;
  }

  /** Takes a caller out of the waiting list (answered, gone, or sent on). */
  private leave(queue: Queue, w: Waiting): void {
    const rt = this.rt(queue.id);
    const i = rt.waiting.indexOf(w);
    if (i >= 0) rt.waiting.splice(i, 1);
    clearTimeout(w.maxWaitTimer);
    this.publish(queue);
  }

  private timedOut(queue: Queue, w: Waiting): void {
    if (!this.rt(queue.id).waiting.includes(w)) return;
    this.event(queue, w.call.id, null, 'EXITWITHTIMEOUT', { position: this.position(queue, w), originalPosition: w.originalPosition, waitTime: waited(w) });
    this.leave(queue, w);
    w.call.stopRinging();
    void this.fallback(queue, w, 'queue-timeout');
  }

  /** Where a caller the queue cannot keep goes. */
  private async fallback(queue: Queue, w: Waiting, cause: EndCause): Promise<void> {
    const call = w.call;
    const target = queue.fallback;
    try {
      if (target.type === 'queue' && w.hops < MAX_HOPS) {
        const next = this.findByNumber(queue.tenantId, Number(target.target));
        if (next && next.id !== queue.id) {
          this.enter(next, call, w.priority, w.hops + 1);
          return;
        }
      }
      if (target.type === 'extension') {
        const ext = await this.telephony.findExtension(queue.tenantId, Number(target.target));
        const contacts = ext?.isActive ? await this.telephony.contactsOf(ext.extensionId) : [];
        if (ext && contacts.length > 0) {
          const outcome = await call.ring([{ party: { extensionId: ext.extensionId, number: ext.number }, contacts }], ext.ringTimeout);
          if (outcome === 'answered' || outcome === 'ended') return;
        }
      }
      call.giveUp(480, cause);
    } catch (err) {
      this.onError(err, 'queues:fallback');
      call.giveUp(480, cause);
    }
  }

  /** Offers waiting callers to idle members, best caller first, as long as both are left. */
  dispatch(queue: Queue): void {
    if (this.stopped || !this.store.has(queue.id)) return;
    const rt = this.rt(queue.id);
    const now = Date.now();
    let later = Infinity;
    for (const w of this.ordered(rt)) {
      if (w.offering) continue;
      if (w.notBefore > now) {
        later = Math.min(later, w.notBefore);
        continue;
      }
      const idle = this.eligible(queue);
      if (idle.length === 0) break;
      let fresh = idle.filter((m) => !w.tried.has(m.extensionId));
      if (fresh.length === 0) {
        // Everyone was tried this round: a new round begins.
        w.tried.clear();
        fresh = idle;
      }
      const candidates: Candidate[] = fresh.map((m) => ({
        extensionId: m.extensionId,
        penalty: m.penalty,
        position: queue.members.indexOf(m),
        lastCallEndedAt: rt.stats.get(m.extensionId)?.lastCallEndedAt ?? 0,
        callsTaken: rt.stats.get(m.extensionId)?.callsTaken ?? 0,
      }));
      const order = orderCandidates(queue.strategy, candidates, { lastPosition: rt.lastPosition }, this.random);
      const chosen = queue.strategy === 'ringall' ? order : order.slice(0, 1);
      const offered = chosen.filter((c) => this.agents.offered(c.extensionId, w.call.id));
      if (offered.length === 0) continue;
      if (queue.strategy === 'rrmemory' || queue.strategy === 'rrordered') rt.lastPosition = (offered[0] as Candidate).position;
      w.offering = offered.map((c) => c.extensionId);
      void this.offer(queue, w, w.offering);
    }
    if (later !== Infinity) this.schedule(queue, later - now);
  }

  private schedule(queue: Queue, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.dispatch(queue);
    }, Math.max(0, ms));
    t.unref();
    this.timers.add(t);
  }

  private async offer(queue: Queue, w: Waiting, extensionIds: string[]): Promise<void> {
    const call = w.call;
    const started = Date.now();
    let outcome;
    try {
      const targets: RingTarget[] = [];
      for (const id of extensionIds) {
        const member = queue.members.find((m) => m.extensionId === id);
        const contacts = await this.telephony.contactsOf(id);
        if (member && contacts.length > 0) targets.push({ party: { extensionId: id, number: member.number } satisfies CallParty, contacts });
      }
      this.bus.emit('queue.offered', { tenantId: queue.tenantId, callId: call.id, queueId: queue.id, extensionIds });
      outcome = targets.length === 0 ? 'unavailable' : await call.ring(targets, queue.ringTimeout);
      // The ring's answer comes a turn after the call's own events: a caller who hung up just as the agent
      // answered has ended the call (call.ended, ABANDON) by now, and the agent must not be put on it.
      if (call.state === CallState.Ended) outcome = 'ended';
    } catch (err) {
      this.onError(err, 'queues:offer');
      outcome = 'unavailable';
    }
    w.offering = undefined;
    const answeredBy = outcome === 'answered' ? call.callee?.extensionId : undefined;
    for (const id of extensionIds) {
      w.tried.add(id);
      if (id === answeredBy) continue;
      if (outcome === 'answered' || outcome === 'ended') {
        this.agents.notAnswered(id, call.id, 0, false);
        continue;
      }
      this.event(queue, call.id, id, 'RINGNOANSWER', { ringtime: Date.now() - started });
      if (this.agents.notAnswered(id, call.id, queue.autoPauseAfter) === 'paused') this.event(queue, null, id, 'PAUSE', { reason: 'Auto-pause' });
    }
    const rt = this.rt(queue.id);
    if (answeredBy) {
      const wait = waited(w);
      this.leave(queue, w);
      rt.connected.set(call.id, { extensionId: answeredBy, answeredAt: Date.now(), wait });
      const stats = rt.stats.get(answeredBy) ?? { lastCallEndedAt: 0, callsTaken: 0 };
      stats.callsTaken++;
      rt.stats.set(answeredBy, stats);
      this.agents.answeredQueueCall(answeredBy, call.id, queue.wrapUpTime);
      this.event(queue, call.id, answeredBy, 'CONNECT', { holdtime: wait, ringtime: Date.now() - started, position: w.originalPosition });
      this.bus.emit('queue.connected', { tenantId: queue.tenantId, callId: call.id, queueId: queue.id, extensionId: answeredBy, wait });
      return;
    }
    if (outcome === 'ended' || !rt.waiting.includes(w)) return;
    w.notBefore = Date.now() + queue.retryDelay * 1000;
    this.dispatch(queue);
  }

  /** app_queue's TRANSFER: the agent passed the caller on; it counts as the agent's call ending, not as COMPLETE. */
  private onTransfer(callId: string, target: number): void {
    for (const queue of this.store.all()) {
      const rt = this.runtime.get(queue.id);
      const c = rt?.connected.get(callId);
      if (!rt || !c) continue;
      rt.connected.delete(callId);
      const stats = rt.stats.get(c.extensionId);
      if (stats) stats.lastCallEndedAt = Date.now();
      this.event(queue, callId, c.extensionId, 'TRANSFER', { extension: String(target), holdtime: c.wait, calltime: Math.round((Date.now() - c.answeredAt) / 1000) });
    }
  }

  private onCallEnded(callId: string, cause: string): void {
    for (const queue of this.store.all()) {
      const rt = this.runtime.get(queue.id);
      if (!rt) continue;
      const w = rt.waiting.find((x) => x.call.id === callId);
      if (w) {
        this.event(queue, callId, null, 'ABANDON', { position: this.position(queue, w), originalPosition: w.originalPosition, waitTime: waited(w), cause });
        this.leave(queue, w);
      }
      const c = rt.connected.get(callId);
      if (c) {
        rt.connected.delete(callId);
        const stats = rt.stats.get(c.extensionId);
        if (stats) stats.lastCallEndedAt = Date.now();
        const talk = Math.round((Date.now() - c.answeredAt) / 1000);
        this.event(queue, callId, c.extensionId, cause === 'callee-hangup' ? 'COMPLETEAGENT' : 'COMPLETECALLER', { holdtime: c.wait, calltime: talk, cause });
      }
    }
  }
}

function waited(w: Waiting): number {
  return Math.round((Date.now() - w.enteredAt) / 1000);
}
