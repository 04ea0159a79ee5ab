/**
 * Who may dial what, and as whom. A tenant has a country (numbers dialled without `+` are read in it), emergency
 * numbers (always allowed, never capped), a cap on its external calls at once, and per role the classes of numbers
 * its users may dial; a user may have classes of its own instead, and its own caller ID (its DID). A queue may have
 * a caller ID too, presented on calls made for it. The engine asks through the carriers' cache.
 */
import { and, eq } from 'drizzle-orm';
import { type Db, type DialClassesByRole, defaultDialClassesByRole, extensions, queues, tenants, type UserRole, userRoles, users } from '../../db/index.ts';
import { PbxError } from '../../errors/index.ts';
import type { PbxEventBus } from '../../events/index.ts';
import { ReadThrough } from '../../events/read-through.ts';
import { type DialPolicy, type NumberClass, numberClasses } from '../../telephony/trunks/types.ts';
import { callerIdOf, checkCountry, invalid, tenantCountry } from './checks.ts';

/** The tenant's side of the policy. */
export interface TenantDialPolicy {
  country: string;
  emergencyNumbers: string[];
  /** External calls at once for the whole tenant; 0: no limit. */
  maxExternalCalls: number;
  /** Per role, the classes its users may dial. */
  classes: Record<UserRole, NumberClass[]>;
}

export interface TenantDialPolicyPatch {
  country?: string;
  emergencyNumbers?: string[];
  maxExternalCalls?: number;
  /** The roles named are set; the others keep theirs. */
  classes?: Partial<Record<UserRole, NumberClass[]>>;
}

/**
 * The role whose classes a call with no user behind it gets (a flow forwarding to an outside number): the least
 * trusted role's, so nobody gains by making a call come from no one.
 */
export const UNATTRIBUTED_ROLE: UserRole = 'AGENT';

const EMERGENCY_NUMBER = /^[0-9*#]{2,15}$/;

/** Known classes only, each once, in the engine's order (what the database holds was written by older code, or by hand). */
export function dialClassesOf(stored: readonly string[] | null | undefined): NumberClass[] {
  const set = new Set(stored ?? []);
  return numberClasses.filter((c) => set.has(c));
}

function classesByRole(stored: DialClassesByRole): Record<UserRole, NumberClass[]> {
  return Object.fromEntries(userRoles.map((role) => [role, dialClassesOf(stored[role] ?? defaultDialClassesByRole[role])])) as Record<UserRole, NumberClass[]>;
}

/** Checks a list of classes as given (unknown names refused, not dropped: a typing mistake must be seen). */
export function checkDialClasses(field: string, classes: readonly string[]): NumberClass[] {
  classes.forEach((c, i) => {
    if (!(numberClasses as readonly string[]).includes(c)) throw invalid(`${field}.${i}`, `must be one of ${numberClasses.join(', ')}`);
  });
  return dialClassesOf(classes);
}

/** What a call's dial policy takes from the user behind its extension. */
interface UserDialing {
  userId: string;
  role: UserRole;
  dialClasses: string[] | null;
  callerId: string | null;
}

export class DialPolicyService {
  /**
   * Every call out asks for its policy: the tenant's part and the user's are kept in memory, forgotten when this
   * service changes the tenant's and when the directory says a user or an extension changed ({@link subscribe}).
   */
  private readonly tenantPolicies = new ReadThrough<TenantDialPolicy>();
  private readonly userDialing = new ReadThrough<UserDialing>();

  constructor(private readonly db: Db) {}

  /** Hears of the changes that make a kept policy stale. */
  subscribe(bus: PbxEventBus): Array<() => void> {
    const forgetExtension = (e: { tenantId: string; extensionId: string }) => this.userDialing.forget(`${e.tenantId}|${e.extensionId}`);
    const forgetUser = (e: { userId: string }) => this.userDialing.forgetWhere((u) => u.userId === e.userId);
    return [
      bus.on('user.updated', forgetUser),
      bus.on('user.deleted', forgetUser),
      bus.on('extension.updated', forgetExtension),
      bus.on('extension.deleted', forgetExtension),
      bus.on('extension.created', () => this.userDialing.forgetMisses()),
    ];
  }

  async get(tenantId: string): Promise<TenantDialPolicy> {
    const policy = await this.tenantPolicies.get(tenantId, () => this.read(tenantId));
    if (!policy) throw new PbxError('PBX_ERR_TENANT_NOT_FOUND');
    return policy;
  }

  private async read(tenantId: string): Promise<TenantDialPolicy | undefined> {
    const [row] = await this.db
      .select({ country: tenants.country, emergencyNumbers: tenants.emergencyNumbers, maxExternalCalls: tenants.maxExternalCalls, dialClasses: tenants.dialClasses })
      .from(tenants)
      .where(eq(tenants.id, tenantId))
      .limit(1);
    return row && { country: row.country, emergencyNumbers: row.emergencyNumbers, maxExternalCalls: row.maxExternalCalls, classes: classesByRole(row.dialClasses) };
  }

  async update(tenantId: string, patch: TenantDialPolicyPatch): Promise<TenantDialPolicy> {
    const current = await this.get(tenantId);
    const values: Partial<typeof tenants.$inferInsert> = { updatedAt: new Date() };
    if (patch.country !== undefined) {
      checkCountry('country', patch.country);
      values.country = patch.country;
    }
    if (patch.emergencyNumbers !== undefined) {
      if (patch.emergencyNumbers.length === 0) throw invalid('emergencyNumbers', 'must list at least one number');
      patch.emergencyNumbers.forEach((n, i) => {
        if (!EMERGENCY_NUMBER.test(n)) throw invalid(`emergencyNumbers.${i}`, 'must be 2 to 15 digits (or * and #)');
      });
      values.emergencyNumbers = [...new Set(patch.emergencyNumbers)];
    }
    if (patch.maxExternalCalls !== undefined) {
      if (!Number.isInteger(patch.maxExternalCalls) || patch.maxExternalCalls < 0 || patch.maxExternalCalls > 100_000) {
        throw invalid('maxExternalCalls', 'must be a whole number from 0 to 100000');
      }
      values.maxExternalCalls = patch.maxExternalCalls;
    }
    if (patch.classes !== undefined) {
      const classes: Record<string, NumberClass[]> = { ...current.classes };
      for (const [role, list] of Object.entries(patch.classes)) {
        if (!(userRoles as readonly string[]).includes(role)) throw invalid(`classes.${role}`, 'is not a role');
        if (list) classes[role] = checkDialClasses(`classes.${role}`, list);
      }
      values.dialClasses = classes;
    }
    const [row] = await this.db.update(tenants).set(values).where(eq(tenants.id, tenantId)).returning({ id: tenants.id });
    this.tenantPolicies.forget(tenantId);
    if (!row) throw new PbxError('PBX_ERR_TENANT_NOT_FOUND');
    return this.get(tenantId);
  }

  /**
   * The policy for a call from the tenant's extension: its user's own classes, else its role's; its user's caller
   * ID. With no extension (or one that no longer exists), the tenant's own: the {@link UNATTRIBUTED_ROLE}'s classes
   * and no caller ID.
   */
  async forExtension(tenantId: string, extensionId: string | undefined): Promise<DialPolicy> {
    const tenant = await this.get(tenantId);
    const base = { country: tenant.country, emergencyNumbers: tenant.emergencyNumbers, maxExternalCalls: tenant.maxExternalCalls };
    const user = extensionId
      ? await this.userDialing.get(`${tenantId}|${extensionId}`, async () => {
          const [row] = await this.db
            .select({ userId: users.id, role: users.role, dialClasses: users.dialClasses, callerId: users.callerId })
            .from(extensions)
            .innerJoin(users, eq(users.id, extensions.userId))
            .where(and(eq(extensions.tenantId, tenantId), eq(extensions.id, extensionId)))
            .limit(1);
          return row;
        })
      : undefined;
    if (!user) return { ...base, allowedClasses: tenant.classes[UNATTRIBUTED_ROLE], callerId: null };
    return { ...base, allowedClasses: user.dialClasses ? dialClassesOf(user.dialClasses) : tenant.classes[user.role], callerId: user.callerId };
  }

  /** The caller ID of a queue's calls, or null (the route's is used). */
  async queueCallerId(tenantId: string, queueId: string): Promise<string | null> {
    const [row] = await this.db.select({ callerId: queues.callerId }).from(queues).where(and(eq(queues.tenantId, tenantId), eq(queues.id, queueId))).limit(1);
    if (!row) throw new PbxError('PBX_ERR_QUEUE_NOT_FOUND');
    return row.callerId;
  }

  /**
   * Sets a queue's caller ID (E.164, or as dialled in the tenant's country; null: none). Written to the column
   * directly: the contact center's queue settings do not carry it, and only outbound calls read it.
   */
  async setQueueCallerId(tenantId: string, queueId: string, callerId: string | null): Promise<{ queueId: string; callerId: string | null }> {
    const value = callerIdOf('callerId', callerId, await tenantCountry(this.db, tenantId));
    const [row] = await this.db
      .update(queues)
      .set({ callerId: value })
      .where(and(eq(queues.tenantId, tenantId), eq(queues.id, queueId)))
      .returning({ id: queues.id, callerId: queues.callerId });
    if (!row) throw new PbxError('PBX_ERR_QUEUE_NOT_FOUND');
    return { queueId: row.id, callerId: row.callerId };
  }
}
