// The live API's client events are checked at the door as REST bodies are: text holding U+0000, which PostgreSQL
// refuses, is answered PBX_ERR_VALIDATION by acknowledgement before any schema or service sees it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectLive } from '../support/live.ts';
import { useTestServer } from '../support/server.ts';

describe('live API client events', () => {
  const ctx = useTestServer('pglite');

  it('a NUL character (U+0000) in any text of an event is refused with PBX_ERR_VALIDATION naming the field', async () => {
    const live = await connectLive(ctx.t.server.url, ctx.token);
    try {
      const answer = await live.ask('agent:status:change', { status: 'AWAY', reason: 'Lunch\u0000' });
      assert.equal(answer.ok, false);
      assert.equal(answer.error?.code, 'PBX_ERR_VALIDATION');
      assert.equal(answer.error?.message, 'payload.reason must not contain the NUL character (U+0000)');
    } finally {
      live.close();
    }
  });
});
