// The read-through cache every hot-path lookup shares: a hit costs no read, a change heard forgets, a read that
// raced a change is not kept, misses are short-lived, and an outage answers what was known.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReadThrough } from '../../src/events/read-through.ts';

describe('ReadThrough', () => {
  it('reads once and answers from memory after; forget makes the next get read again', async () => {
    const cache = new ReadThrough<string>();
    let reads = 0;
    const load = async () => `v${++reads}`;
    assert.equal(await cache.get('k', load), 'v1');
    assert.equal(await cache.get('k', load), 'v1');
    assert.equal(reads, 1);
    cache.forget('k');
    assert.equal(await cache.get('k', load), 'v2');
  });

  it('a read that started before a change is answered but not kept', async () => {
    const cache = new ReadThrough<string>();
    let release!: (v: string) => void;
    const slow = cache.get('k', () => new Promise<string>((r) => (release = r)));
    cache.forgetWhere(() => true);
    release('stale');
    assert.equal(await slow, 'stale');
    assert.equal(await cache.get('k', async () => 'fresh'), 'fresh');
  });

  it('set with the version taken before a read keeps nothing when a change came meanwhile', () => {
    const cache = new ReadThrough<string>();
    const since = cache.version;
    cache.forget('other');
    cache.set('k', 'read before the change', since);
    assert.equal(cache.size, 0);
    cache.set('k', 'read after', cache.version);
    assert.equal(cache.size, 1);
  });

  it('a miss is remembered until forgetMisses, and only for missTtlMs', async () => {
    const cache = new ReadThrough<string>({ missTtlMs: 60_000 });
    let value: string | undefined = undefined;
    assert.equal(await cache.get('k', async () => value), undefined);
    value = 'now there';
    assert.equal(await cache.get('k', async () => value), undefined, 'the miss is remembered');
    cache.forgetMisses();
    assert.equal(await cache.get('k', async () => value), 'now there');
    const short = new ReadThrough<string>({ missTtlMs: 0 });
    assert.equal(await short.get('k', async () => undefined), undefined);
    assert.equal(await short.get('k', async () => 'read again'), 'read again');
  });

  it('an expired entry is still answered while its read fails; with nothing known the failure is thrown', async () => {
    const cache = new ReadThrough<string>({ ttlMs: 0 });
    await cache.get('k', async () => 'known');
    assert.equal(await cache.get('k', () => Promise.reject(new Error('database away'))), 'known');
    await assert.rejects(cache.get('other', () => Promise.reject(new Error('database away'))), /database away/);
  });

  it('keeps at most maxEntries, the least recently stored going first', async () => {
    const cache = new ReadThrough<number>({ maxEntries: 2 });
    for (const k of ['a', 'b', 'c']) await cache.get(k, async () => 1);
    assert.equal(cache.size, 2);
    let reads = 0;
    await cache.get('a', async () => ++reads);
    assert.equal(reads, 1, 'the oldest went');
  });
});
