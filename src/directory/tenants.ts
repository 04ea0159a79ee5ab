/**
 * Tenants: one organisation each, with its SIP domain and the range its extension numbers are drawn from.
 * The system tenant is created on first start; its administrators administer the system (create tenants).
 */
import { asc, eq } from 'drizzle-orm';
import type { ExtensionRange } from '../config/index.ts';
import { type Db, isUniqueViolation, type RecordingPolicy, tenants } from '../db/index.ts';
import { PbxError } from '../errors/index.ts';
import type { PbxEventBus } from '../events/index.ts';

export interface Tenant {
  id: string;
  name: string;
  domain: string;
  isSystem: boolean;
  extensionRange: ExtensionRange;
  recordingPolicy: RecordingPolicy;
  /** The longest a call may last, in seconds from its start; 0: no limit. */
  maxCallSeconds: number;
  createdAt: Date;
}

type TenantRow = typeof tenants.$inferSelect;

function toTenant(row: TenantRow): Tenant {
  return {
    id: row.id,
    name: row.name,
    domain: row.domain,
    isSystem: row.isSystem,
    extensionRange: { start: row.extensionRangeStart, end: row.extensionRangeEnd },
    recordingPolicy: row.recordingPolicy,
    maxCallSeconds: row.maxCallSeconds,
    createdAt: row.createdAt,
  };
}

export class TenantService {
  constructor(
    private readonly db: Db,
    private readonly bus: PbxEventBus,
  ) {}

  /** The system tenant, created with the configured domain and range when the database is new. */
  async ensureSystemTenant(defaults: { name: string; domain: string; extensionRange: ExtensionRange }): Promise<Tenant> {
    const existing = await this.db.select().from(tenants).where(eq(tenants.isSystem, true)).limit(1);
    if (existing[0]) return toTenant(existing[0]);
    try {
      return await this.create({ ...defaults, isSystem: true });
    } catch (err) {
      // Another node created it at the same moment.
      const again = await this.db.select().from(tenants).where(eq(tenants.isSystem, true)).limit(1);
      if (again[0]) return toTenant(again[0]);
      throw err;
    }
  }

  async create(input: { name: string; domain: string; extensionRange: ExtensionRange; isSystem?: boolean }): Promise<Tenant> {
    const domain = input.domain.toLowerCase();
    try {
      const [row] = await this.db
        .insert(tenants)
        .values({
          name: input.name,
          domain,
          isSystem: input.isSystem ?? false,
          extensionRangeStart: input.extensionRange.start,
          extensionRangeEnd: input.extensionRange.end,
        })
        .returning();
      const tenant = toTenant(row as TenantRow);
      this.bus.emit('tenant.created', { tenantId: tenant.id, name: tenant.name, domain: tenant.domain });
      return tenant;
    } catch (err) {
      if (isUniqueViolation(err, 'tenants_domain_key')) {
        throw new PbxError('PBX_ERR_DOMAIN_TAKEN', `SIP domain '${domain}' is already in use`);
      }
      throw err;
    }
  }

  async list(): Promise<Tenant[]> {
    const rows = await this.db.select().from(tenants).orderBy(asc(tenants.createdAt));
    return rows.map(toTenant);
  }

  async setRecordingPolicy(id: string, policy: RecordingPolicy): Promise<Tenant> {
    const [row] = await this.db.update(tenants).set({ recordingPolicy: policy, updatedAt: new Date() }).where(eq(tenants.id, id)).returning();
    if (!row) throw new PbxError('PBX_ERR_TENANT_NOT_FOUND');
    this.bus.emit('tenant.recording-policy.changed', { tenantId: id, policy });
    return toTenant(row);
  }

  /** Sets the longest a call of the tenant may last (0: no limit); calls in progress are held to it too. */
  async setMaxCallSeconds(id: string, maxCallSeconds: number): Promise<Tenant> {
    const [row] = await this.db.update(tenants).set({ maxCallSeconds, updatedAt: new Date() }).where(eq(tenants.id, id)).returning();
    if (!row) throw new PbxError('PBX_ERR_TENANT_NOT_FOUND');
    this.bus.emit('tenant.call-limits.changed', { tenantId: id, maxCallSeconds });
    return toTenant(row);
  }

  async get(id: string): Promise<Tenant> {
    const [row] = await this.db.select().from(tenants).where(eq(tenants.id, id)).limit(1);
    if (!row) throw new PbxError('PBX_ERR_TENANT_NOT_FOUND');
    return toTenant(row);
  }

  /** The tenant whose SIP domain this is (the registrar asks with a request's To host), or undefined. */
  async findByDomain(domain: string): Promise<Tenant | undefined> {
    const [row] = await this.db.select().from(tenants).where(eq(tenants.domain, domain.toLowerCase())).limit(1);
    return row ? toTenant(row) : undefined;
  }
}
