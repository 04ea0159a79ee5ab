/**
 * The queue log: everything that happens in a queue, as an event in the words of app_queue's queue_log (ENTERQUEUE,
 * CONNECT, RINGNOANSWER, ABANDON, ADDMEMBER, PAUSE...), published on the bus and written behind to the database.
 * The queue metrics are computed from these rows.
 */
import type { Db } from '../../db/index.ts';
import { inSlices, queueEvents, WriteBehind, type WriteJournal } from '../../db/index.ts';
import type { PbxEventBus } from '../../events/index.ts';
import type { Queue } from './queue-store.ts';

export class QueueLog {
  /** Queue events are written behind, one statement per batch, each keyed by its own row id. */
  private readonly events: WriteBehind<typeof queueEvents.$inferInsert>;

  constructor(
    private readonly db: Db,
    private readonly bus: PbxEventBus,
    onError: (err: unknown, context: string) => void,
    journal?: WriteJournal,
  ) {
    this.events = new WriteBehind({
      name: 'queue-events',
      // One transaction, so a batch tried again after a failure cannot insert an event twice.
      write: (rows) => this.db.transaction((tx) => inSlices(rows, 500, (slice) => tx.insert(queueEvents).values(slice))),
      onError,
      journal,
    });
  }

  record(queue: Queue, callId: string | null, extensionId: string | null, event: string, data: Record<string, unknown>): void {
    this.bus.emit('queue.event', { tenantId: queue.tenantId, queueId: queue.id, callId, extensionId, event, data });
    const id = crypto.randomUUID();
    this.events.put(id, { id, tenantId: queue.tenantId, queueId: queue.id, callId, extensionId, event, data, createdAt: new Date() });
    void this.events.flushSoon();
  }

  /** At a stop: writes the events still behind, or leaves them to the journal for the next start. */
  close(): Promise<void> {
    return this.events.close();
  }
}
