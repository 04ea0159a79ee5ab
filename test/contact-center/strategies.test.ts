// app_queue's strategies as pure orderings, and the agent state table: which member is offered a call first, and
// which state changes an agent may make.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AGENT_TRANSITIONS, callerPriority, canMove, type Candidate, finalStatus, orderCandidates } from '../../src/contact-center/index.ts';

const c = (extensionId: string, position: number, extra: Partial<Candidate> = {}): Candidate => ({ extensionId, position, penalty: 0, lastCallEndedAt: 0, callsTaken: 0, ...extra });
const ids = (list: Candidate[]) => list.map((x) => x.extensionId);

describe('ACD strategies (Asterisk app_queue)', () => {
  const members = [c('a', 0), c('b', 1), c('c', 2)];

  it('linear always starts from the first member; ringall offers every member of the best tier', () => {
    assert.deepEqual(ids(orderCandidates('linear', [members[2]!, members[0]!, members[1]!], { lastPosition: 1 })), ['a', 'b', 'c']);
    assert.deepEqual(ids(orderCandidates('ringall', [...members, c('d', 3, { penalty: 1 })], { lastPosition: -1 })), ['a', 'b', 'c']);
  });

  it('rrmemory and rrordered start after the member offered last, wrapping round', () => {
    for (const strategy of ['rrmemory', 'rrordered'] as const) {
      assert.deepEqual(ids(orderCandidates(strategy, members, { lastPosition: -1 })), ['a', 'b', 'c']);
      assert.deepEqual(ids(orderCandidates(strategy, members, { lastPosition: 1 })), ['c', 'a', 'b']);
      assert.deepEqual(ids(orderCandidates(strategy, members, { lastPosition: 2 })), ['a', 'b', 'c']);
    }
  });

  it('leastrecent offers the member whose last call ended longest ago; fewestcalls the one with fewest calls', () => {
    const history = [c('a', 0, { lastCallEndedAt: 300, callsTaken: 5 }), c('b', 1, { lastCallEndedAt: 100, callsTaken: 9 }), c('c', 2, { lastCallEndedAt: 200, callsTaken: 1 })];
    assert.deepEqual(ids(orderCandidates('leastrecent', history, { lastPosition: -1 })), ['b', 'c', 'a']);
    assert.deepEqual(ids(orderCandidates('fewestcalls', history, { lastPosition: -1 })), ['c', 'a', 'b']);
  });

  it('a higher penalty is offered only when no member of a lower one may be (every strategy but wrandom)', () => {
    const tiers = [c('high', 0, { penalty: 2 }), c('low', 1, { penalty: 0 })];
    for (const strategy of ['ringall', 'leastrecent', 'fewestcalls', 'random', 'rrmemory', 'rrordered', 'linear'] as const) {
      assert.deepEqual(ids(orderCandidates(strategy, tiers, { lastPosition: -1 })), ['low'], strategy);
    }
  });

  it('random is uniform over the tier; wrandom weighs by penalty (a draw in [0, (penalty + 1) * 1000))', () => {
    let seed = 7;
    const rng = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const counts = { a: 0, b: 0, c: 0 } as Record<string, number>;
    for (let i = 0; i < 3000; i++) counts[orderCandidates('random', members, { lastPosition: -1 }, rng)[0]!.extensionId]!++;
    for (const n of Object.values(counts)) assert.ok(n > 800 && n < 1200, JSON.stringify(counts));
    const weighted = { light: 0, heavy: 0 } as Record<string, number>;
    const pair = [c('light', 0, { penalty: 0 }), c('heavy', 1, { penalty: 3 })];
    for (let i = 0; i < 4000; i++) weighted[orderCandidates('wrandom', pair, { lastPosition: -1 }, rng)[0]!.extensionId]!++;
    // P(heavy first) = P(U(0,4000) < U(0,1000)) = 1/8.
    assert.ok(weighted.heavy! > 300 && weighted.heavy! < 700, JSON.stringify(weighted));
  });
});

describe('agent states', () => {
  it('RINGING, BUSY and WRAP_UP are reached only through calls, and OFFLINE only leaves by login, pause or a call', () => {
    assert.deepEqual([...AGENT_TRANSITIONS.OFFLINE].sort(), ['AVAILABLE', 'AWAY', 'BUSY']);
    assert.equal(canMove('OFFLINE', 'RINGING'), false);
    assert.equal(canMove('AWAY', 'RINGING'), false, 'a paused agent is never offered a call');
    assert.equal(canMove('WRAP_UP', 'RINGING'), false, 'wrap-up is never cut short by an offer');
    assert.equal(canMove('BUSY', 'WRAP_UP'), true);
  });

  it('a session ends COMPLETED if answered, ABANDONED if its queue caller hung up, MISSED if let go, FAILED on errors', () => {
    assert.equal(finalStatus({ answeredAt: new Date(), queueId: 'q' }, 'caller-hangup'), 'COMPLETED');
    assert.equal(finalStatus({ answeredAt: null, queueId: 'q' }, 'cancelled'), 'ABANDONED');
    assert.equal(finalStatus({ answeredAt: null, queueId: 'q' }, 'queue-timeout'), 'MISSED');
    assert.equal(finalStatus({ answeredAt: null, queueId: null }, 'no-answer'), 'MISSED');
    assert.equal(finalStatus({ answeredAt: null, queueId: null }, 'shutdown'), 'FAILED');
  });

  it('callers of RFC 3261 Priority emergency and urgent wait in front of normal ones', () => {
    assert.ok(callerPriority('emergency') > callerPriority('urgent'));
    assert.ok(callerPriority('urgent') > callerPriority(undefined));
    assert.ok(callerPriority('non-urgent') < callerPriority('normal'));
  });
});
