/**
 * What the engine looks up on its hot path, kept in memory: the credentials a REGISTER or an INVITE is checked
 * against (by SIP domain and number) and the extension a number dials (by tenant and number). Every extension is
 * loaded when the engine starts and again when the directory says it was created or changed; an entry goes when
 * its credentials change or it is deleted. So a phone's registration and a call cost no database round trip.
 *
 * Entries still expire (after ten minutes by default) and are then read again, which bounds how long a change made
 * outside this process could go unseen. A miss is remembered briefly, so a scanner guessing numbers in a real
 * domain cannot hammer the database. An entry that expired is still used while the database cannot be read, so an
 * outage does not refuse calls to numbers known before it (a routed number is a remembered miss).
 */
import { ReadThrough } from '../events/read-through.ts';
import type { DigestAlgorithm } from '../sip/index.ts';
import type { TelephonyDirectory } from './directory.ts';
import type { ExtensionCredentials } from './registrar.ts';

export type DialedExtension = NonNullable<Awaited<ReturnType<TelephonyDirectory['findExtension']>>>;

export class DirectoryCache implements TelephonyDirectory {
  /** domain|number → credentials. */
  private readonly credentials: ReadThrough<ExtensionCredentials>;
  /** tenantId|number → the extension it dials. */
  private readonly dialed: ReadThrough<DialedExtension>;
  /** A tenant's SIP domain, which never changes once the tenant is made. */
  private readonly domains = new ReadThrough<string>({ ttlMs: Number.POSITIVE_INFINITY });

  constructor(
    private readonly inner: TelephonyDirectory,
    ttlMs = 600_000,
    missTtlMs = 5_000,
    maxEntries = 200_000,
  ) {
    this.credentials = new ReadThrough({ ttlMs, missTtlMs, maxEntries });
    this.dialed = new ReadThrough({ ttlMs, missTtlMs, maxEntries });
  }

  findCredentials(domain: string, user: string): Promise<ExtensionCredentials | undefined> {
    return this.credentials.get(`${domain.toLowerCase()}|${user}`, () => this.inner.findCredentials(domain, user));
  }

  findExtension(tenantId: string, number: number): Promise<DialedExtension | undefined> {
    return this.dialed.get(`${tenantId}|${number}`, () => this.inner.findExtension(tenantId, number));
  }

  alternateHa1s(credentials: ExtensionCredentials, algorithm: DigestAlgorithm): string[] {
    return this.inner.alternateHa1s?.(credentials, algorithm) ?? [];
  }

  listDomains(): Promise<string[]> {
    return this.inner.listDomains();
  }

  domainOf(tenantId: string): Promise<string | undefined> {
    return this.domains.get(tenantId, () => this.inner.domainOf(tenantId));
  }

  /** Read through: the call watchdog keeps what it read, and hears of changes. */
  maxCallSecondsOf(tenantId: string): Promise<number> {
    return this.inner.maxCallSecondsOf?.(tenantId) ?? Promise.resolve(0);
  }

  lookups(extensionId?: string): ReturnType<TelephonyDirectory['lookups']> {
    return this.inner.lookups(extensionId);
  }

  /** Loads every extension (or one) into memory. */
  async warm(extensionId?: string): Promise<void> {
    // A change heard while the rows are read makes them stale: they are not kept.
    const since = [this.credentials.version, this.dialed.version] as const;
    const rows = await this.inner.lookups(extensionId);
    const now = Date.now();
    for (const { domain, ringTimeout, ...credentials } of rows) {
      this.credentials.set(`${domain.toLowerCase()}|${credentials.number}`, credentials, since[0], now);
      const dialed = { extensionId: credentials.extensionId, number: credentials.number, ringTimeout, isActive: credentials.isActive };
      this.dialed.set(`${credentials.tenantId}|${credentials.number}`, dialed, since[1], now);
    }
  }

  /** Forgets an extension (its secret changed, it was disabled or deleted). */
  invalidate(extensionId: string): void {
    this.credentials.forgetWhere((v) => v.extensionId === extensionId);
    this.dialed.forgetWhere((v) => v.extensionId === extensionId);
  }

  /** Forgets every remembered miss (a new extension or tenant may now answer). */
  forgetMisses(): void {
    this.credentials.forgetMisses();
    this.dialed.forgetMisses();
    this.domains.forgetMisses();
  }
}
