/**
 * A queue's live figures, for wallboards and the API: who waits and for how long, which members are logged in and
 * free, what each member has taken. `publish` sends them as `queue.updated` whenever they may have changed.
 */
import type { PbxEventBus } from '../../events/index.ts';
import type { AgentService } from '../agents.ts';
import { ordered, type QueueRuntimes } from './queue-runtime.ts';
import type { Queue } from './queue-store.ts';

export class QueueFigures {
  constructor(
    private readonly bus: PbxEventBus,
    private readonly agents: Pick<AgentService, 'find' | 'isIdle'>,
    private readonly runtimes: QueueRuntimes,
  ) {}

  /** The queue's status: its figures, its callers in waiting order, and its members. */
  status(queue: Queue) {
    const id = queue.id;
    const rt = this.runtimes.of(id);
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
      callers: ordered(rt).map((w, i) => ({
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
    const rt = this.runtimes.of(queue.id);
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

  publish(queue: Queue): void {
    this.bus.emit('queue.updated', { tenantId: queue.tenantId, queueId: queue.id, ...this.figures(queue) });
  }
}
