/**
 * The queue store: each tenant's queues, their settings and their members, kept in memory for the ACD and written
 * through to the database. It checks what a change needs (the queue in the tenant, a number no extension or other
 * queue has, an extension that exists); what follows a change (the queue log, the figures, new offers) is the
 * service's to do.
 */
import { and, asc, eq } from 'drizzle-orm';
import type { Db, QueueFallback, QueueStrategy } from '../../db/index.ts';
import { extensions, isUniqueViolation, queueMembers, queues } from '../../db/index.ts';
import { PbxError } from '../../errors/index.ts';

export interface QueueSettings {
  name: string;
  number: number;
  strategy: QueueStrategy;
  ringTimeout: number;
  retryDelay: number;
  wrapUpTime: number;
  maxWait: number;
  maxCallers: number;
  fallback: QueueFallback;
  joinWhenEmpty: 'yes' | 'loggedin' | 'available';
  serviceLevel: number;
  autoPauseAfter: number;
}

export interface QueueMember {
  extensionId: string;
  number: number;
  penalty: number;
  paused: boolean;
  pauseReason: string | null;
  /** Milliseconds since epoch the member was added: its place in `linear` and `rrordered`. */
  addedAt: number;
}

export interface Queue extends QueueSettings {
  id: string;
  tenantId: string;
  members: QueueMember[];
  createdAt: Date;
  updatedAt: Date;
}

export class QueueStore {
  private readonly queues = new Map<string, Queue>();

  constructor(private readonly db: Db) {}

  /** Reads every queue and its members, oldest member first. */
  async load(): Promise<void> {
    for (const row of await this.db.select().from(queues)) this.queues.set(row.id, { ...row, members: [] });
    const members = await this.db
      .select({ m: queueMembers, number: extensions.number })
      .from(queueMembers)
      .innerJoin(extensions, eq(extensions.id, queueMembers.extensionId))
      .orderBy(asc(queueMembers.createdAt));
    for (const { m, number } of members) this.queues.get(m.queueId)?.members.push(memberOf(m, number));
  }

  /** Every tenant's queues. */
  all(): IterableIterator<Queue> {
    return this.queues.values();
  }

  /** Whether the queue still exists (a queue deleted since is offered to nobody). */
  has(id: string): boolean {
    return this.queues.has(id);
  }

  list(tenantId: string): Queue[] {
    return [...this.queues.values()].filter((q) => q.tenantId === tenantId).sort((a, b) => a.number - b.number);
  }

  get(tenantId: string, id: string): Queue {
    const q = this.queues.get(id);
    if (!q || q.tenantId !== tenantId) throw new PbxError('PBX_ERR_QUEUE_NOT_FOUND');
    return q;
  }

  /** A queue's service-level threshold in seconds (app_queue's `servicelevel`; 20 for a queue deleted since). */
  thresholdOf(queueId: string): number {
    return this.queues.get(queueId)?.serviceLevel ?? 20;
  }

  findByNumber(tenantId: string, number: number): Queue | undefined {
    for (const q of this.queues.values()) if (q.tenantId === tenantId && q.number === number) return q;
    return undefined;
  }

  private async assertNumberFree(tenantId: string, number: number, self?: string): Promise<void> {
    const other = this.findByNumber(tenantId, number);
    const [ext] = await this.db.select({ id: extensions.id }).from(extensions).where(and(eq(extensions.tenantId, tenantId), eq(extensions.number, number)));
    if (ext || (other && other.id !== self)) throw new PbxError('PBX_ERR_NUMBER_TAKEN');
  }

  /** A new queue, without members yet. */
  async create(tenantId: string, settings: QueueSettings): Promise<Queue> {
    await this.assertNumberFree(tenantId, settings.number);
    let row;
    try {
      [row] = await this.db.insert(queues).values({ tenantId, ...settings }).returning();
    } catch (err) {
      if (isUniqueViolation(err)) throw new PbxError('PBX_ERR_NUMBER_TAKEN');
      throw err;
    }
    const queue: Queue = { ...row!, members: [] };
    this.queues.set(queue.id, queue);
    return queue;
  }

  async update(tenantId: string, id: string, patch: Partial<QueueSettings>): Promise<Queue> {
    const queue = this.get(tenantId, id);
    if (patch.number !== undefined && patch.number !== queue.number) await this.assertNumberFree(tenantId, patch.number, id);
    const [row] = await this.db.update(queues).set({ ...patch, updatedAt: new Date() }).where(and(eq(queues.tenantId, tenantId), eq(queues.id, id))).returning();
    if (!row) throw new PbxError('PBX_ERR_QUEUE_NOT_FOUND');
    Object.assign(queue, row);
    return queue;
  }

  async delete(tenantId: string, id: string): Promise<Queue> {
    const queue = this.get(tenantId, id);
    await this.db.delete(queues).where(and(eq(queues.tenantId, tenantId), eq(queues.id, id)));
    this.queues.delete(id);
    return queue;
  }

  /** QueueAdd: the extension becomes a member (or changes its penalty). */
  async addMember(tenantId: string, queueId: string, extensionId: string, penalty: number): Promise<{ queue: Queue; member: QueueMember }> {
    const queue = this.get(tenantId, queueId);
    const [ext] = await this.db.select({ number: extensions.number }).from(extensions).where(and(eq(extensions.tenantId, tenantId), eq(extensions.id, extensionId)));
    if (!ext) throw new PbxError('PBX_ERR_EXTENSION_NOT_FOUND');
    const [row] = await this.db
      .insert(queueMembers)
      .values({ tenantId, queueId, extensionId, penalty })
      .onConflictDoUpdate({ target: [queueMembers.queueId, queueMembers.extensionId], set: { penalty } })
      .returning();
    const member = memberOf(row!, ext.number);
    const existing = queue.members.findIndex((m) => m.extensionId === extensionId);
    if (existing >= 0) queue.members[existing] = member;
    else queue.members.push(member);
    return { queue, member };
  }

  /** QueueRemove. */
  async removeMember(tenantId: string, queueId: string, extensionId: string): Promise<Queue> {
    const queue = this.get(tenantId, queueId);
    if (!queue.members.some((m) => m.extensionId === extensionId)) throw new PbxError('PBX_ERR_EXTENSION_NOT_FOUND', 'Not a member of this queue');
    await this.db.delete(queueMembers).where(and(eq(queueMembers.queueId, queueId), eq(queueMembers.extensionId, extensionId)));
    queue.members = queue.members.filter((m) => m.extensionId !== extensionId);
    return queue;
  }

  /** QueuePause: paused in this queue only (the agent's own state is AWAY for all queues). */
  async pauseMember(tenantId: string, queueId: string, extensionId: string, paused: boolean, reason: string | null): Promise<{ queue: Queue; member: QueueMember }> {
    const queue = this.get(tenantId, queueId);
    const member = queue.members.find((m) => m.extensionId === extensionId);
    if (!member) throw new PbxError('PBX_ERR_EXTENSION_NOT_FOUND', 'Not a member of this queue');
    await this.db
      .update(queueMembers)
      .set({ paused, pauseReason: paused ? reason : null })
      .where(and(eq(queueMembers.queueId, queueId), eq(queueMembers.extensionId, extensionId)));
    member.paused = paused;
    member.pauseReason = paused ? reason : null;
    return { queue, member };
  }

  /** A deleted extension is a member of no queue (the database's foreign key removed its rows). */
  forgetExtension(extensionId: string): void {
    for (const q of this.queues.values()) q.members = q.members.filter((m) => m.extensionId !== extensionId);
  }
}

function memberOf(row: typeof queueMembers.$inferSelect, number: number): QueueMember {
  return {
    extensionId: row.extensionId,
    number,
    penalty: row.penalty,
    paused: row.paused,
    pauseReason: row.pauseReason,
    addedAt: row.createdAt.getTime(),
  };
}
