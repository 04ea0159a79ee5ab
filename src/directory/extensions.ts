/**
 * Extensions: the SIP accounts of users. A number is the lowest free one of the tenant's range unless one is asked
 * for; it is freed when its user or the extension is deleted. Credentials are kept only as digest HA1 hashes.
 */
import { and, asc, eq, sql } from 'drizzle-orm';
import { type AgentStatus, type Db, extensions, isUniqueViolation, type RecordingPolicy, tenants, users } from '../db/index.ts';
import { PbxError } from '../errors/index.ts';
import type { PbxEventBus } from '../events/index.ts';
import { digestHashes, generateSecret, secretMatches } from './digest-credentials.ts';
import type { Tenant } from './tenants.ts';

export interface Extension {
  id: string;
  tenantId: string;
  userId: string;
  number: number;
  status: AgentStatus;
  statusReason: string | null;
  statusChangedAt: Date;
  isActive: boolean;
  ringTimeout: number;
  /** The extension's own recording policy; null follows the tenant's. */
  recordingPolicy: RecordingPolicy | null;
  createdAt: Date;
  updatedAt: Date;
}

/** What the registrar needs to challenge and check a SIP request for an extension. */
export interface ExtensionCredentials {
  tenantId: string;
  extensionId: string;
  userId: string;
  number: number;
  realm: string;
  ha1Md5: string;
  ha1Sha256: string;
  isActive: boolean;
}

type ExtensionRow = typeof extensions.$inferSelect;

const credentialColumns = {
  tenantId: extensions.tenantId,
  extensionId: extensions.id,
  userId: extensions.userId,
  number: extensions.number,
  realm: extensions.realm,
  ha1Md5: extensions.ha1Md5,
  ha1Sha256: extensions.ha1Sha256,
  isActive: extensions.isActive,
};

export function toExtension(row: ExtensionRow): Extension {
  return {
    id: row.id,
    tenantId: row.tenantId,
    userId: row.userId,
    number: row.number,
    status: row.status,
    statusReason: row.statusReason,
    statusChangedAt: row.statusChangedAt,
    isActive: row.isActive,
    ringTimeout: row.ringTimeout,
    recordingPolicy: row.recordingPolicy ?? null,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

export class ExtensionService {
  constructor(
    private readonly db: Db,
    private readonly bus: PbxEventBus,
  ) {}

  /**
   * Inserts an extension for a user inside the caller's transaction. The tenant's allocation is serialised by a
   * transaction-scoped advisory lock, so concurrent creations never pick the same number; the unique index on
   * (tenant, number) stands behind it.
   */
  async insert(
    tx: Db,
    tenant: Tenant,
    userId: string,
    options: { number?: number; secret?: string } = {},
  ): Promise<{ extension: Extension; secret: string }> {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${'switchboard.extensions.' + tenant.id}))`);
    let number = options.number;
    if (number === undefined) {
      const { start, end } = tenant.extensionRange;
      const result = await tx.execute(sql`
        select n from generate_series(${start}::int, ${end}::int) as n
        where not exists (select 1 from extensions e where e.tenant_id = ${tenant.id} and e.number = n)
        order by n limit 1`);
      const free = (result as unknown as { rows: Array<{ n: number }> }).rows[0];
      if (!free) {
        throw new PbxError('PBX_ERR_EXTENSION_RANGE_EXHAUSTED', `Every extension from ${start} to ${end} is in use`, {
          details: { range: `${start}-${end}` },
        });
      }
      number = Number(free.n);
    }
    const secret = options.secret ?? generateSecret();
    try {
      const [row] = await tx
        .insert(extensions)
        .values({ tenantId: tenant.id, userId, number, ...digestHashes(String(number), tenant.domain, secret) })
        .returning();
      return { extension: toExtension(row as ExtensionRow), secret };
    } catch (err) {
      if (isUniqueViolation(err, 'extensions_tenant_number_key')) {
        throw new PbxError('PBX_ERR_EXTENSION_TAKEN', `Extension ${number} is already in use`);
      }
      if (isUniqueViolation(err, 'extensions_user_key')) throw new PbxError('PBX_ERR_USER_HAS_EXTENSION');
      throw err;
    }
  }

  /** Seed 000's `POST /api/pbx/agent-extensions`: an extension for a user of the tenant that has none. */
  async createForUser(
    tenant: Tenant,
    input: { userId: string; number?: number; secret?: string },
  ): Promise<{ extension: Extension; secret: string }> {
    const created = await this.db.transaction(async (tx) => {
      const [user] = await tx
        .select({ id: users.id })
        .from(users)
        .where(and(eq(users.tenantId, tenant.id), eq(users.id, input.userId)))
        .limit(1);
      if (!user) throw new PbxError('PBX_ERR_USER_NOT_FOUND');
      return this.insert(tx, tenant, input.userId, { number: input.number, secret: input.secret });
    });
    const { extension } = created;
    this.bus.emit('extension.created', { tenantId: tenant.id, extensionId: extension.id, userId: extension.userId, number: extension.number });
    return created;
  }

  async list(tenantId: string, filter: { userId?: string } = {}): Promise<Extension[]> {
    const where = filter.userId
      ? and(eq(extensions.tenantId, tenantId), eq(extensions.userId, filter.userId))
      : eq(extensions.tenantId, tenantId);
    const rows = await this.db.select().from(extensions).where(where).orderBy(asc(extensions.number));
    return rows.map(toExtension);
  }

  async get(tenantId: string, id: string): Promise<Extension> {
    const [row] = await this.db
      .select()
      .from(extensions)
      .where(and(eq(extensions.tenantId, tenantId), eq(extensions.id, id)))
      .limit(1);
    if (!row) throw new PbxError('PBX_ERR_EXTENSION_NOT_FOUND');
    return toExtension(row);
  }

  async findByUser(tenantId: string, userId: string): Promise<Extension | undefined> {
    const [row] = await this.db
      .select()
      .from(extensions)
      .where(and(eq(extensions.tenantId, tenantId), eq(extensions.userId, userId)))
      .limit(1);
    return row ? toExtension(row) : undefined;
  }

  /** The digest credentials of the user's own extension, with its tenant's SIP domain (for the softphone). */
  async credentialsOfUser(tenantId: string, userId: string): Promise<(ExtensionCredentials & { domain: string }) | undefined> {
    const [row] = await this.db
      .select({ ...credentialColumns, domain: tenants.domain })
      .from(extensions)
      .innerJoin(tenants, eq(tenants.id, extensions.tenantId))
      .where(and(eq(extensions.tenantId, tenantId), eq(extensions.userId, userId)))
      .limit(1);
    return row;
  }

  async update(tenantId: string, id: string, patch: { isActive?: boolean; ringTimeout?: number; secret?: string; recordingPolicy?: RecordingPolicy | null }): Promise<Extension> {
    const current = await this.get(tenantId, id);
    const values: Partial<typeof extensions.$inferInsert> = { updatedAt: new Date() };
    if (patch.isActive !== undefined) values.isActive = patch.isActive;
    if (patch.recordingPolicy !== undefined) values.recordingPolicy = patch.recordingPolicy;
    if (patch.ringTimeout !== undefined) values.ringTimeout = patch.ringTimeout;
    if (patch.secret !== undefined) {
      const [tenant] = await this.db.select({ domain: tenants.domain }).from(tenants).where(eq(tenants.id, tenantId));
      Object.assign(values, digestHashes(String(current.number), (tenant as { domain: string }).domain, patch.secret));
    }
    const [row] = await this.db
      .update(extensions)
      .set(values)
      .where(and(eq(extensions.tenantId, tenantId), eq(extensions.id, id)))
      .returning();
    if (!row) throw new PbxError('PBX_ERR_EXTENSION_NOT_FOUND');
    const extension = toExtension(row);
    const event = { tenantId, extensionId: id, number: extension.number };
    this.bus.emit('extension.updated', event);
    // A disabled extension or a new secret ends what the old credentials allowed.
    if (patch.secret !== undefined || patch.isActive === false) this.bus.emit('extension.credentials.changed', event);
    return extension;
  }

  /** A new random secret, returned once; the old one stops working at once. */
  async resetSecret(tenantId: string, id: string): Promise<{ extension: Extension; secret: string }> {
    const secret = generateSecret();
    const extension = await this.update(tenantId, id, { secret });
    return { extension, secret };
  }

  /** Deletes the extension (its user stays) and answers the number it freed. */
  async delete(tenantId: string, id: string): Promise<Extension> {
    const [row] = await this.db
      .delete(extensions)
      .where(and(eq(extensions.tenantId, tenantId), eq(extensions.id, id)))
      .returning();
    if (!row) throw new PbxError('PBX_ERR_EXTENSION_NOT_FOUND');
    const extension = toExtension(row);
    this.bus.emit('extension.deleted', { tenantId, extensionId: id, number: extension.number });
    return extension;
  }

  /** For the registrar: the credentials of extension `number` in the tenant whose SIP domain is `domain`. */
  async findCredentials(domain: string, number: string): Promise<ExtensionCredentials | undefined> {
    if (!/^\d{1,9}$/.test(number)) return undefined;
    const [row] = await this.db
      .select(credentialColumns)
      .from(extensions)
      .innerJoin(tenants, eq(tenants.id, extensions.tenantId))
      .where(and(eq(tenants.domain, domain.toLowerCase()), eq(extensions.number, Number(number))))
      .limit(1);
    return row;
  }

  /**
   * What the SIP engine looks up on its hot path, for every extension (or one), with its tenant's domain: the
   * engine keeps these in memory so a REGISTER or an INVITE costs no database round trip.
   */
  async lookups(extensionId?: string): Promise<Array<ExtensionCredentials & { domain: string; ringTimeout: number }>> {
    const query = this.db
      .select({ ...credentialColumns, domain: tenants.domain, ringTimeout: extensions.ringTimeout })
      .from(extensions)
      .innerJoin(tenants, eq(tenants.id, extensions.tenantId));
    return extensionId === undefined ? await query : await query.where(eq(extensions.id, extensionId));
  }

  /** The extension with this number in the tenant (a call's target), if any. */
  async findByNumber(tenantId: string, number: number): Promise<Extension | undefined> {
    const [row] = await this.db
      .select()
      .from(extensions)
      .where(and(eq(extensions.tenantId, tenantId), eq(extensions.number, number)))
      .limit(1);
    return row ? toExtension(row) : undefined;
  }

  /**
   * Extension logins name a number but no tenant: every active extension with that number (one per tenant at most)
   * whose secret matches. Random secrets make more than one match practically impossible.
   */
  async matchSecret(number: number, secret: string, domain?: string): Promise<ExtensionCredentials[]> {
    const rows = await this.db
      .select(credentialColumns)
      .from(extensions)
      .innerJoin(tenants, eq(tenants.id, extensions.tenantId))
      .where(domain ? and(eq(extensions.number, number), eq(tenants.domain, domain.toLowerCase())) : eq(extensions.number, number));
    return rows.filter((row) => row.isActive && secretMatches(String(row.number), row, secret));
  }
}
