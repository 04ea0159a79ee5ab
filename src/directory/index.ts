/**
 * The directory: tenants, users, extensions and their credentials, authentication, the audit trail, and carriers
 * (trunks, phone numbers, outbound routes, the dial policy). `createDirectory` wires its services over one database
 * and event bus; the carriers' cache is loaded by whoever opens the directory (`process/core.ts`).
 */
import type { Config } from '../config/index.ts';
import type { Db } from '../db/index.ts';
import type { PbxEventBus } from '../events/index.ts';
import { AuditService } from './audit.ts';
import { type Carriers, createCarriers, type HostResolver, SecretBox } from './carriers/index.ts';
import { AuthService } from './auth.ts';
import { ExtensionService } from './extensions.ts';
import { LoginThrottle } from './login-throttle.ts';
import { SoftphoneCredentials } from './softphone-credentials.ts';
import { TenantService } from './tenants.ts';
import { TokenService } from './tokens.ts';
import { UserService } from './users.ts';

export { AuditService, type AuditEntry, type AuditEntryInput } from './audit.ts';
export * from './carriers/index.ts';
export { AuthService, type LoginResult, type Principal } from './auth.ts';
export { ExtensionService, type Extension, type ExtensionCredentials } from './extensions.ts';
export { LoginThrottle } from './login-throttle.ts';
export { hashPassword, verifyPassword } from './passwords.ts';
export { digestHashes, generateSecret, ha1, secretMatches } from './digest-credentials.ts';
export { SoftphoneCredentials, type SoftphonePassword, type SoftphoneSubject } from './softphone-credentials.ts';
export { TenantService, type Tenant } from './tenants.ts';
export { TokenService } from './tokens.ts';
export { UserService, type User, type CreateUserInput } from './users.ts';

export interface Directory {
  tenants: TenantService;
  users: UserService;
  extensions: ExtensionService;
  audit: AuditService;
  auth: AuthService;
  tokens: TokenService;
  softphone: SoftphoneCredentials;
  /** Trunks, phone numbers, outbound routes, the dial policy, and the engine's cache of them. */
  carriers: Carriers;
}

export interface DirectoryOptions extends Pick<Config, 'jwtTtlSeconds' | 'loginMaxFailures' | 'loginWindowSeconds'> {
  jwtSecret: string;
  /**
   * The server's AES-256 key (the recordings' key) that seals trunk passwords; `olderSecretKeys` still open values
   * sealed before a rotation. Without one, trunk passwords can be neither stored nor read.
   */
  secretKey?: Buffer;
  olderSecretKeys?: Buffer[];
  /** Looks up trunk server hosts (default: the system's resolver, 3-second timeout). */
  resolveHost?: HostResolver;
  /** Where the carriers' cache reports what it could not read (a password it cannot open, a host that does not resolve). */
  onError?: (err: unknown, context: string) => void;
}

export function createDirectory(db: Db, bus: PbxEventBus, options: DirectoryOptions): Directory {
  const tenants = new TenantService(db, bus);
  const extensions = new ExtensionService(db, bus);
  const users = new UserService(db, bus, extensions);
  const audit = new AuditService(db);
  const tokens = new TokenService(options.jwtSecret, options.jwtTtlSeconds);
  const throttle = new LoginThrottle({ limit: options.loginMaxFailures, windowMs: options.loginWindowSeconds * 1000 });
  const auth = new AuthService(users, extensions, tenants, tokens, throttle, audit);
  // A request's user is kept in memory: it is read again once the directory says it changed or went.
  bus.on('user.updated', (e) => auth.forgetUser(e.tenantId, e.userId));
  bus.on('user.deleted', (e) => auth.forgetUser(e.tenantId, e.userId));
  const softphone = new SoftphoneCredentials(options.jwtSecret);
  const carriers = createCarriers(db, bus, {
    box: new SecretBox(options.secretKey, options.olderSecretKeys),
    ...(options.resolveHost ? { resolveHost: options.resolveHost } : {}),
    ...(options.onError ? { onError: options.onError } : {}),
  });
  return { tenants, users, extensions, audit, auth, tokens, softphone, carriers };
}
