/**
 * Writing behind memory: changes are recorded by key (a later change of the same key replaces the earlier one),
 * and written in batches, one batch at a time, in the order they were taken. Memory stays the truth for the
 * process; the database catches up within a turn of the event loop (`flushSoon`) or when asked (`flush`).
 *
 * A busy server makes many small changes per second (a call session's row changes four or five times in a short
 * call); one statement per batch instead of one per change is what keeps an embedded database off the hot path.
 *
 * Nothing given to a writer is dropped:
 * - A database that cannot be reached (stopped, restarting, a broken connection, a full disk) does not lose the
 *   batch: its changes stay pending as the backlog, and are tried again with a growing delay until the database
 *   takes them. Meanwhile the writer reports itself as failing (`status()`, read by `/health/ready`).
 * - Only a change the database itself rejects as invalid (SQLSTATE classes 22, data exception, and 23, integrity
 *   constraint violation) is set aside, and then into the journal's dead letters, a file an operator can replay.
 * - A backlog longer than `maxBacklog` moves its oldest changes into the journal's spill file, read back when the
 *   database takes writes again (or at the next start, after a stop during an outage).
 */
import type { WriteBehindStatus } from './write-behind-status.ts';
import { WriteJournal, type WriteJournalEntry } from './write-journal.ts';

export interface WriteBehindOptions<T> {
  /** Names the writer in logs, in the readiness check and in the journal's files: `sessions`, `agents`, ... */
  name: string;
  /** Writes one batch, all or nothing as far as the caller can tell: a batch may be written again after a failure. */
  write: (items: T[]) => Promise<void>;
  /** Told of failures, with a context saying what became of the changes. */
  onError: (err: unknown, context: string) => void;
  /** Where a long backlog spills and rejected changes go; without one both stay in memory (tests). */
  journal?: WriteJournal;
  /** Changes kept in memory while the database fails before the oldest spill to the journal. */
  maxBacklog?: number;
  /** The first delay before a failed batch is tried again, in ms; it doubles up to `maxRetryDelayMs`. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /**
   * How long `flushSoon` gathers changes before it writes them (default 0: after the current turn). A writer that
   * takes several changes per call (a session's row, an agent's status) writes a busy second's calls in a few
   * statements instead of one per change; an embedded database spends most of its time per statement, not per row.
   */
  gatherMs?: number;
}

const DEFAULT_MAX_BACKLOG = 100_000;

export class WriteBehind<T> {
  readonly name: string;
  private readonly pending = new Map<string, T>();
  /** The last batch started or queued; batches run one after another. */
  private chain: Promise<void> = Promise.resolve();
  /** The batch that will take what is pending now, if one is queued. */
  private next: Promise<void> | undefined;
  private failingSince: Date | undefined;
  private lastError: string | undefined;
  private retryDelay: number;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Keys spilled to the journal and not changed since: only their spilled change is still to be written. */
  private readonly spilled = new Set<string>();
  /** Keys spilled and changed since: their spilled changes are stale and are not read back. */
  private readonly superseded = new Set<string>();
  /** Whether this process spilled changes the journal still holds. */
  private spilledHere = false;
  private deadLetters = 0;
  private closed = false;

  constructor(private readonly options: WriteBehindOptions<T>) {
    this.name = options.name;
    this.retryDelay = options.retryDelayMs ?? 250;
    options.journal?.register(this);
    // Changes a stop during an outage spilled: older than anything this process will write, so all are taken (the
    // last of each key, which is the newest).
    for (const entry of options.journal?.takeSpilled(this.name) ?? []) {
      this.pending.delete(entry.key);
      this.pending.set(entry.key, entry.item as T);
    }
    if (this.pending.size > 0) void this.flushSoon();
  }

  /** Records a change; it is written by the next flush. */
  put(key: string, item: T): void {
    if (this.closed) {
      // A change after the stop (a request still in flight): kept for the next start rather than dropped.
      try {
        this.options.journal?.spill(this.name, [{ key, item }]);
      } catch (err) {
        this.options.onError(err, `${this.name}:write: a change after the stop could not be kept (key ${key})`);
      }
      return;
    }
    if (this.spilled.delete(key)) this.superseded.add(key);
    this.pending.set(key, item);
    if (this.failingSince) this.spillOverflow();
  }

  /** Changes not yet written (in memory). */
  get size(): number {
    return this.pending.size;
  }

  /** True while writes fail and changes wait to be tried again. */
  get failing(): boolean {
    return this.failingSince !== undefined;
  }

  /** True while writes fail, or changes spilled during a failure still wait to be read back and written. */
  get behind(): boolean {
    return this.failingSince !== undefined || this.spilledHere;
  }

  status(): WriteBehindStatus {
    return {
      name: this.name,
      pending: this.pending.size + this.spilled.size,
      failingSince: this.failingSince ?? null,
      lastError: this.lastError ?? null,
      deadLetters: this.deadLetters,
      behind: this.behind,
    };
  }

  /**
   * Writes what is pending after the current turn, so changes made meanwhile join the batch. Settles when the
   * changes are written, or kept for a retry because the database failed (then `failing` is true).
   */
  flushSoon(): Promise<void> {
    this.next ??= this.queue(true);
    return this.next;
  }

  /** Writes what is pending now; settles as `flushSoon` does. */
  flush(): Promise<void> {
    this.next ??= this.queue(false);
    return this.next;
  }

  /**
   * At a stop: tries what is pending once more, and spills to the journal whatever the database would still not
   * take, so the next start writes it. Nothing is retried after this.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    // A database that failed a moment ago is not waited for again (an unreachable host can take minutes to say so):
    // what is pending goes to the journal at once.
    if (!this.failingSince) await this.flush();
    if (this.pending.size > 0 && this.options.journal) {
      const left = this.pending.size;
      this.options.journal.spill(this.name, [...this.pending].map(([key, item]) => ({ key, item })));
      this.pending.clear();
      this.options.onError(new Error(`${left} changes could not be written before the stop`), `${this.name}:write: ${left} changes kept in the journal for the next start`);
    }
  }

  private queue(afterThisTurn: boolean): Promise<void> {
    const gather = this.options.gatherMs ?? 0;
    const wait = !afterThisTurn
      ? Promise.resolve()
      : new Promise<void>((resolve) => (gather > 0 ? setTimeout(resolve, gather) : setImmediate(resolve)));
    this.chain = Promise.all([this.chain, wait]).then(() => this.take());
    return this.chain;
  }

  private async take(): Promise<void> {
    this.next = undefined;
    // While the database fails, the retry timer alone tries again: one attempt per delay, not one per change.
    if (this.failingSince && this.retryTimer) return;
    if (this.pending.size === 0) return;
    const batch = [...this.pending];
    this.pending.clear();
    try {
      await this.options.write(batch.map(([, item]) => item));
      this.recovered();
      return;
    } catch (err) {
      if (!WriteJournal.isRejectedAsInvalid(err)) return this.keep(batch, err);
      if (batch.length > 1) return this.oneByOne(batch);
      this.setAside(batch[0]!, err);
      this.recovered();
    }
  }

  /** A batch the database refused as invalid: each change alone, so an invalid one costs only itself. */
  private async oneByOne(batch: Array<[string, T]>): Promise<void> {
    for (let i = 0; i < batch.length; i++) {
      const change = batch[i]!;
      try {
        await this.options.write([change[1]]);
      } catch (err) {
        if (WriteJournal.isRejectedAsInvalid(err)) {
          this.setAside(change, err);
          continue;
        }
        return this.keep(batch.slice(i), err);
      }
    }
    this.recovered();
  }

  /** Changes the database could not take now: pending again (behind nothing newer of the same key), and retried. */
  private keep(batch: Array<[string, T]>, err: unknown): void {
    const newer = new Map(this.pending);
    this.pending.clear();
    for (const [key, item] of batch) if (!newer.has(key)) this.pending.set(key, item);
    for (const [key, item] of newer) this.pending.set(key, item);
    this.lastError = err instanceof Error ? err.message : String(err);
    if (!this.failingSince) {
      this.failingSince = new Date();
      this.options.onError(err, `${this.name}:write failed: ${this.pending.size} changes kept and tried again until the database takes them`);
    }
    this.spillOverflow();
    if (this.closed) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.flush();
    }, this.retryDelay);
    this.retryTimer.unref();
    this.retryDelay = Math.min(this.retryDelay * 2, this.options.maxRetryDelayMs ?? 5000);
  }

  private recovered(): void {
    this.retryDelay = this.options.retryDelayMs ?? 250;
    if (this.failingSince) {
      const seconds = Math.round((Date.now() - this.failingSince.getTime()) / 1000);
      this.failingSince = undefined;
      this.lastError = undefined;
      this.options.onError(new Error('writes succeed again'), `${this.name}:write recovered after ${seconds} s`);
    }
    // What spilled while the database was away comes back, unless a newer change of the same key was written since.
    const journal = this.options.journal;
    if (journal && this.spilledHere) {
      // The spilled changes are older than what is pending: they go first, the newest of each key, and a key changed
      // since it spilled keeps its newer change alone. Lines this process did not spill (dead letters an operator
      // replayed) are taken too.
      const back = new Map<string, T>();
      for (const entry of journal.takeSpilled(this.name)) {
        if (this.superseded.has(entry.key) || this.pending.has(entry.key)) continue;
        back.delete(entry.key);
        back.set(entry.key, entry.item as T);
      }
      const newer = new Map(this.pending);
      this.pending.clear();
      for (const [key, item] of back) this.pending.set(key, item);
      for (const [key, item] of newer) this.pending.set(key, item);
      this.spilled.clear();
      this.superseded.clear();
      this.spilledHere = false;
    }
    if (this.pending.size > 0) void this.flushSoon();
  }

  private setAside([key, item]: [string, T], err: unknown): void {
    this.deadLetters++;
    const journal = this.options.journal;
    if (journal) journal.deadLetter(this.name, { key, item }, err);
    this.options.onError(err, `${this.name}:write rejected a change as invalid (key ${key})${journal ? `: kept in ${journal.deadLetterFile(this.name)}` : ''}`);
  }

  private spillOverflow(): void {
    const max = this.options.maxBacklog ?? DEFAULT_MAX_BACKLOG;
    const journal = this.options.journal;
    if (!journal || this.pending.size <= max) return;
    // The oldest tenth goes at once, so a long outage spills in a few large appends rather than one per change.
    const count = this.pending.size - max + Math.ceil(max / 10);
    const out: WriteJournalEntry[] = [];
    for (const [key, item] of this.pending) {
      if (out.length >= count) break;
      out.push({ key, item });
    }
    try {
      journal.spill(this.name, out);
    } catch (err) {
      // The journal cannot be written (a full disk): the changes stay in memory, over the bound, rather than go.
      this.options.onError(err, `${this.name}:write: the journal could not take the backlog; ${this.pending.size} changes stay in memory`);
      return;
    }
    for (const { key } of out) {
      this.pending.delete(key);
      this.spilled.add(key);
      // Its newest change is now the last of its lines in the journal: those are read back (the last one wins).
      this.superseded.delete(key);
    }
    this.spilledHere = true;
    this.options.onError(new Error(`backlog over ${max} changes`), `${this.name}:write: ${out.length} oldest changes spilled to ${journal.spillFile(this.name)}`);
  }
}

/** Runs `each` over `items` in slices of at most `size` (one statement per slice keeps under the parameter limit). */
export async function inSlices<T>(items: T[], size: number, each: (slice: T[]) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await each(items.slice(i, i + size));
}
