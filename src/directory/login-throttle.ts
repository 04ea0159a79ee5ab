/**
 * Counts failed logins per key (a client address, an account) over a sliding window. Once a key reaches the limit,
 * further attempts on it are refused until its oldest failure leaves the window: password guessing gets
 * `limit` tries per window, per address and per account. Memory is bounded: at most `maxKeys` keys are tracked,
 * the least recently failed going first.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly maxKeys = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until the first of these keys may try again, or 0 when none is blocked. */
  retryAfter(keys: readonly string[]): number {
    const now = this.now();
    let wait = 0;
    for (const key of keys) {
      const times = this.recent(key, now);
      if (times.length >= this.limit) wait = Math.max(wait, Math.ceil(((times[0] as number) + this.windowMs - now) / 1000));
    }
    return wait;
  }

  fail(keys: readonly string[]): void {
    const now = this.now();
    for (const key of keys) {
      const times = this.recent(key, now);
      times.push(now);
      if (times.length > this.limit) times.splice(0, times.length - this.limit);
      this.failures.delete(key); // re-insert: the map's order is least recently failed first
      this.failures.set(key, times);
    }
    while (this.failures.size > this.maxKeys) {
      const oldest = this.failures.keys().next().value as string;
      this.failures.delete(oldest);
    }
  }

  /** A success clears an account's count; an address's count stays, or one known account would reset it. */
  reset(key: string): void {
    this.failures.delete(key);
  }

  private recent(key: string, now: number): number[] {
    const times = this.failures.get(key);
    if (!times) return [];
    const fresh = times.filter((t) => t > now - this.windowMs);
    if (fresh.length === 0) this.failures.delete(key);
    return fresh;
  }
}
