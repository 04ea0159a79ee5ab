/**
 * Logins and the identity of a request. Web users log in with email and password; agents log in with their
 * extension and its SIP secret (seed 000's PBX login). Failed attempts are throttled per (account, address) pair
 * and per address, and slowed per account without ever locking it (see login-throttle.ts); logins to known
 * accounts are audited, failures included.
 */
import type { UserRole } from '../db/index.ts';
import { PbxError } from '../errors/index.ts';
import { ReadThrough } from '../events/read-through.ts';
import type { AuditService } from './audit.ts';
import type { Extension, ExtensionService } from './extensions.ts';
import type { LoginThrottle } from './login-throttle.ts';
import { verifyPassword } from './passwords.ts';
import type { Tenant, TenantService } from './tenants.ts';
import type { TokenService } from './tokens.ts';
import type { User, UserService } from './users.ts';

/** Who is calling, as every authorised operation sees it. */
export interface Principal {
  userId: string;
  tenantId: string;
  role: UserRole;
  email: string;
  name: string;
  /** An administrator of the system tenant: may manage tenants. */
  isSystemAdmin: boolean;
}

export interface LoginResult {
  accessToken: string;
  expiresIn: number;
  user: User;
  tenant: Tenant;
  extension: Extension | null;
}

export interface LoginContext {
  ip: string;
  requestId?: string;
}

export class AuthService {
  constructor(
    private readonly users: UserService,
    private readonly extensions: ExtensionService,
    private readonly tenants: TenantService,
    private readonly tokens: TokenService,
    private readonly throttle: LoginThrottle,
    private readonly audit: AuditService,
  ) {}

  /**
   * The users tokens name, as every authenticated request checks them: kept in memory and forgotten when the
   * directory says a user changed or went ({@link forgetUser}), so a request costs no database read.
   */
  private readonly principals = new ReadThrough<Omit<Principal, 'isSystemAdmin'>>();

  /** A user changed (its role, its name, deactivated) or was deleted: its next request reads it again. */
  forgetUser(tenantId: string, userId: string): void {
    this.principals.forget(`${tenantId}|${userId}`);
  }

  async loginWithEmail(email: string, password: string, ctx: LoginContext): Promise<LoginResult> {
    const account = `email:${email.trim().toLowerCase()}`;
    const attempt = this.admit(account, ctx.ip);
    const user = await this.users.findForLogin(email);
    const ok = await verifyPassword(password, user?.passwordHash);
    if (!user || !ok || !user.isActive) {
      if (user) await this.recordLogin(user, 'auth.login', 'failure', ctx);
      throw new PbxError('PBX_ERR_INVALID_CREDENTIALS', 'Invalid email or password');
    }
    attempt.succeeded();
    return this.issue(user, 'auth.login', ctx);
  }

  /** Seed 000's `POST /api/pbx/auth/login`: the extension number and its SIP secret. */
  async loginWithExtension(extension: string, password: string, ctx: LoginContext & { domain?: string }): Promise<LoginResult> {
    const account = `ext:${ctx.domain ?? '*'}:${extension}`;
    const attempt = this.admit(account, ctx.ip);
    const matches = /^\d{1,9}$/.test(extension) ? await this.extensions.matchSecret(Number(extension), password, ctx.domain) : [];
    const match = matches.length === 1 ? matches[0] : undefined;
    const user = match ? await this.users.findActive(match.tenantId, match.userId) : undefined;
    if (!user) throw new PbxError('PBX_ERR_INVALID_CREDENTIALS', 'Invalid extension or password');
    attempt.succeeded();
    return this.issue(user, 'auth.pbx_login', ctx);
  }

  /** The principal of a bearer token, or a 401 error. */
  async authenticate(token: string | undefined): Promise<Principal> {
    const claims = token ? await this.tokens.verify(token) : undefined;
    if (!claims) throw new PbxError('PBX_ERR_UNAUTHENTICATED', token ? 'Invalid or expired token' : 'Authentication required');
    const user = await this.principals.get(`${claims.tenantId}|${claims.userId}`, async () => {
      const found = await this.users.findActive(claims.tenantId, claims.userId);
      return found && { userId: found.id, tenantId: found.tenantId, role: found.role, email: found.email, name: found.name };
    });
    if (!user) throw new PbxError('PBX_ERR_UNAUTHENTICATED', 'Invalid or expired token');
    return { ...user, isSystemAdmin: claims.system && user.role === 'ADMIN' };
  }

  /** An attempt the throttle lets through (counted as failed until it succeeds), or a 429 with Retry-After. */
  private admit(account: string, ip: string): { succeeded(): void } {
    const admission = this.throttle.admit(account, ip);
    if (admission.admitted) return admission;
    const wait = admission.retryAfter;
    const when = `try again in ${wait} second${wait === 1 ? '' : 's'}`;
    const message = admission.reason === 'account' ? `Too many failed logins to this account; ${when}` : `Too many failed logins; ${when}`;
    throw new PbxError('PBX_ERR_TOO_MANY_ATTEMPTS', message, { retryAfter: wait });
  }

  private async issue(user: User, action: string, ctx: LoginContext): Promise<LoginResult> {
    const tenant = await this.tenants.get(user.tenantId);
    const accessToken = await this.tokens.sign({ userId: user.id, tenantId: user.tenantId, role: user.role, system: tenant.isSystem });
    await this.recordLogin(user, action, 'success', ctx);
    return { accessToken, expiresIn: this.tokens.ttlSeconds, user, tenant, extension: user.extension };
  }

  private recordLogin(user: User, action: string, outcome: 'success' | 'failure', ctx: LoginContext): Promise<void> {
    return this.audit.record({
      tenantId: user.tenantId,
      actorId: user.id,
      actorLabel: user.email,
      action,
      targetType: 'user',
      targetId: user.id,
      outcome,
      statusCode: outcome === 'success' ? 200 : 401,
      errorCode: outcome === 'success' ? null : 'PBX_ERR_INVALID_CREDENTIALS',
      ip: ctx.ip,
      requestId: ctx.requestId ?? null,
    });
  }
}
