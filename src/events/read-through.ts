/**
 * Rows read on a hot path (a request's user, a call's policies), kept in memory by key and read again only when the
 * bus says they changed, or when they expire. The one shape every such cache shares, so each keeps only its own
 * keys and the events that forget them:
 *
 * - A read that started before a change is not stored when it ends after it (each `forget` moves a generation), so
 *   a slow read never puts back what a change has just made stale.
 * - A miss (the loader answers undefined) is remembered for a shorter time than a hit, and `forgetMisses` drops
 *   every miss at once (a new row may now answer).
 * - An entry that expired is still answered while its read fails (the database is away): what was known before an
 *   outage is the best answer during it.
 * - At most `maxEntries` are kept, the least recently stored going first.
 *
 * The events are this process's own: one process per database is what runs today (see the carriers' cache).
 */
interface Entry<V> {
  value: V | undefined;
  expires: number;
}

export interface ReadThroughOptions {
  /** How long a hit is answered without a read (default ten minutes): a bound on a change made outside the process. */
  ttlMs?: number;
  /** How long a miss is (default five seconds). */
  missTtlMs?: number;
  maxEntries?: number;
}

export class ReadThrough<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private generation = 0;
  private missGeneration = 0;
  private readonly ttlMs: number;
  private readonly missTtlMs: number;
  private readonly maxEntries: number;

  constructor(options: ReadThroughOptions = {}) {
    this.ttlMs = options.ttlMs ?? 600_000;
    this.missTtlMs = options.missTtlMs ?? 5_000;
    this.maxEntries = options.maxEntries ?? 100_000;
  }

  /** The value kept for `key`, or what `load` reads (and is kept). */
  async get(key: string, load: () => Promise<V | undefined>): Promise<V | undefined> {
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && hit.expires > now) return hit.value;
    const [generation, missGeneration] = [this.generation, this.missGeneration];
    let value: V | undefined;
    try {
      value = await load();
    } catch (err) {
      if (hit) return hit.value;
      throw err;
    }
    if (generation === this.generation && (value !== undefined || missGeneration === this.missGeneration)) {
      this.set(key, value, undefined, now);
    }
    return value;
  }

  /** Moves with every `forget`: taken before a read made elsewhere, and given back to `set`. */
  get version(): number {
    return this.generation;
  }

  /**
   * Keeps a value read elsewhere (a warm-up reading many rows at once); with `since` (the `version` taken before
   * that read), only if nothing was forgotten meanwhile.
   */
  set(key: string, value: V | undefined, since?: number, now = Date.now()): void {
    if (since !== undefined && since !== this.generation) return;
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, { value, expires: now + (value === undefined ? this.missTtlMs : this.ttlMs) });
  }

  /** Forgets one key. */
  forget(key: string): void {
    this.generation++;
    this.entries.delete(key);
  }

  /** Forgets every entry whose value `match` picks (misses are kept). */
  forgetWhere(match: (value: V, key: string) => boolean): void {
    this.generation++;
    for (const [key, entry] of this.entries) if (entry.value !== undefined && match(entry.value, key)) this.entries.delete(key);
  }

  /** Forgets every remembered miss. */
  forgetMisses(): void {
    this.missGeneration++;
    for (const [key, entry] of this.entries) if (entry.value === undefined) this.entries.delete(key);
  }

  /** Forgets everything. */
  clear(): void {
    this.generation++;
    this.missGeneration++;
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
