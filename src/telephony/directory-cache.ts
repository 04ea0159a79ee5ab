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
import type { DigestAlgorithm } from '../sip/index.ts';
import type { TelephonyDirectory } from './directory.ts';
import type { ExtensionCredentials } from './registrar.ts';

export type DialedExtension = NonNullable<Awaited<ReturnType<TelephonyDirectory['findExtension']>>>;

interface Entry<V> {
  value: V | undefined;
  expires: number;
}

export class DirectoryCache implements TelephonyDirectory {
  /** domain|number → credentials. */
  private readonly credentials = new Map<string, Entry<ExtensionCredentials>>();
  /** tenantId|number → the extension it dials. */
  private readonly dialed = new Map<string, Entry<DialedExtension>>();
  /** Moves on every invalidation: a lookup that started before one does not store what it read. */
  private generation = 0;
  /** Moves when misses are forgotten: a miss read before then is not stored. */
  private missGeneration = 0;

  constructor(
    private readonly inner: TelephonyDirectory,
    private readonly ttlMs = 600_000,
    private readonly missTtlMs = 5_000,
    private readonly maxEntries = 200_000,
  ) {}

  findCredentials(domain: string, user: string): Promise<ExtensionCredentials | undefined> {
    return this.remember(this.credentials, `${domain.toLowerCase()}|${user}`, () => this.inner.findCredentials(domain, user));
  }

  findExtension(tenantId: string, number: number): Promise<DialedExtension | undefined> {
    return this.remember(this.dialed, `${tenantId}|${number}`, () => this.inner.findExtension(tenantId, number));
  }

  alternateHa1s(credentials: ExtensionCredentials, algorithm: DigestAlgorithm): string[] {
    return this.inner.alternateHa1s?.(credentials, algorithm) ?? [];
  }

  listDomains(): Promise<string[]> {
    return this.inner.listDomains();
  }

  domainOf(tenantId: string): Promise<string | undefined> {
    return this.inner.domainOf(tenantId);
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
    const generation = this.generation;
    const rows = await this.inner.lookups(extensionId);
    if (generation !== this.generation) return;
    const expires = Date.now() + this.ttlMs;
    for (const { domain, ringTimeout, ...credentials } of rows) {
      this.store(this.credentials, `${domain.toLowerCase()}|${credentials.number}`, { value: credentials, expires });
      this.store(this.dialed, `${credentials.tenantId}|${credentials.number}`, {
        value: { extensionId: credentials.extensionId, number: credentials.number, ringTimeout, isActive: credentials.isActive },
        expires,
      });
    }
  }

  /** Forgets an extension (its secret changed, it was disabled or deleted). */
  invalidate(extensionId: string): void {
    this.generation++;
    for (const map of [this.credentials, this.dialed] as Array<Map<string, Entry<{ extensionId: string }>>>) {
      for (const [key, entry] of map) if (entry.value?.extensionId === extensionId) map.delete(key);
    }
  }

  /** Forgets every remembered miss (a new extension or tenant may now answer). */
  forgetMisses(): void {
    this.missGeneration++;
    for (const map of [this.credentials, this.dialed] as Array<Map<string, Entry<unknown>>>) {
      for (const [key, entry] of map) if (entry.value === undefined) map.delete(key);
    }
  }

  private async remember<V>(map: Map<string, Entry<V>>, key: string, load: () => Promise<V | undefined>): Promise<V | undefined> {
    const now = Date.now();
    const hit = map.get(key);
    if (hit && hit.expires > now) return hit.value;
    const [generation, missGeneration] = [this.generation, this.missGeneration];
    let value: V | undefined;
    try {
      value = await load();
    } catch (err) {
      // The database is away: what was known before it went is still the best answer, so calls and
      // registrations go on through an outage. It is read again at the next lookup.
      if (hit) return hit.value;
      throw err;
    }
    if (generation === this.generation && (value !== undefined || missGeneration === this.missGeneration)) this.store(map, key, { value, expires: now + (value ? this.ttlMs : this.missTtlMs) });
    return value;
  }

  private store<V>(map: Map<string, Entry<V>>, key: string, entry: Entry<V>): void {
    map.delete(key);
    if (map.size >= this.maxEntries) map.delete(map.keys().next().value as string);
    map.set(key, entry);
  }
}
