// The one list the server closes by (src/process/closers.ts): parts close in the reverse of their start, a part
// added `after` another closes right after it, a failing close is logged and the rest still close, and closing
// twice closes once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { Closers } from '../../src/process/closers.ts';

/** A logger that keeps what it is given, to read back. */
function recordingLogger() {
  const lines: Array<{ msg: string; part?: string; err?: { message: string } }> = [];
  const logger = pino({ level: 'error' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

describe('closers', () => {
  it('closes in the reverse of the order parts were added, one at a time', async () => {
    const { logger } = recordingLogger();
    const closers = new Closers(logger);
    const events: string[] = [];
    const part = (name: string) => async () => {
      events.push(`${name} closing`);
      await new Promise((r) => setTimeout(r, 5));
      events.push(`${name} closed`);
    };
    closers.add('first', part('first'));
    closers.add('second', part('second'));
    closers.add('third', part('third'));
    assert.deepEqual(await closers.close(), []);
    assert.deepEqual(events, ['third closing', 'third closed', 'second closing', 'second closed', 'first closing', 'first closed']);
  });

  it('closes a part added after another right after it, whatever was added since', async () => {
    const { logger } = recordingLogger();
    const closers = new Closers(logger);
    const closed: string[] = [];
    const add = (name: string, after?: string) => closers.add(name, () => void closed.push(name), after ? { after } : {});
    // As the server adds its parts: the order its stop has always had.
    add('core');
    add('media relay');
    add('engine');
    add('recordings', 'media relay');
    add('contact center', 'engine');
    add('http', 'recordings');
    add('live gateway');
    const order = ['live gateway', 'engine', 'contact center', 'media relay', 'recordings', 'http', 'core'];
    assert.deepEqual(closers.names, order);
    await closers.close();
    assert.deepEqual(closed, order);
  });

  it('logs a close that fails with its part, closes the rest, and answers the failures', async () => {
    const { logger, lines } = recordingLogger();
    const closers = new Closers(logger);
    const closed: string[] = [];
    closers.add('database', () => void closed.push('database'));
    closers.add('relay', () => Promise.reject(new Error('relay gone')));
    closers.add('engine', () => {
      throw new Error('engine stuck');
    });
    closers.add('gateway', () => void closed.push('gateway'));
    const failures = await closers.close();
    assert.deepEqual(
      failures.map((e) => (e as Error).message),
      ['engine stuck', 'relay gone'],
    );
    assert.deepEqual(closed, ['gateway', 'database']);
    assert.deepEqual(
      lines.map((l) => [l.msg, l.part, l.err?.message]),
      [
        ['server:close failed', 'engine', 'engine stuck'],
        ['server:close failed', 'relay', 'relay gone'],
      ],
    );
  });

  it('closes once however often it is asked, and refuses a part started while it closes', async () => {
    const { logger } = recordingLogger();
    const closers = new Closers(logger);
    let count = 0;
    closers.add('part', async () => {
      count++;
    });
    const first = closers.close();
    assert.equal(closers.close(), first);
    await first;
    await closers.close();
    assert.equal(count, 1);
    assert.throws(() => closers.add('late', () => {}), /late was started while the server closes/);
  });

  it('refuses a part added twice, or after one never added', () => {
    const { logger } = recordingLogger();
    const closers = new Closers(logger);
    closers.add('engine', () => {});
    assert.throws(() => closers.add('engine', () => {}), /engine is already added/);
    assert.throws(() => closers.add('recordings', () => {}, { after: 'media relay' }), /media relay, which was not added/);
  });
});
