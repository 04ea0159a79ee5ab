/**
 * What the engine asks of the directory, which lives above it: credentials, SIP domains and the extension a number
 * dials. The server passes an implementation in; the engine keeps a cache of it (`directory-cache.ts`).
 */
import type { CredentialStore, ExtensionCredentials } from './registrar.ts';

export interface TelephonyDirectory extends CredentialStore {
  /** Every tenant's SIP domain. */
  listDomains(): Promise<string[]>;
  /** One tenant's SIP domain. */
  domainOf(tenantId: string): Promise<string | undefined>;
  /** The extension a number dials in a tenant. */
  findExtension(tenantId: string, number: number): Promise<{ extensionId: string; number: number; ringTimeout: number; isActive: boolean } | undefined>;
  /** The longest a call of the tenant may last, in seconds (0: no limit). */
  maxCallSecondsOf?(tenantId: string): Promise<number>;
  /** Every extension's (or one's) credentials and ring timeout, with its tenant's domain: what the engine keeps in memory. */
  lookups(extensionId?: string): Promise<Array<ExtensionCredentials & { domain: string; ringTimeout: number }>>;
}
