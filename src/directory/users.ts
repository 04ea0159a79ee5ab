/**
 * Users: people with an email, a role and at most one extension. Creating a user gives it the lowest free extension
 * of its tenant in the same transaction (seed 004), and deleting it frees the number.
 */
import { and, asc, count, eq } from 'drizzle-orm';
import { type Db, extensions, isUniqueViolation, type UserRole, users } from '../db/index.ts';
import { PbxError } from '../errors/index.ts';
import type { PbxEventBus } from '../events/index.ts';
import type { NumberClass } from '../telephony/trunks/types.ts';
import { callerIdOf, tenantCountry } from './carriers/checks.ts';
import { checkDialClasses, dialClassesOf } from './carriers/dial-policy.ts';
import { type Extension, type ExtensionService, toExtension } from './extensions.ts';
import { hashPassword } from './passwords.ts';
import type { Tenant } from './tenants.ts';

export interface User {
  id: string;
  tenantId: string;
  name: string;
  email: string;
  role: UserRole;
  isActive: boolean;
  hasPassword: boolean;
  /** The classes of numbers the user may dial instead of its role's; null: its role's. */
  dialClasses: NumberClass[] | null;
  /** The user's own caller ID on external calls (its DID), E.164; null: the queue's or the route's. */
  callerId: string | null;
  createdAt: Date;
  updatedAt: Date;
  extension: Extension | null;
}

type UserRow = typeof users.$inferSelect;

function toUser(row: UserRow, extension: typeof extensions.$inferSelect | null): User {
  return {
    id: row.id,
    tenantId: row.tenantId,
    name: row.name,
    email: row.email,
    role: row.role,
    isActive: row.isActive,
    hasPassword: row.passwordHash !== null,
    dialClasses: row.dialClasses === null ? null : dialClassesOf(row.dialClasses),
    callerId: row.callerId,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    extension: extension ? toExtension(extension) : null,
  };
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

function emailTaken(email: string): PbxError {
  return new PbxError('PBX_ERR_EMAIL_TAKEN', `Email '${email}' is already in use`);
}

export interface CreateUserInput {
  name: string;
  email: string;
  role?: UserRole;
  password?: string;
  /** false for a user who needs no extension (an administrator, say); default true. */
  withExtension?: boolean;
}

export class UserService {
  constructor(
    private readonly db: Db,
    private readonly bus: PbxEventBus,
    private readonly extensions: ExtensionService,
  ) {}

  /** Creates the user and, unless told not to, its extension; answers the secret once. */
  async create(tenant: Tenant, input: CreateUserInput): Promise<{ user: User; secret: string | null }> {
    const email = normalizeEmail(input.email);
    const passwordHash = input.password ? await hashPassword(input.password) : null;
    const result = await this.db
      .transaction(async (tx) => {
        const [row] = await tx
          .insert(users)
          .values({ tenantId: tenant.id, name: input.name.trim(), email, role: input.role ?? 'AGENT', passwordHash })
          .returning();
        const userRow = row as UserRow;
        if (input.withExtension === false) return { user: toUser(userRow, null), secret: null };
        const { extension, secret } = await this.extensions.insert(tx, tenant, userRow.id);
        return { user: { ...toUser(userRow, null), extension }, secret };
      })
      .catch((err: unknown) => {
        if (isUniqueViolation(err, 'users_email_key')) throw emailTaken(email);
        throw err;
      });
    const { user } = result;
    this.bus.emit('user.created', { tenantId: tenant.id, userId: user.id, role: user.role });
    if (user.extension) {
      this.bus.emit('extension.created', { tenantId: tenant.id, extensionId: user.extension.id, userId: user.id, number: user.extension.number });
    }
    return result;
  }

  async list(tenantId: string, filter: { userId?: string } = {}): Promise<User[]> {
    const where = filter.userId ? and(eq(users.tenantId, tenantId), eq(users.id, filter.userId)) : eq(users.tenantId, tenantId);
    const rows = await this.db
      .select()
      .from(users)
      .leftJoin(extensions, eq(extensions.userId, users.id))
      .where(where)
      .orderBy(asc(users.createdAt), asc(users.email));
    return rows.map((r) => toUser(r.users, r.extensions));
  }

  async get(tenantId: string, id: string): Promise<User> {
    const [row] = await this.db
      .select()
      .from(users)
      .leftJoin(extensions, eq(extensions.userId, users.id))
      .where(and(eq(users.tenantId, tenantId), eq(users.id, id)))
      .limit(1);
    if (!row) throw new PbxError('PBX_ERR_USER_NOT_FOUND');
    return toUser(row.users, row.extensions);
  }

  /** For logins: the user with this email in any tenant, with its password hash. */
  async findForLogin(email: string): Promise<(User & { passwordHash: string | null }) | undefined> {
    const [row] = await this.db
      .select()
      .from(users)
      .leftJoin(extensions, eq(extensions.userId, users.id))
      .where(eq(users.email, normalizeEmail(email)))
      .limit(1);
    return row ? { ...toUser(row.users, row.extensions), passwordHash: row.users.passwordHash } : undefined;
  }

  /** The user a token names, if it still exists and is active: checked on every authenticated request. */
  async findActive(tenantId: string, id: string): Promise<User | undefined> {
    const user = await this.get(tenantId, id).catch((err: unknown) => {
      if (err instanceof PbxError && err.code === 'PBX_ERR_USER_NOT_FOUND') return undefined;
      throw err;
    });
    return user?.isActive ? user : undefined;
  }

  async update(
    tenantId: string,
    id: string,
    patch: {
      name?: string;
      email?: string;
      role?: UserRole;
      password?: string;
      isActive?: boolean;
      /** null: back to the role's classes. */
      dialClasses?: NumberClass[] | null;
      /** E.164, or as dialled in the tenant's country; null: none. */
      callerId?: string | null;
    },
  ): Promise<User> {
    const values: Partial<typeof users.$inferInsert> = { updatedAt: new Date() };
    if (patch.name !== undefined) values.name = patch.name.trim();
    if (patch.email !== undefined) values.email = normalizeEmail(patch.email);
    if (patch.role !== undefined) values.role = patch.role;
    if (patch.isActive !== undefined) values.isActive = patch.isActive;
    if (patch.password !== undefined) values.passwordHash = await hashPassword(patch.password);
    if (patch.dialClasses !== undefined) values.dialClasses = patch.dialClasses === null ? null : checkDialClasses('dialClasses', patch.dialClasses);
    if (patch.callerId !== undefined) values.callerId = callerIdOf('callerId', patch.callerId, await tenantCountry(this.db, tenantId));
    const updated = await this.db
      .update(users)
      .set(values)
      .where(and(eq(users.tenantId, tenantId), eq(users.id, id)))
      .returning({ id: users.id })
      .catch((err: unknown) => {
        if (isUniqueViolation(err, 'users_email_key')) throw emailTaken(values.email as string);
        throw err;
      });
    if (updated.length === 0) throw new PbxError('PBX_ERR_USER_NOT_FOUND');
    this.bus.emit('user.updated', { tenantId, userId: id });
    return this.get(tenantId, id);
  }

  /** Deletes the user and its extension; answers the extension number freed, if it had one. */
  async delete(tenantId: string, id: string): Promise<{ userId: string; freedExtension: number | null }> {
    const freed = await this.db.transaction(async (tx) => {
      const [ext] = await tx
        .select({ id: extensions.id, number: extensions.number })
        .from(extensions)
        .where(and(eq(extensions.tenantId, tenantId), eq(extensions.userId, id)));
      const deleted = await tx
        .delete(users)
        .where(and(eq(users.tenantId, tenantId), eq(users.id, id)))
        .returning({ id: users.id });
      if (deleted.length === 0) throw new PbxError('PBX_ERR_USER_NOT_FOUND');
      return ext ?? null;
    });
    if (freed) this.bus.emit('extension.deleted', { tenantId, extensionId: freed.id, number: freed.number });
    this.bus.emit('user.deleted', { tenantId, userId: id });
    return { userId: id, freedExtension: freed?.number ?? null };
  }

  async countAdmins(tenantId: string): Promise<number> {
    const [row] = await this.db
      .select({ admins: count() })
      .from(users)
      .where(and(eq(users.tenantId, tenantId), eq(users.role, 'ADMIN')));
    return Number(row?.admins ?? 0);
  }
}
