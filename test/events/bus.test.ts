// The event bus: typed events reach every listener; a listener that throws or rejects is reported and can never
// crash the publisher or starve the listeners after it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventBus } from '../../src/events/index.ts';

interface Events {
  ping: { tenantId: string; n: number };
}

describe('event bus', () => {
  it('delivers to every listener in order, and off() stops delivery', () => {
    const bus = new EventBus<Events>();
    const seen: string[] = [];
    const a = (e: Events['ping']) => void seen.push(`a${e.n}`);
    bus.on('ping', a);
    const offB = bus.on('ping', (e) => void seen.push(`b${e.n}`));
    bus.emit('ping', { tenantId: 't', n: 1 });
    offB();
    bus.off('ping', a);
    bus.emit('ping', { tenantId: 't', n: 2 });
    assert.deepEqual(seen, ['a1', 'b1']);
    assert.equal(bus.listenerCount('ping'), 0);
  });

  it('a listener that throws, or rejects, is reported and the others still run', async () => {
    const errors: unknown[] = [];
    const bus = new EventBus<Events>((err) => errors.push(err));
    let reached = 0;
    bus.on('ping', () => {
      throw new Error('sync boom');
    });
    bus.on('ping', async () => {
      throw new Error('async boom');
    });
    bus.on('ping', () => void reached++);
    assert.doesNotThrow(() => bus.emit('ping', { tenantId: 't', n: 1 }));
    await new Promise((r) => setImmediate(r));
    assert.equal(reached, 1);
    assert.deepEqual(errors.map((e) => (e as Error).message).sort(), ['async boom', 'sync boom']);
  });
});
