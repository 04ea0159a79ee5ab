// The state tables of a call and of its legs (ARCHITECTURE.md: "a Leg is one SIP dialog's side of a call, with an
// enforced state table"): every move the table allows is taken, and every other move is refused with the named
// InvalidStateError, on the real classes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DirectMediaPlane } from '../../src/media/index.ts';
import { InvalidStateError, parseUri, SipHeaders, SipRequest, SipStack } from '../../src/sip/index.ts';
import type { Binding } from '../../src/telephony/index.ts';
import { Call, CALL_MOVES, type CallObserver, CallState } from '../../src/telephony/calls/call.ts';
import { Leg, LEG_MOVES, LegState } from '../../src/telephony/calls/leg.ts';

/** Every (from, to) pair of a table's states, with whether the table allows it. */
function pairs<S extends string>(table: Record<S, readonly S[]>): Array<{ from: S; to: S; legal: boolean }> {
  const states = Object.keys(table) as S[];
  return states.flatMap((from) => states.map((to) => ({ from, to, legal: table[from].includes(to) })));
}

class LegProbe extends Leg {
  place(state: LegState): void {
    this.state = state;
  }
  go(state: LegState): void {
    this.moveTo(state);
  }
}

class CallProbe extends Call {
  place(state: CallState): void {
    this.state = state;
  }
  go(state: CallState): void {
    this.moveTo(state);
  }
}

describe('the leg state table', () => {
  const invite = new SipRequest('INVITE', parseUri('sip:1001@127.0.0.1:5099'), new SipHeaders().add('CSeq', '1 INVITE'), Buffer.alloc(0));
  const leg = () => new LegProbe({ contact: 'sip:1001@127.0.0.1:5099', path: [] } as unknown as Binding, invite, {} as never, 'leg-1', { extensionId: 'e1', number: '1001' });

  it('a leg starts trying, and only trying and ringing legs are live', () => {
    assert.equal(leg().state, LegState.Trying);
    for (const state of Object.values(LegState)) {
      const l = leg();
      l.place(state);
      assert.equal(l.live, state === LegState.Trying || state === LegState.Ringing, state);
    }
  });

  for (const { from, to, legal } of pairs(LEG_MOVES)) {
    it(`${from} -> ${to} is ${legal ? 'taken' : 'refused with InvalidStateError'}`, () => {
      const l = leg();
      l.place(from);
      if (legal) {
        l.go(to);
        assert.equal(l.state, to);
      } else {
        assert.throws(() => l.go(to), (err: unknown) => err instanceof InvalidStateError && err.name === 'InvalidStateError' && err.message === `leg cannot go from ${from} to ${to}`);
        assert.equal(l.state, from, 'a refused move changes nothing');
      }
    });
  }

  it('every state can end, and ended is final', () => {
    for (const state of Object.values(LegState)) if (state !== LegState.Ended) assert.ok(LEG_MOVES[state].includes(LegState.Ended), state);
    assert.deepEqual(LEG_MOVES[LegState.Ended], []);
  });
});

describe('the call state table', () => {
  let stack: SipStack;
  before(async () => {
    stack = await SipStack.start({ listen: [{ protocol: 'UDP', host: '127.0.0.1', port: 0 }] }, { onRequest: () => {} });
  });
  after(async () => {
    await stack.close();
  });
  const observer = new Proxy({}, { get: () => () => [] }) as CallObserver;
  const call = () =>
    new CallProbe('tenant', 'pbx.test', { extensionId: 'e1', number: '1000' }, '1001', false, undefined, stack, observer, { T1: 500, T2: 4000 }, {
      plane: new DirectMediaPlane('no relay in this test'),
      holdMusic: undefined,
      ringback: undefined,
      onError: () => {},
    });

  it('a call starts routing', () => {
    assert.equal(call().state, CallState.Routing);
  });

  for (const { from, to, legal } of pairs(CALL_MOVES)) {
    it(`${from} -> ${to} is ${legal ? 'taken' : 'refused with InvalidStateError'}`, () => {
      const c = call();
      c.place(from);
      if (legal) {
        c.go(to);
        assert.equal(c.state, to);
      } else {
        assert.throws(() => c.go(to), (err: unknown) => err instanceof InvalidStateError && err.message === `call cannot go from ${from} to ${to}`);
        assert.equal(c.state, from);
      }
    });
  }
});
