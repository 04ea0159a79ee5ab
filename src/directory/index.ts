/**
 * The directory: tenants, users, extensions and their credentials, authentication and the audit trail.
 * `createDirectory` wires its services over one database and event bus.
 */
import type { Config } from '../config/index.ts';
import type { Db } from '../db/index.ts';
import type { PbxEventBus } from '../events/index.ts';
import { AuditService } from './audit.ts';
import { AuthService } from './auth.ts';
import { ExtensionService } from './extensions.ts';
import { LoginThrottle } from './login-throttle.ts';
import { SoftphoneCredentials } from './softphone-credentials.ts';
import { TenantService } from './tenants.ts';
import { TokenService } from './tokens.ts';
import { UserService } from './users.ts';

export { AuditService, type AuditEntry, type AuditEntryInput } from './audit.ts';
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
}

export function createDirectory(
  db: Db,
  bus: PbxEventBus,
  options: { jwtSecret: string } & Pick<Config, 'jwtTtlSeconds' | 'loginMaxFailures' | 'loginWindowSeconds'>,
): Directory {
  const tenants = new TenantService(db, bus);
  const extensions = new ExtensionService(db, bus);
  const users = new UserService(db, bus, extensions);
  const audit = new AuditService(db);
  const tokens = new TokenService(options.jwtSecret, options.jwtTtlSeconds);
  const throttle = new LoginThrottle({ limit: options.loginMaxFailures, windowMs: options.loginWindowSeconds * 1000 });
  const auth = new AuthService(users, extensions, tenants, tokens, throttle, audit);
  const softphone = new SoftphoneCredentials(options.jwtSecret);
  return { tenants, users, extensions, audit, auth, tokens, softphone };
}
