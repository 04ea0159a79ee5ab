/**
 * The journal of the writers behind memory (`write-behind.ts`), in the data directory, one pair of JSON-lines
 * files per writer:
 * - `NAME.spilled.jsonl`: changes the database could not take yet, moved out of memory when a backlog grew too long
 *   or the server stopped during an outage. The writer reads them back when the database takes writes again, or
 *   at the next start.
 * - `NAME.dead.jsonl`: changes the database rejected as invalid, with its error. `pbx dead-letters` lists them;
 *   `pbx dead-letters --replay` moves them to the spilled file, so the next start writes them again (once what
 *   made them invalid, say a constraint or a column, has been put right).
 * Dates are written tagged (`{"$date": "..."}`), so a change reads back as it was made.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pgErrorOf } from './database.ts';
import type { WriteBehindStatus } from './write-behind-status.ts';

export interface WriteJournalEntry {
  key: string;
  item: unknown;
}

export interface DeadLetter extends WriteJournalEntry {
  at: string;
  code: string | null;
  error: string;
}

interface Registered {
  readonly name: string;
  status(): WriteBehindStatus;
}

export class WriteJournal {
  private readonly writers: Registered[] = [];

  /** `dir` is created when first written to. */
  constructor(readonly dir: string) {}

  /**
   * A change the database refuses whatever the moment (a value it cannot store, a constraint it breaks), as
   * opposed to a moment it cannot write at all. Only these may be set aside.
   */
  static isRejectedAsInvalid(err: unknown): boolean {
    const code = pgErrorOf(err)?.code;
    return code !== undefined && (code.startsWith('22') || code.startsWith('23'));
  }

  register(writer: Registered): void {
    this.writers.push(writer);
  }

  /** Every registered writer's state, for the readiness check. */
  status(): WriteBehindStatus[] {
    return this.writers.map((w) => w.status());
  }

  spillFile(name: string): string {
    return path.join(this.dir, `${name}.spilled.jsonl`);
  }

  deadLetterFile(name: string): string {
    return path.join(this.dir, `${name}.dead.jsonl`);
  }

  spill(name: string, entries: WriteJournalEntry[]): void {
    this.append(this.spillFile(name), entries);
  }

  /** The spilled changes of a writer, oldest first, removed from the journal. */
  takeSpilled(name: string): WriteJournalEntry[] {
    const file = this.spillFile(name);
    const taking = `${file}.taking`;
    try {
      fs.renameSync(file, taking);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !fs.existsSync(taking)) return [];
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const entries = readLines<WriteJournalEntry>(taking);
    fs.rmSync(taking, { force: true });
    return entries;
  }

  deadLetter(name: string, entry: WriteJournalEntry, err: unknown): void {
    const letter: DeadLetter = {
      at: new Date().toISOString(),
      code: pgErrorOf(err)?.code ?? null,
      error: err instanceof Error ? err.message : String(err),
      ...entry,
    };
    this.append(this.deadLetterFile(name), [letter]);
  }

  /** The dead letters of every writer, by writer name. */
  deadLetters(): Map<string, DeadLetter[]> {
    const out = new Map<string, DeadLetter[]>();
    if (!fs.existsSync(this.dir)) return out;
    for (const file of fs.readdirSync(this.dir).sort()) {
      const m = /^(.+)\.dead\.jsonl$/.exec(file);
      if (m) out.set(m[1]!, readLines<DeadLetter>(path.join(this.dir, file)));
    }
    return out;
  }

  /** Moves every dead letter to its writer's spilled changes, written by the next start; answers how many moved. */
  replayDeadLetters(): number {
    let moved = 0;
    for (const name of this.deadLetters().keys()) {
      // Renamed before it is read: a letter a running server adds meanwhile starts a new file instead of being lost.
      const file = this.deadLetterFile(name);
      const replaying = `${file}.replaying`;
      fs.renameSync(file, replaying);
      const letters = readLines<DeadLetter>(replaying);
      this.spill(name, letters.map(({ key, item }) => ({ key, item })));
      fs.rmSync(replaying, { force: true });
      moved += letters.length;
    }
    return moved;
  }

  private append(file: string, records: object[]): void {
    if (records.length === 0) return;
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    // Synchronous on purpose: the lines are on disk before the changes leave memory.
    fs.appendFileSync(file, records.map((r) => JSON.stringify(r, tagDates) + '\n').join(''), { mode: 0o600 });
  }
}

function tagDates(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const original = this[key];
  return original instanceof Date ? { $date: original.toISOString() } : value;
}

function untagDates(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const keys = Object.keys(value);
    const tagged = (value as { $date?: unknown }).$date;
    if (keys.length === 1 && typeof tagged === 'string') return new Date(tagged);
  }
  return value;
}

/** The records of a JSON-lines file; a line cut short by a crash is skipped (it was never acknowledged). */
function readLines<T>(file: string): T[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: T[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line, untagDates) as T);
    } catch {
      // a torn last line
    }
  }
  return out;
}
