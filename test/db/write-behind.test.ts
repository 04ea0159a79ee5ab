// Changes written behind memory (src/db/write-behind.ts): a later change of a key replaces the earlier one, what
// is pending goes in one batch, batches run one at a time in order, one invalid change costs only itself (and goes
// to the dead letters), and a database that cannot be reached loses nothing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { openDatabase } from '../../src/db/database.ts';
import { WriteBehind } from '../../src/db/write-behind.ts';
import { WriteJournal } from '../../src/db/write-journal.ts';

const unexpected = (err: unknown) => assert.fail(`unexpected write error: ${String(err)}`);

describe('write-behind', () => {
  it('coalesces changes by key and writes what one turn changed in one batch', async () => {
    const batches: string[][] = [];
    const writer = new WriteBehind<string>({ name: 'test', write: async (items) => void batches.push(items), onError: unexpected });
    writer.put('a', 'a1');
    const first = writer.flushSoon();
    writer.put('b', 'b1');
    writer.put('a', 'a2');
    assert.equal(writer.flushSoon(), first, 'one batch for the turn');
    await first;
    assert.deepEqual(batches, [['a2', 'b1']]);
    assert.equal(writer.size, 0);
  });

  it('with gatherMs, changes made in later turns within the window join one batch', async () => {
    const batches: string[][] = [];
    const writer = new WriteBehind<string>({ name: 'test', write: async (items) => void batches.push(items), onError: unexpected, gatherMs: 500 });
    writer.put('a', 'a1');
    const first = writer.flushSoon();
    // Turns later, as the next steps of a call or other calls come in, well inside the window.
    await new Promise((resolve) => setImmediate(resolve));
    writer.put('b', 'b1');
    assert.equal(writer.flushSoon(), first);
    await new Promise((resolve) => setImmediate(resolve));
    writer.put('a', 'a2');
    await first;
    assert.deepEqual(batches, [['a2', 'b1']]);
  });

  it('runs batches one after another: a change made while one is written goes in the next', async () => {
    const log: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const writer = new WriteBehind<string>({
      name: 'test',
      write: async (items) => {
        log.push(`start ${items.join(',')}`);
        if (items.includes('x1')) await gate;
        log.push(`end ${items.join(',')}`);
      },
      onError: unexpected,
    });
    writer.put('x', 'x1');
    const one = writer.flush();
    await new Promise((resolve) => setImmediate(resolve));
    writer.put('x', 'x2');
    const two = writer.flush();
    assert.notEqual(one, two);
    release();
    await two;
    assert.deepEqual(log, ['start x1', 'end x1', 'start x2', 'end x2']);
  });

  it('a change the database rejects as invalid is set aside in the dead letters, and the rest of its batch is written', async () => {
    // A real rejection: PostgreSQL refuses a NUL byte in text (SQLSTATE 22021), as it did behind the API.
    const db = await openDatabase({ memory: true });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-journal-'));
    try {
      await db.db.execute(sql`create table notes (id int primary key, body text not null)`);
      const journal = new WriteJournal(dir);
      const errors: string[] = [];
      const writer = new WriteBehind<{ id: number; body: string; at: Date }>({
        name: 'notes',
        write: async (rows) => void (await db.db.execute(sql`insert into notes values ${sql.join(rows.map((r) => sql`(${r.id}, ${r.body})`), sql`, `)}`)),
        onError: (_err, context) => errors.push(context),
        journal,
      });
      const at = new Date('2026-01-02T03:04:05.678Z');
      writer.put('1', { id: 1, body: 'good one', at });
      writer.put('2', { id: 2, body: 'bad\u0000one', at });
      writer.put('3', { id: 3, body: 'good two', at });
      await writer.flush();
      const rows = await db.db.execute(sql`select id from notes order by id`);
      assert.deepEqual((rows as unknown as { rows: Array<{ id: number }> }).rows.map((r) => r.id), [1, 3]);
      assert.equal(writer.failing, false, 'an invalid change is no outage');
      assert.equal(writer.status().deadLetters, 1);
      const letters = journal.deadLetters().get('notes') ?? [];
      assert.equal(letters.length, 1);
      assert.equal(letters[0]!.code, '22021');
      assert.equal(letters[0]!.key, '2');
      assert.deepEqual(letters[0]!.item, { id: 2, body: 'bad\u0000one', at }, 'the change reads back as it was, its date a Date');
      assert.ok(errors.some((e) => e.includes('rejected a change as invalid') && e.includes(journal.deadLetterFile('notes'))));
      // An operator's replay moves it to the changes the next start writes first.
      assert.equal(journal.replayDeadLetters(), 1);
      assert.equal(journal.deadLetters().size, 0);
      assert.deepEqual(journal.takeSpilled('notes').map((e) => e.key), ['2']);
    } finally {
      await db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a database that cannot be reached loses nothing: the batch is kept, reported once, and written when it is back', async () => {
    let up = false;
    const written: string[] = [];
    const errors: string[] = [];
    const writer = new WriteBehind<string>({
      name: 'test',
      write: async (items) => {
        if (!up) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
        written.push(...items);
      },
      onError: (_err, context) => errors.push(context),
      retryDelayMs: 10,
      maxRetryDelayMs: 20,
    });
    writer.put('a', 'a1');
    writer.put('b', 'b1');
    await writer.flush();
    assert.equal(writer.failing, true);
    assert.equal(writer.status().pending, 2);
    writer.put('a', 'a2');
    writer.put('c', 'c1');
    await writer.flushSoon();
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.deepEqual(written, [], 'nothing is written while the database is away');
    assert.equal(errors.filter((e) => e.includes('failed')).length, 1, 'one report for the outage, not one per retry');
    up = true;
    while (writer.failing) await new Promise((resolve) => setTimeout(resolve, 10));
    await writer.flush();
    assert.deepEqual(written.sort(), ['a2', 'b1', 'c1'], 'every change, the newest of each key');
    assert.equal(writer.status().pending, 0);
    assert.ok(errors.some((e) => e.includes('recovered')));
  });

  it('a backlog over its bound spills its oldest changes to the journal and reads them back, unless changed since', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-journal-'));
    try {
      let up = false;
      const written: string[] = [];
      const writer = new WriteBehind<string>({
        name: 'test',
        write: async (items) => {
          if (!up) throw new Error('Connection terminated unexpectedly');
          written.push(...items);
        },
        onError: () => {},
        journal: new WriteJournal(dir),
        maxBacklog: 10,
        retryDelayMs: 10,
        maxRetryDelayMs: 20,
      });
      for (let i = 0; i < 10; i++) writer.put(`k${i}`, `v${i}`);
      await writer.flush();
      for (let i = 10; i < 20; i++) writer.put(`k${i}`, `v${i}`);
      assert.ok(writer.size <= 10, `memory holds at most the bound (${writer.size})`);
      assert.equal(writer.status().pending, 20, 'spilled changes still count as pending');
      assert.ok(fs.existsSync(new WriteJournal(dir).spillFile('test')));
      writer.put('k0', 'v0-newer');
      up = true;
      while (writer.status().pending > 0) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(written.length, 20, 'each key once');
      assert.ok(written.includes('v0-newer') && !written.includes('v0'), 'the newer change of a spilled key wins');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a key spilled twice is read back at its newest, after older changes and before newer ones; replayed dead letters are taken too', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-journal-'));
    try {
      let up = false;
      const batches: string[][] = [];
      const journal = new WriteJournal(dir);
      const writer = new WriteBehind<string>({
        name: 'test',
        write: async (items) => {
          if (!up) throw new Error('Connection terminated unexpectedly');
          batches.push(items);
        },
        onError: () => {},
        journal,
        maxBacklog: 2,
        retryDelayMs: 10,
        maxRetryDelayMs: 20,
      });
      writer.put('a', 'a1');
      await writer.flush();
      writer.put('b', 'b1');
      writer.put('c', 'c1'); // over the bound: the oldest (a1, b1) spill
      writer.put('a', 'a2'); // a changes after it spilled
      writer.put('d', 'd1'); // over the bound again: c1 and a2 spill, so a's newest is in the journal too
      assert.equal(writer.behind, true);
      journal.spill('test', [{ key: 'x', item: 'x-replayed' }]); // what `pbx dead-letters --replay` adds meanwhile
      up = true;
      while (writer.status().pending > 0 || writer.behind) await new Promise((resolve) => setTimeout(resolve, 10));
      const written = batches.flat();
      assert.ok(written.includes('a2') && !written.includes('a1'), `a at its newest: ${written.join(',')}`);
      assert.ok(written.includes('x-replayed'), 'a replayed dead letter is written');
      assert.deepEqual([...written].sort(), ['a2', 'b1', 'c1', 'd1', 'x-replayed']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('what a stop could not write waits in the journal, and the next start writes it first', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-journal-'));
    try {
      const down = new WriteBehind<{ n: number; at: Date }>({
        name: 'test',
        write: async () => {
          throw new Error('terminating connection due to administrator command');
        },
        onError: () => {},
        journal: new WriteJournal(dir),
      });
      const at = new Date();
      down.put('x', { n: 1, at });
      await down.flush();
      await down.close();
      const written: Array<{ n: number; at: Date }> = [];
      const next = new WriteBehind<{ n: number; at: Date }>({ name: 'test', write: async (items) => void written.push(...items), onError: unexpected, journal: new WriteJournal(dir) });
      await next.flush();
      assert.deepEqual(written, [{ n: 1, at }]);
      assert.equal(fs.existsSync(new WriteJournal(dir).spillFile('test')), false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
