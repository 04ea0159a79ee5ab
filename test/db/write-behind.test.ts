// Changes written behind memory (src/db/write-behind.ts): a later change of a key replaces the earlier one, what
// is pending goes in one batch, batches run one at a time in order, and one bad change costs only itself.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WriteBehind } from '../../src/db/write-behind.ts';

const unexpected = (err: unknown) => assert.fail(`unexpected write error: ${String(err)}`);

describe('write-behind', () => {
  it('coalesces changes by key and writes what one turn changed in one batch', async () => {
    const batches: string[][] = [];
    const writer = new WriteBehind<string>(async (items) => void batches.push(items), unexpected);
    writer.put('a', 'a1');
    const first = writer.flushSoon();
    writer.put('b', 'b1');
    writer.put('a', 'a2');
    assert.equal(writer.flushSoon(), first, 'one batch for the turn');
    await first;
    assert.deepEqual(batches, [['a2', 'b1']]);
    assert.equal(writer.size, 0);
  });

  it('runs batches one after another: a change made while one is written goes in the next', async () => {
    const log: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const writer = new WriteBehind<string>(async (items) => {
      log.push(`start ${items.join(',')}`);
      if (items.includes('x1')) await gate;
      log.push(`end ${items.join(',')}`);
    }, unexpected);
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

  it('when a batch fails, each change is written alone and only the bad one is lost and reported', async () => {
    const written: string[] = [];
    const errors: unknown[] = [];
    const writer = new WriteBehind<string>(async (items) => {
      if (items.includes('bad')) throw new Error('constraint violated');
      written.push(...items);
    }, (err) => errors.push(err));
    writer.put('1', 'good1');
    writer.put('2', 'bad');
    writer.put('3', 'good2');
    await writer.flush();
    assert.deepEqual(written, ['good1', 'good2']);
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]), /constraint violated/);
  });
});
