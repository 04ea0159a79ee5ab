/**
 * The location service (RFC 3261 section 10.3; Kamailio's usrloc): per extension, the contacts bound to it, each
 * with its expiry and the flow it was learned on. A contact learned over a connection is reached over that same
 * connection and goes when it closes; one learned over UDP is reached at the address the REGISTER came from
 * (so a phone behind NAT is reachable) and is persisted, so it survives a restart until it expires. A contact
 * registered through an edge proxy (a Path, RFC 3327) is reached through that proxy, whatever the transport between
 * us; it is persisted too.
 *
 * Memory is the truth; the database is written behind it: changes are coalesced per binding and written in one
 * batch every second (and on stop), so a phone's refresh costs no database round trip. A new or moved binding is
 * written at once (batched with what else is pending), so a crash right after a phone registers does not lose it.
 * A refresh that only moves the expiry is written at most every 30 seconds. A crash loses at most that much of an
 * expiry, and phones refresh well before theirs ends.
 */
import { and, eq, lte, sql } from 'drizzle-orm';
import { type Db, registrations } from '../db/index.ts';
import { inSlices, WriteBehind } from '../db/write-behind.ts';
import type { WriteJournal } from '../db/write-journal.ts';
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
  /**
   * The live connection for TCP/TLS/WS bindings; for UDP, undefined (the source address is the way back). A binding
   * with a Path has none either: it is reached through its Path, not over the connection the edge happened to use.
   */
  flow: Flow | undefined;
  /**
   * The Path header values of the REGISTER, in order (RFC 3327 section 5.3): the proxies between us and the phone,
   * which requests to the contact are routed through (a pre-loaded Route set). Empty when it came straight to us.
   */
  path: string[];
}

export type RemovalReason = 'unregistered' | 'expired' | 'replaced' | 'flow-closed' | 'credentials-changed';

export class LocationService {
  /** extensionId → bindings, oldest first. */
  private readonly byExtension = new Map<string, Binding[]>();
  private sweeper: NodeJS.Timeout | undefined;
  /** By extensionId|contact: the binding to write, or null to delete it. */
  private readonly writer: WriteBehind<{ key: string; binding: Binding | null }>;
  /** extensionId|contact → when its expiry was last queued for writing. */
  private readonly persistedAt = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly bus: PbxEventBus,
    private readonly maxBindings = 3,
    private readonly onError: (err: unknown, context: string) => void = () => {},
    journal?: WriteJournal,
  ) {
    this.writer = new WriteBehind({ name: 'location', write: (changes) => this.write(changes), onError: this.onError, journal });
  }

  /**
   * Loads persisted bindings that have not expired and can be reached without the connection they came on (UDP, or
   * through a Path), drops the rest, and starts expiring bindings on time.
   */
  async start(): Promise<void> {
    // Bindings an earlier run journaled are written before the table is read back.
    await this.writer.flush();
    const now = new Date();
    await this.db.delete(registrations).where(lte(registrations.expiresAt, now));
    const rows = await this.db.select().from(registrations);
    for (const row of rows) {
      if (row.transport !== 'UDP' && row.path.length === 0) {
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
        path: row.path,
      });
      this.byExtension.set(row.extensionId, list);
    }
    this.sweeper = setInterval(() => {
      void this.expire()
        .then(() => this.flush())
        .catch((err: unknown) => this.onError(err, 'location:expire'));
    }, 1000);
    this.sweeper.unref();
  }

  /** Stops expiring and writes what is pending. */
  async stop(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    await this.writer.close();
  }

  /** Writes every pending change in one batch; flushes run one after another. */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  private async write(changes: Array<{ key: string; binding: Binding | null }>): Promise<void> {
    const upserts = changes.flatMap((c) => (c.binding ? [c.binding] : []));
    const deletes = changes.flatMap((c) => (c.binding ? [] : [c.key]));
    const now = new Date();
    await inSlices(upserts, 500, (slice) =>
      this.db
        .insert(registrations)
        .values(
          slice.map((b) => ({
            tenantId: b.tenantId,
            extensionId: b.extensionId,
            number: b.number,
            contactUri: b.contact,
            callId: b.callId,
            cseq: b.cseq,
            transport: b.transport,
            sourceAddress: b.sourceAddress,
            sourcePort: b.sourcePort,
            userAgent: b.userAgent,
            path: b.path,
            expiresAt: b.expiresAt,
            updatedAt: now,
          })),
        )
        .onConflictDoUpdate({
          target: [registrations.extensionId, registrations.contactUri],
          set: {
            callId: sql`excluded.call_id`,
            cseq: sql`excluded.cseq`,
            transport: sql`excluded.transport`,
            sourceAddress: sql`excluded.source_address`,
            sourcePort: sql`excluded.source_port`,
            userAgent: sql`excluded.user_agent`,
            path: sql`excluded.path`,
            expiresAt: sql`excluded.expires_at`,
            updatedAt: sql`excluded.updated_at`,
          },
        }),
    );
    for (const key of deletes) {
      const [extensionId, ...contact] = key.split('|');
      await this.db
        .delete(registrations)
        .where(and(eq(registrations.extensionId, extensionId as string), eq(registrations.contactUri, contact.join('|'))));
    }
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
    const before = isNew ? undefined : (list[existing] as Binding);
    if (isNew) list.push(binding);
    else list[existing] = { ...binding, registeredAt: (before as Binding).registeredAt };
    this.byExtension.set(binding.extensionId, list);
    // A plain refresh only moves the expiry: written at most every 30 s, which a restart can afford to lose.
    const key = `${binding.extensionId}|${binding.contact}`;
    const moved =
      !before ||
      before.sourceAddress !== binding.sourceAddress ||
      before.sourcePort !== binding.sourcePort ||
      before.transport !== binding.transport ||
      before.path.join(',') !== binding.path.join(',');
    if (moved || Date.now() - (this.persistedAt.get(key) ?? 0) > 30_000) {
      // A copy without its live connection: what is written (or journaled) is the row, not the socket.
      this.writer.put(key, { key, binding: { ...binding, flow: undefined } });
      this.persistedAt.set(key, Date.now());
    }
    // A new or moved binding is written at once (with whatever else is pending), not at the next tick: a phone
    // that registered just before a crash would be unreachable until it registers again.
    if (moved) void this.writer.flushSoon();
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
    const key = `${binding.extensionId}|${binding.contact}`;
    this.writer.put(key, { key, binding: null });
    this.persistedAt.delete(key);
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
