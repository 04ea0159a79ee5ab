// Peers that failed before, with sipp as every phone: a 6xx from one of several ringing devices ends the fork at
// once (RFC 3261 section 16.7).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { freePort } from '../support/process.ts';
import { useTestServer } from '../support/server.ts';
import { agent, callee, caller, callerRefused, registerAt } from '../support/calls.ts';

describe('a 6xx ends the fork (RFC 3261 section 16.7)', () => {
  const ctx = useTestServer('pglite');

  it('603 Decline from one device while another still rings: the other is CANCELled and the caller gets 603 at once', async () => {
    const [a, b] = [await agent(ctx.t, ctx.token, 'Caller Fork'), await agent(ctx.t, ctx.token, 'Two Phones Decline')];
    // A ring timeout longer than sipp's patience: the caller must hear the 603 before it, not a 480 after it.
    const res = await ctx.t.request('PUT', `/api/pbx/agent-extensions/${b.id}`, { token: ctx.token, body: { ringTimeout: 60 } });
    assert.equal(res.statusCode, 200);
    const [declinePort, ringPort] = [await freePort(), await freePort()];
    const declining = callee('uas-reject.xml', declinePort, { STATUS: '603' });
    const ringing = callee('uas-ring-until-cancel.xml', ringPort);
    await registerAt(ctx.t, b, declinePort);
    await registerAt(ctx.t, b, ringPort);
    const uac = await caller(ctx.t, a, b.number, callerRefused(603));
    assert.equal(uac.code, 0, uac.errors || uac.output);
    const [declined, cancelled] = await Promise.all([declining, ringing]);
    assert.equal(declined.code, 0, declined.errors || declined.output);
    assert.equal(cancelled.code, 0, `the other device heard CANCEL: ${cancelled.errors || cancelled.output}`);
  });
});
