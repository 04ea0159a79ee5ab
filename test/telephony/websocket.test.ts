// SIP over WebSocket (RFC 7118) at /sip on the HTTP port, proven with JsSIP: it registers with its extension and
// secret, is unregistered when it stops, and loses its binding when its connection drops; an upgrade that does not
// ask for the `sip` subprotocol is refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { jssipUa } from '../support/jssip.ts';
import { createUser, useTestServer } from '../support/server.ts';

async function waitFor(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('SIP over WebSocket with JsSIP (RFC 7118)', () => {
  const ctx = useTestServer('pglite');
  const wsUrl = () => `${ctx.t.server.url.replace('http', 'ws')}/sip`;

  it('JsSIP registers over /sip with its extension and secret, and unregisters when it stops', async () => {
    const u = await createUser(ctx.t, ctx.token, { name: 'Web Phone', email: 'webphone@example.com' });
    const ext = u.extension as { id: string; number: number; secret: string };
    const { ua, registered } = jssipUa(wsUrl(), { user: String(ext.number), domain: 'pbx.test', password: ext.secret });
    try {
      await registered;
      const [binding] = ctx.t.server.telephony.location.lookup(ext.id);
      assert.equal(binding?.transport, 'WS');
      assert.match(binding?.contact ?? '', /;transport=ws/i);
      assert.ok(binding?.flow, 'reached over its WebSocket');
      assert.equal(binding?.userAgent, 'JsSIP test');
    } finally {
      ua.stop();
    }
    await waitFor(() => ctx.t.server.telephony.location.lookup(ext.id).length === 0);
  });

  it('a browser tab that vanishes loses its binding with its connection', async () => {
    const u = await createUser(ctx.t, ctx.token, { name: 'Crashy Tab', email: 'crashy@example.com' });
    const ext = u.extension as { id: string; number: number; secret: string };
    const removed: string[] = [];
    ctx.t.server.bus.on('registration.removed', (e) => void (e.extensionId === ext.id && removed.push(e.reason)));
    const { ua, socket, registered } = jssipUa(wsUrl(), { user: String(ext.number), domain: 'pbx.test', password: ext.secret });
    try {
      await registered;
      socket.kill();
      await waitFor(() => ctx.t.server.telephony.location.lookup(ext.id).length === 0);
      assert.deepEqual(removed, ['flow-closed']);
    } finally {
      ua.stop();
    }
  });

  it('a wrong secret fails the registration', async () => {
    const u = await createUser(ctx.t, ctx.token, { name: 'Wrong Web', email: 'wrongweb@example.com' });
    const ext = u.extension as { id: string; number: number };
    const { ua, registered } = jssipUa(wsUrl(), { user: String(ext.number), domain: 'pbx.test', password: 'not-the-secret' });
    try {
      await assert.rejects(registered, /registration failed/);
      assert.equal(ctx.t.server.telephony.location.lookup(ext.id).length, 0);
    } finally {
      ua.stop();
    }
  });

  it('an upgrade without the sip subprotocol is refused', async () => {
    const ws = new WebSocket(wsUrl());
    const outcome = await new Promise<string>((resolve) => {
      ws.on('open', () => resolve('open'));
      ws.on('unexpected-response', (_req, res) => resolve(`refused ${res.statusCode}`));
      ws.on('error', () => resolve('error'));
    });
    ws.terminate();
    assert.equal(outcome, 'refused 400');
  });
});
