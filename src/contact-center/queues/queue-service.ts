/**
 * The queues' service: what the rest of the contact center, the API and the engine's router call. It wires the
 * store (settings and members), the ACD (callers waiting, offers to members), the queue log and the live figures,
 * and hands the bus's agent, call and extension events to them.
 */
import type { Db, WriteJournal } from '../../db/index.ts';
import type { PbxEventBus } from '../../events/index.ts';
import type { Call } from '../../telephony/index.ts';
import type { AgentService } from '../agents.ts';
import type { Random } from '../strategies.ts';
import { Acd, type QueueTelephony } from './acd.ts';
import { QueueFigures } from './queue-figures.ts';
import { QueueLog } from './queue-log.ts';
import { QueueRuntimes } from './queue-runtime.ts';
import { type Queue, type QueueMember, type QueueSettings, QueueStore } from './queue-store.ts';

export class QueueService {
  private readonly store: QueueStore;
  private readonly log: QueueLog;
  private readonly live: QueueFigures;
  private readonly acd: Acd;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    db: Db,
    private readonly bus: PbxEventBus,
    agents: AgentService,
    telephony: QueueTelephony,
    onError: (err: unknown, context: string) => void,
    random: Random = Math.random,
    journal?: WriteJournal,
  ) {
    const runtimes = new QueueRuntimes();
    this.store = new QueueStore(db);
    this.log = new QueueLog(db, bus, onError, journal);
    this.live = new QueueFigures(bus, agents, runtimes);
    this.acd = new Acd(this.store, runtimes, this.log, this.live, bus, agents, telephony, onError, random);
  }

  async start(): Promise<void> {
    await this.store.load();
    this.unsubscribe.push(
      this.bus.on('agent.status.changed', (e) => this.acd.agentChanged(e.extensionId, e.to)),
      this.bus.on('call.ended', (e) => this.acd.callEnded(e.callId, e.cause)),
      this.bus.on('call.transferring', (e) => this.acd.transferred(e.callId, e.to)),
      this.bus.on('extension.deleted', (e) => this.store.forgetExtension(e.extensionId)),
    );
  }

  async stop(): Promise<void> {
    this.acd.stop();
    for (const off of this.unsubscribe.splice(0)) off();
    await this.log.close();
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
    this.acd.dispatch(queue);
    return queue;
  }

  /** Deletes the queue; its waiting callers go to its fallback (a hang-up if that is the queue itself). */
  async delete(tenantId: string, id: string): Promise<Queue> {
    const queue = await this.store.delete(tenantId, id);
    this.acd.evacuate(queue);
    return queue;
  }

  /** QueueAdd: the extension becomes a member (or changes its penalty). */
  async addMember(tenantId: string, queueId: string, extensionId: string, penalty = 0): Promise<QueueMember> {
    const { queue, member } = await this.store.addMember(tenantId, queueId, extensionId, penalty);
    this.log.record(queue, null, extensionId, 'ADDMEMBER', { penalty });
    this.live.publish(queue);
    this.acd.dispatch(queue);
    return member;
  }

  /** QueueRemove. */
  async removeMember(tenantId: string, queueId: string, extensionId: string): Promise<void> {
    const queue = await this.store.removeMember(tenantId, queueId, extensionId);
    this.log.record(queue, null, extensionId, 'REMOVEMEMBER', {});
    this.live.publish(queue);
  }

  /** QueuePause: paused in this queue only (the agent's own state is AWAY for all queues). */
  async pauseMember(tenantId: string, queueId: string, extensionId: string, paused: boolean, reason: string | null): Promise<QueueMember> {
    const { queue, member } = await this.store.pauseMember(tenantId, queueId, extensionId, paused, reason);
    this.log.record(queue, null, extensionId, paused ? 'PAUSE' : 'UNPAUSE', { reason });
    this.live.publish(queue);
    if (!paused) this.acd.dispatch(queue);
    return member;
  }

  // ---- live figures ---------------------------------------------------------------------------------------------

  status(tenantId: string, id: string) {
    return this.live.status(this.store.get(tenantId, id));
  }

  /** Seed 001's queue:update figures: waiting callers, members logged in, members free now, the longest wait (s). */
  figures(queue: Queue): { waiting: number; agents: number; available: number; longestWait: number } {
    return this.live.figures(queue);
  }

  // ---- the ACD --------------------------------------------------------------------------------------------------

  /** The engine's router: a number that is a queue's takes the call into it. */
  claim(tenantId: string, number: number): Promise<((call: Call) => void) | undefined> {
    return this.acd.claim(tenantId, number);
  }

  /** Offers waiting callers to idle members, best caller first, as long as both are left. */
  dispatch(queue: Queue): void {
    this.acd.dispatch(queue);
  }
}
