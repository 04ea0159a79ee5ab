/**
 * Extension credentials kept in memory for a while, so a phone refreshing its registration does not cost a database
 * round trip each time. Entries go when the directory says an extension's credentials changed or it was deleted;
 * a miss is remembered briefly too, so a scanner guessing numbers in a real domain cannot hammer the database.
 */
import type { DigestAlgorithm } from '../sip/index.ts';
import type { CredentialStore, ExtensionCredentials } from './registrar.ts';

export class CredentialCache implements CredentialStore {
  private readonly entries = new Map<string, { value: ExtensionCredentials | undefined; expires: number }>();

  constructor(
    private readonly inner: CredentialStore,
    private readonly ttlMs = 60_000,
    private readonly missTtlMs = 5_000,
    private readonly maxEntries = 100_000,
  ) {}

  async findCredentials(domain: string, user: string): Promise<ExtensionCredentials | undefined> {
    const key = `${domain.toLowerCase()}|${user}`;
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && hit.expires > now) return hit.value;
    const value = await this.inner.findCredentials(domain, user);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, { value, expires: now + (value ? this.ttlMs : this.missTtlMs) });
    return value;
  }

  alternateHa1s(credentials: ExtensionCredentials, algorithm: DigestAlgorithm): string[] {
    return this.inner.alternateHa1s?.(credentials, algorithm) ?? [];
  }

  /** Forgets an extension (its secret changed, it was disabled or deleted). */
  invalidate(extensionId: string): void {
    for (const [key, entry] of this.entries) if (entry.value?.extensionId === extensionId) this.entries.delete(key);
  }

  /** Forgets every remembered miss (a new extension or tenant may now answer). */
  forgetMisses(): void {
    for (const [key, entry] of this.entries) if (!entry.value) this.entries.delete(key);
  }
}
