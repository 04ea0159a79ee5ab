// The call session's status table: the moves calls make are legal, a final status is never left, and an illegal
// move throws the named error.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertSessionMove, CallSessionStateError, canMoveSession, FINAL_SESSION_STATES, SESSION_TRANSITIONS } from '../../src/contact-center/index.ts';

describe('call session status table', () => {
  it('allows the paths of a direct call, a queue call with a missed offer, a hold and a transfer', () => {
    const paths = [
      ['INITIATED', 'RINGING', 'CONNECTED', 'ON_HOLD', 'CONNECTED', 'COMPLETED'],
      ['INITIATED', 'QUEUED', 'RINGING', 'QUEUED', 'RINGING', 'CONNECTED', 'TRANSFERRING', 'QUEUED', 'RINGING', 'COMPLETED'],
      ['INITIATED', 'RINGING', 'CONNECTED', 'TRANSFERRING', 'ON_HOLD', 'CONNECTED', 'COMPLETED'],
      ['INITIATED', 'QUEUED', 'ABANDONED'],
      ['INITIATED', 'RINGING', 'MISSED'],
    ] as const;
    for (const path of paths) for (let i = 1; i < path.length; i++) assert.equal(canMoveSession(path[i - 1]!, path[i]!), true, `${path[i - 1]} -> ${path[i]}`);
  });

  it('never leaves a final status, and every open status can end', () => {
    for (const final of FINAL_SESSION_STATES) assert.deepEqual(SESSION_TRANSITIONS[final], []);
    for (const [from, to] of Object.entries(SESSION_TRANSITIONS)) {
      if (!FINAL_SESSION_STATES.includes(from as never)) for (const final of FINAL_SESSION_STATES) assert.ok(to.includes(final), `${from} -> ${final}`);
    }
  });

  it('throws CallSessionStateError for a move the table does not list; keeping the status is no move', () => {
    assert.throws(() => assertSessionMove('COMPLETED', 'CONNECTED'), (err: unknown) => err instanceof CallSessionStateError && err.name === 'CallSessionStateError');
    assert.throws(() => assertSessionMove('INITIATED', 'ON_HOLD'), CallSessionStateError);
    assert.doesNotThrow(() => assertSessionMove('RINGING', 'RINGING'));
  });
});
