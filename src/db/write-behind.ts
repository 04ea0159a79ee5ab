/**
 * Writing behind memory: changes are recorded by key (a later change of the same key replaces the earlier one),
 * and written in batches, one batch at a time, in the order they were taken. Memory stays the truth for the
 * process; the database catches up within a turn of the event loop (`flushSoon`) or when asked (`flush`).
 *
 * A busy server makes many small changes per second (a call session's row changes four or five times in a short
 * call); one statement per batch instead of one per change is what keeps an embedded database off the hot path.
 */
export class WriteBehind<T> {
  private readonly pending = new Map<string, T>();
  /** The last batch started or queued; batches run one after another. */
  private chain: Promise<void> = Promise.resolve();
  /** The batch that will take what is pending now, if one is queued. */
  private next: Promise<void> | undefined;

  constructor(
    /** Writes one batch. If it fails, each change is written alone; a change that fails alone is reported and dropped. */
    private readonly write: (items: T[]) => Promise<void>,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Records a change; it is written by the next flush. */
  put(key: string, item: T): void {
    this.pending.set(key, item);
  }

  get size(): number {
    return this.pending.size;
  }

  /** Writes what is pending after the current turn, so changes made meanwhile join the batch; settles when written. */
  flushSoon(): Promise<void> {
    this.next ??= this.queue(true);
    return this.next;
  }

  /** Writes what is pending now; settles when it is written (and every batch before it). */
  flush(): Promise<void> {
    this.next ??= this.queue(false);
    return this.next;
  }

  private queue(afterThisTurn: boolean): Promise<void> {
    const wait = afterThisTurn ? new Promise<void>((resolve) => setImmediate(resolve)) : Promise.resolve();
    this.chain = Promise.all([this.chain, wait]).then(() => this.take());
    return this.chain;
  }

  private async take(): Promise<void> {
    this.next = undefined;
    if (this.pending.size === 0) return;
    const items = [...this.pending.values()];
    this.pending.clear();
    try {
      await this.write(items);
    } catch (err) {
      if (items.length === 1) {
        this.onError(err);
        return;
      }
      // One bad change must not cost the others theirs: each is tried alone, and only those that fail are lost.
      for (const item of items) {
        try {
          await this.write([item]);
        } catch (itemErr) {
          this.onError(itemErr);
        }
      }
    }
  }
}

/** Runs `each` over `items` in slices of at most `size` (one statement per slice keeps under the parameter limit). */
export async function inSlices<T>(items: T[], size: number, each: (slice: T[]) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await each(items.slice(i, i + size));
}
