/**
 * The ACD: callers waiting in queues and the offers that ring them through to members. A caller who dials a
 * queue's number waits (hearing ringback) while the ACD offers the call to idle members by the queue's strategy,
 * one offer at a time (all of the best tier at once for `ringall`), each for the ring timeout; an offer nobody
 * answers is followed, after the retry delay, by the next choice. Callers of higher priority (the INVITE's
 * RFC 3261 Priority header) wait in front; several callers are offered at once when several members are idle.
 *
 * Too long a wait, a full queue or (by the join rule) nobody to answer sends the caller to the queue's fallback:
 * another queue, an extension, or a hang-up. Each step is written to the queue log in app_queue's words.
 */
import type { AgentStatus } from '../../db/index.ts';
import type { PbxEventBus } from '../../events/index.ts';
import { type Call, type CallParty, CallState, type EndCause, type RingTarget } from '../../telephony/index.ts';
import type { AgentService } from '../agents.ts';
import { type Candidate, orderCandidates, type Random } from '../strategies.ts';
import type { QueueFigures } from './queue-figures.ts';
import type { QueueLog } from './queue-log.ts';
import { callerPriority, newCaller, ordered, type QueueRuntimes, type Waiting, waited } from './queue-runtime.ts';
import type { Queue, QueueMember, QueueStore } from './queue-store.ts';

/** What the ACD needs of the engine: where an extension rings, and the extension a number names. */
export interface QueueTelephony {
  contactsOf(extensionId: string): Promise<RingTarget['contacts']>;
  findExtension(tenantId: string, number: number): Promise<{ extensionId: string; number: number; ringTimeout: number; isActive: boolean } | undefined>;
  /**
   * Sends a call to a number outside through the tenant's outbound routes, presenting `callerId` when given (else
   * the route's); false when no route or trunk takes it.
   */
  dialOut?(call: Call, number: string, callerId?: string | null): Promise<boolean>;
  /** A queue's own caller ID (`queues.caller_id`), or null. */
  callerIdOf?(tenantId: string, queueId: string): Promise<string | null>;
}

const MAX_HOPS = 5;

export class Acd {
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly store: QueueStore,
    private readonly runtimes: QueueRuntimes,
    private readonly log: QueueLog,
    private readonly figures: QueueFigures,
    private readonly bus: PbxEventBus,
    private readonly agents: AgentService,
    private readonly telephony: QueueTelephony,
    private readonly onError: (err: unknown, context: string) => void,
    private readonly random: Random,
  ) {}

  /** No more callers are taken or offered; the timers waiting to offer or to time callers out are cleared. */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const rt of this.runtimes.all()) for (const w of rt.waiting) clearTimeout(w.maxWaitTimer);
  }

  /** The engine's router: a number that is a queue's takes the call into it. */
  async claim(tenantId: string, number: number): Promise<((call: Call) => void) | undefined> {
    const queue = this.store.findByNumber(tenantId, number);
    if (!queue || this.stopped) return undefined;
    return (call) => this.enter(queue, call, callerPriority(call.callerHeader('Priority')), 0);
  }

  /** An agent's state changed: the figures of its queues change, and an agent free again may take a caller. */
  agentChanged(extensionId: string, to: AgentStatus): void {
    for (const q of this.store.all()) {
      if (!q.members.some((m) => m.extensionId === extensionId)) continue;
      this.figures.publish(q);
      if (to === 'AVAILABLE') this.dispatch(q);
    }
  }

  /** A deleted queue's waiting callers go to its fallback (a hang-up if that is the queue itself). */
  evacuate(queue: Queue): void {
    const rt = this.runtimes.peek(queue.id);
    for (const w of [...(rt?.waiting ?? [])]) {
      this.leave(queue, w);
      w.call.stopRinging();
      void this.fallback(queue, w, 'queue-empty');
    }
  }

  private eligible(queue: Queue): QueueMember[] {
    return queue.members.filter((m) => !m.paused && this.agents.isIdle(m.extensionId));
  }

  /** A caller arrives: full and empty queues send it to the fallback; otherwise it waits its turn. */
  private enter(queue: Queue, call: Call, priority: number, hops: number): void {
    const rt = this.runtimes.of(queue.id);
    const w = newCaller(call, queue.id, priority, hops);
    const from = String(call.caller.number);
    if (queue.maxCallers > 0 && rt.waiting.length >= queue.maxCallers) {
      this.log.record(queue, call.id, null, 'FULL', { from, waiting: rt.waiting.length });
      void this.fallback(queue, w, 'queue-full');
      return;
    }
    const loggedIn = queue.members.some((m) => {
      const s = this.agents.find(m.extensionId)?.status;
      return s !== undefined && s !== 'OFFLINE';
    });
    const empty = queue.joinWhenEmpty === 'loggedin' ? !loggedIn : queue.joinWhenEmpty === 'available' ? this.eligible(queue).length === 0 : false;
    if (empty) {
      this.log.record(queue, call.id, null, 'JOINEMPTY', { from, rule: queue.joinWhenEmpty });
      void this.fallback(queue, w, 'queue-empty');
      return;
    }
    rt.waiting.push(w);
    w.originalPosition = ordered(rt).indexOf(w) + 1;
    this.log.record(queue, call.id, null, 'ENTERQUEUE', { from, position: w.originalPosition, priority });
    this.bus.emit('queue.entered', { tenantId: queue.tenantId, callId: call.id, queueId: queue.id, priority });
    if (queue.maxWait > 0) {
      w.maxWaitTimer = setTimeout(() => this.timedOut(queue, w), queue.maxWait * 1000);
      w.maxWaitTimer.unref();
    }
    this.figures.publish(queue);
    this.dispatch(queue);
  }

  private position(queue: Queue, w: Waiting): number {
    return ordered(this.runtimes.of(queue.id)).indexOf(w) + 1;
  }

  /** Takes a caller out of the waiting list (answered, gone, or sent on). */
  private leave(queue: Queue, w: Waiting): void {
    const rt = this.runtimes.of(queue.id);
    const i = rt.waiting.indexOf(w);
    if (i >= 0) rt.waiting.splice(i, 1);
    clearTimeout(w.maxWaitTimer);
    this.figures.publish(queue);
  }

  private timedOut(queue: Queue, w: Waiting): void {
    if (!this.runtimes.of(queue.id).waiting.includes(w)) return;
    this.log.record(queue, w.call.id, null, 'EXITWITHTIMEOUT', { position: this.position(queue, w), originalPosition: w.originalPosition, waitTime: waited(w) });
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
        const next = this.store.findByNumber(queue.tenantId, Number(target.target));
        if (next && next.id !== queue.id) {
          this.enter(next, call, w.priority, w.hops + 1);
          return;
        }
      }
      // A number outside: the call goes out through the tenant's routes, trunk after trunk, and ends as they end.
      // It presents the queue's caller ID when the queue has one (the caller's own number is not ours to show).
      if (target.type === 'external' && this.telephony.dialOut) {
        const callerId = (await this.telephony.callerIdOf?.(queue.tenantId, queue.id)) ?? null;
        if (await this.telephony.dialOut(call, target.target, callerId)) return;
      }
      if (target.type === 'extension') {
        const ext = await this.telephony.findExtension(queue.tenantId, Number(target.target));
        const contacts = ext?.isActive ? await this.telephony.contactsOf(ext.extensionId) : [];
        if (ext && contacts.length > 0) {
          const outcome = await call.ring([{ party: { extensionId: ext.extensionId, number: String(ext.number) }, contacts }], ext.ringTimeout);
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
    const rt = this.runtimes.of(queue.id);
    const now = Date.now();
    let later = Infinity;
    for (const w of ordered(rt)) {
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
        if (member && contacts.length > 0) targets.push({ party: { extensionId: id, number: String(member.number) } satisfies CallParty, contacts });
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
      this.log.record(queue, call.id, id, 'RINGNOANSWER', { ringtime: Date.now() - started });
      if (this.agents.notAnswered(id, call.id, queue.autoPauseAfter) === 'paused') this.log.record(queue, null, id, 'PAUSE', { reason: 'Auto-pause' });
    }
    const rt = this.runtimes.of(queue.id);
    if (answeredBy) {
      const wait = waited(w);
      this.leave(queue, w);
      rt.connected.set(call.id, { extensionId: answeredBy, answeredAt: Date.now(), wait });
      const stats = rt.stats.get(answeredBy) ?? { lastCallEndedAt: 0, callsTaken: 0 };
      stats.callsTaken++;
      rt.stats.set(answeredBy, stats);
      this.agents.answeredQueueCall(answeredBy, call.id, queue.wrapUpTime);
      this.log.record(queue, call.id, answeredBy, 'CONNECT', { holdtime: wait, ringtime: Date.now() - started, position: w.originalPosition });
      this.bus.emit('queue.connected', { tenantId: queue.tenantId, callId: call.id, queueId: queue.id, extensionId: answeredBy, wait });
      return;
    }
    if (outcome === 'ended' || !rt.waiting.includes(w)) return;
    w.notBefore = Date.now() + queue.retryDelay * 1000;
    this.dispatch(queue);
  }

  /** app_queue's TRANSFER: the agent passed the caller on; it counts as the agent's call ending, not as COMPLETE. */
  transferred(callId: string, target: string): void {
    for (const queue of this.store.all()) {
      const rt = this.runtimes.peek(queue.id);
      const c = rt?.connected.get(callId);
      if (!rt || !c) continue;
      rt.connected.delete(callId);
      const stats = rt.stats.get(c.extensionId);
      if (stats) stats.lastCallEndedAt = Date.now();
      this.log.record(queue, callId, c.extensionId, 'TRANSFER', { extension: target, holdtime: c.wait, calltime: Math.round((Date.now() - c.answeredAt) / 1000) });
    }
  }

  /** A call ended: a caller still waiting abandoned (ABANDON); an answered one is complete (COMPLETEAGENT/COMPLETECALLER). */
  callEnded(callId: string, cause: string): void {
    for (const queue of this.store.all()) {
      const rt = this.runtimes.peek(queue.id);
      if (!rt) continue;
      const w = rt.waiting.find((x) => x.call.id === callId);
      if (w) {
        this.log.record(queue, callId, null, 'ABANDON', { position: this.position(queue, w), originalPosition: w.originalPosition, waitTime: waited(w), cause });
        this.leave(queue, w);
      }
      const c = rt.connected.get(callId);
      if (c) {
        rt.connected.delete(callId);
        const stats = rt.stats.get(c.extensionId);
        if (stats) stats.lastCallEndedAt = Date.now();
        const talk = Math.round((Date.now() - c.answeredAt) / 1000);
        this.log.record(queue, callId, c.extensionId, cause === 'callee-hangup' ? 'COMPLETEAGENT' : 'COMPLETECALLER', { holdtime: c.wait, calltime: talk, cause });
      }
    }
  }
}
