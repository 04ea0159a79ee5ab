/**
 * The location service (RFC 3261 section 10.3; Kamailio's usrloc): per extension, the contacts bound to it, each
 * with its expiry and the flow it was learned on. A contact learned over a connection is reached over that same
 * connection and goes when it closes; one learned over UDP is reached at the address the REGISTER came from
 * (so a phone behind NAT is reachable) and is persisted, so it survives a restart until it expires.
 */
import { and, eq, lte } from 'drizzle-orm';
import { type Db, registrations } from '../db/index.ts';
import type { PbxEventBus } from '../events/index.ts';
import type { Flow } from '../sip/index.ts';

export interface Binding {
  tenantId: string;
  extensionId: string;
  number: number;
  /** The Contact URI as the phone sent it. */
  contact: string;
  callId: string;
  cseq: number;
  transport: string;
  sourceAddress: string;
  sourcePort: number;
  userAgent: string | null;
  expiresAt: Date;
  registeredAt: Date;
  /** The live connection for TCP/TLS/WS bindings; for UDP, undefined (the source address is the way back). */
  flow: Flow | undefined;
}

export type RemovalReason = 'unregistered' | 'expired' | 'replaced' | 'flow-closed' | 'credentials-changed';

export class LocationService {
  /** extensionId → bindings, oldest first. */
  private readonly byExtension = new Map<string, Binding[]>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    private readonly bus: PbxEventBus,
    private readonly maxBindings = 3,
  ) {}

  /** Loads persisted UDP bindings that have not expired, drops the rest, and starts expiring bindings on time. */
  async start(): Promise<void> {
    const now = new Date();
    await this.db.delete(registrations).where(lte(registrations.expiresAt, now));
    const rows = await this.db.select().from(registrations);
    for (const row of rows) {
      if (row.transport !== 'UDP') {
        await this.db.delete(registrations).where(eq(registrations.id, row.id));
        continue;
      }
      const list = this.byExtension.get(row.extensionId) ?? [];
      list.push({
        tenantId: row.tenantId,
        extensionId: row.extensionId,
        number: row.number,
        contact: row.contactUri,
        callId: row.callId,
        cseq: row.cseq,
        transport: row.transport,
        sourceAddress: row.sourceAddress,
        sourcePort: row.sourcePort,
        userAgent: row.userAgent,
        expiresAt: row.expiresAt,
        registeredAt: row.createdAt,
        flow: undefined,
      });
      this.byExtension.set(row.extensionId, list);
    }
    this.sweeper = setInterval(() => void this.expire().catch(() => {}), 1000);
    this.sweeper.unref();
  }

  stop(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  /** The live bindings of an extension, oldest first. */
  lookup(extensionId: string): Binding[] {
    const now = Date.now();
    return (this.byExtension.get(extensionId) ?? []).filter((b) => b.expiresAt.getTime() > now);
  }

  get size(): number {
    let n = 0;
    for (const list of this.byExtension.values()) n += list.length;
    return n;
  }

  /**
   * Adds or refreshes a binding (same extension and contact URI). Beyond `maxBindings`, the oldest other binding
   * is dropped.
   */
  async save(binding: Binding): Promise<void> {
    const list = this.byExtension.get(binding.extensionId) ?? [];
    const existing = list.findIndex((b) => b.contact === binding.contact);
    const isNew = existing < 0;
    if (isNew) list.push(binding);
    else list[existing] = { ...binding, registeredAt: (list[existing] as Binding).registeredAt };
    this.byExtension.set(binding.extensionId, list);
    const values = {
      tenantId: binding.tenantId,
      extensionId: binding.extensionId,
      number: binding.number,
      contactUri: binding.contact,
      callId: binding.callId,
      cseq: binding.cseq,
      transport: binding.transport,
      sourceAddress: binding.sourceAddress,
      sourcePort: binding.sourcePort,
      userAgent: binding.userAgent,
      expiresAt: binding.expiresAt,
      updatedAt: new Date(),
    };
    await this.db
      .insert(registrations)
      .values(values)
      .onConflictDoUpdate({ target: [registrations.extensionId, registrations.contactUri], set: values });
    if (isNew) this.bus.emit('registration.added', this.event(binding));
    while (list.length > this.maxBindings) {
      const oldest = list[0] as Binding;
      await this.remove(oldest, 'replaced');
    }
  }

  async remove(binding: Binding, reason: RemovalReason): Promise<void> {
    const list = this.byExtension.get(binding.extensionId);
    if (!list) return;
    const i = list.findIndex((b) => b.contact === binding.contact);
    if (i < 0) return;
    list.splice(i, 1);
    if (list.length === 0) this.byExtension.delete(binding.extensionId);
    await this.db
      .delete(registrations)
      .where(and(eq(registrations.extensionId, binding.extensionId), eq(registrations.contactUri, binding.contact)));
    this.bus.emit('registration.removed', { ...this.event(binding), reason });
  }

  async removeAll(extensionId: string, reason: RemovalReason): Promise<void> {
    for (const b of [...(this.byExtension.get(extensionId) ?? [])]) await this.remove(b, reason);
  }

  /** A connection closed: every binding learned on it goes. */
  async flowClosed(flow: Flow): Promise<void> {
    for (const list of [...this.byExtension.values()]) {
      for (const b of [...list]) if (b.flow?.id === flow.id) await this.remove(b, 'flow-closed');
    }
  }

  async expire(now = Date.now()): Promise<void> {
    for (const list of [...this.byExtension.values()]) {
      for (const b of [...list]) if (b.expiresAt.getTime() <= now) await this.remove(b, 'expired');
    }
  }

  private event(b: Binding) {
    return {
      tenantId: b.tenantId,
      extensionId: b.extensionId,
      number: b.number,
      contact: b.contact,
      transport: b.transport,
      source: `${b.sourceAddress}:${b.sourcePort}`,
      expiresAt: b.expiresAt,
    };
  }
}
