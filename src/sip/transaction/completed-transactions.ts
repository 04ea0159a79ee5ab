/**
 * Non-INVITE server transactions over UDP in their Completed state (RFC 3261 section 17.2.2), kept compactly.
 *
 * A finished non-INVITE transaction has one job left until Timer J fires (64*T1, 32 s): answer a retransmitted
 * request with the same final response. A busy registrar finishes thousands of transactions a second, so it keeps
 * each as its key, the response's bytes and the way back, in one map swept once a second in insertion order (every
 * entry lives equally long), instead of a transaction object with its own timer and listeners.
 */
interface Completed {
  until: number;
  bytes: Buffer;
  transmit: (bytes: Buffer) => void;
}

export class CompletedTransactions {
  private readonly entries = new Map<string, Completed>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly lifetimeMs: number) {}

  /** A transaction sent its final response: retransmissions of its request get `bytes` again, for Timer J. */
  add(key: string, bytes: Buffer, transmit: (bytes: Buffer) => void): void {
    // The key is cut from the request's Via: a copy lets the request go.
    this.entries.set(ownCopy(key), { until: Date.now() + this.lifetimeMs, bytes, transmit });
    if (!this.sweeper) {
      this.sweeper = setInterval(() => this.sweep(Date.now()), Math.min(1000, this.lifetimeMs));
      this.sweeper.unref();
    }
  }

  /** A request matched a completed transaction: its final response goes out again. False if none matched. */
  absorb(key: string): boolean {
    const entry = this.entries.get(key);
    if (!entry || entry.until <= Date.now()) return false;
    entry.transmit(entry.bytes);
    return true;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Timer J: every entry whose time is up goes. */
  sweep(now: number): void {
    for (const [key, entry] of this.entries) {
      if (entry.until > now) break;
      this.entries.delete(key);
    }
    if (this.entries.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  clear(): void {
    this.entries.clear();
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}

/** A copy of `s` that holds no reference to a larger string it was cut from (V8 keeps slices' parents alive). */
function ownCopy(s: string): string {
  return (' ' + s).slice(1);
}
