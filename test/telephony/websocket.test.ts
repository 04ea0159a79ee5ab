// SIP over WebSocket (RFC 7118) at /sip on the HTTP port, proven with JsSIP: it registers with its extension and
// secret, is unregistered when it stops, and loses its binding when its connection drops; an upgrade that does not
// ask for the `sip` subprotocol is refused.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
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

// WSS: with PBX_HTTP_TLS_CERT/KEY the HTTP server is HTTPS, and SIP over WebSocket on it is secure (RFC 7118's
// WSS), as browsers need for the microphone anywhere but on localhost.
const certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-https-'));
execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(certDir, 'key.pem'), '-out', path.join(certDir, 'cert.pem'), '-days', '1', '-subj', '/CN=pbx.test'], { stdio: 'ignore' });
after(() => fs.rmSync(certDir, { recursive: true, force: true }));

describe('SIP over secure WebSocket (WSS) on the HTTPS server', () => {
  const ctx = useTestServer('pglite', { httpTlsCert: path.join(certDir, 'cert.pem'), httpTlsKey: path.join(certDir, 'key.pem') });

  it('the server speaks HTTPS, and JsSIP registers over wss:// at /sip; the binding is a WSS one', async () => {
    assert.match(ctx.t.server.url, /^https:\/\//);
    const health = await new Promise<number>((resolve, reject) => {
      https.get(`${ctx.t.server.url}/health`, { rejectUnauthorized: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    assert.equal(health, 200);
    const ext = (await createUser(ctx.t, ctx.token, { name: 'Secure Phone', email: 'secure.phone@example.com' })).extension as { id: string; number: number; secret: string };
    const { ua, registered } = jssipUa(`${ctx.t.server.url.replace(/^https/, 'wss')}/sip`, { user: String(ext.number), domain: 'pbx.test', password: ext.secret });
    try {
      await registered;
      const bindings = ctx.t.server.telephony.location.lookup(ext.id);
      assert.equal(bindings.length, 1);
      assert.equal(bindings[0]?.transport, 'WSS');
    } finally {
      ua.stop();
    }
  });
});
