// The agent's state table (ARCHITECTURE.md: OFFLINE, AVAILABLE, RINGING, BUSY, WRAP_UP, AWAY): every move it lists is
// allowed, every other is refused with the named AgentStateError.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AGENT_TRANSITIONS, AgentStateError, type AgentStatus, assertMove } from '../../src/contact-center/agent-state.ts';

describe('the agent state table', () => {
  const states = Object.keys(AGENT_TRANSITIONS) as AgentStatus[];
  for (const from of states) {
    for (const to of states) {
      const legal = AGENT_TRANSITIONS[from].includes(to);
      it(`${from} -> ${to} is ${legal ? 'allowed' : 'refused with AgentStateError'}`, () => {
        if (legal) assert.doesNotThrow(() => assertMove(from, to));
        else assert.throws(() => assertMove(from, to), (err: unknown) => err instanceof AgentStateError && err.message === `an agent cannot go from ${from} to ${to}`);
      });
    }
  }

  it('ringing and wrap-up follow calls: nobody rings or wraps up without one', () => {
    for (const from of states) {
      if (from !== 'AVAILABLE') assert.ok(!AGENT_TRANSITIONS[from].includes('RINGING'), `${from} -> RINGING`);
      if (from !== 'BUSY') assert.ok(!AGENT_TRANSITIONS[from].includes('WRAP_UP'), `${from} -> WRAP_UP`);
    }
  });
});
