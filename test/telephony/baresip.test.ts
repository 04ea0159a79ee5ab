// baresip, a SIP phone nobody here wrote: two instances register (over UDP, and over TLS with a certificate made
// for the test); one calls the other, which answers by itself; the caller hangs up; the server's events show the
// whole call.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { DomainEvents } from '../../src/events/index.ts';
import { Baresip } from '../support/baresip.ts';
import { createUser, type TestServer, useTestServer } from '../support/server.ts';

/** Two baresip phones on `transport` register through the server and call; answers the server's call events. */
async function callBetweenTwoPhones(t: TestServer, token: string, proxy: string, transport: 'udp' | 'tls'): Promise<void> {
  const ext = async (name: string) => (await createUser(t, token, { name, email: `${name.replace(/\W/g, '').toLowerCase()}@example.com` })).extension as { id: string; number: number; secret: string };
  const [a, b] = [await ext(`Bare A ${transport}`), await ext(`Bare B ${transport}`)];
  const seen: string[] = [];
  let ended: DomainEvents['call.ended'] | undefined;
  for (const name of ['call.created', 'leg.ringing', 'leg.answered', 'call.answered', 'call.ended'] as const) {
    t.server.bus.on(name, (e) => {
      seen.push(name);
      if (name === 'call.ended') ended = e as DomainEvents['call.ended'];
    });
  }
  const phoneA = await Baresip.start({ user: String(a.number), password: a.secret, domain: 'pbx.test', proxy, answer: 'manual', tone: 440, transport });
  const phoneB = await Baresip.start({ user: String(b.number), password: b.secret, domain: 'pbx.test', proxy, answer: 'auto', tone: 880, transport });
  try {
    // baresip registers as it starts, before its control socket is up: the server's bindings tell.
    const location = t.server.telephony.location;
    for (let i = 0; i < 250 && (location.lookup(a.id).length === 0 || location.lookup(b.id).length === 0); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(location.lookup(a.id).length, 1);
    assert.equal(location.lookup(b.id)[0]?.transport, transport.toUpperCase());
    assert.match(location.lookup(b.id)[0]?.userAgent ?? '', /^baresip/);
    phoneA.command('dial', `sip:${b.number}@pbx.test`);
    await Promise.all([phoneA.waitFor('CALL_ESTABLISHED'), phoneB.waitFor('CALL_ESTABLISHED')]).catch((err: Error) => {
      throw new Error(`${err.message}\n--- callee ---\n${phoneB.log.slice(-6000)}`);
    });
    await new Promise((r) => setTimeout(r, 500));
    phoneA.command('hangup');
    await phoneB.waitFor('CALL_CLOSED');
    for (let i = 0; i < 50 && !ended; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(seen, ['call.created', 'leg.ringing', 'leg.answered', 'call.answered', 'call.ended']);
    assert.equal(ended?.cause, 'caller-hangup');
    assert.ok((ended?.durations.talk ?? 0) >= 400);
  } finally {
    await Promise.all([phoneA.stop(), phoneB.stop()]);
  }
}

describe('baresip phones over UDP', () => {
  const ctx = useTestServer('pglite');

  it('two baresip phones register over UDP, one calls the other, which answers; the caller hangs up', async () => {
    await callBetweenTwoPhones(ctx.t, ctx.token, `127.0.0.1:${ctx.t.server.sipPort}`, 'udp');
  });
});

// A certificate for the test, made with openssl before the server starts.
const certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-tls-'));
execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(certDir, 'key.pem'), '-out', path.join(certDir, 'cert.pem'), '-days', '1', '-subj', '/CN=pbx.test'], { stdio: 'ignore' });
after(() => fs.rmSync(certDir, { recursive: true, force: true }));

describe('baresip phones over TLS', () => {
  const ctx = useTestServer('pglite', { sipTlsCert: path.join(certDir, 'cert.pem'), sipTlsKey: path.join(certDir, 'key.pem'), sipTlsPort: 0 });

  it('two baresip phones register over TLS (PBX_SIP_TLS_CERT/KEY), one calls the other over TLS; the caller hangs up', async () => {
    const tls = ctx.t.server.telephony.stack.transport('TLS');
    assert.ok(tls, 'a TLS transport listens when a certificate is set');
    await callBetweenTwoPhones(ctx.t, ctx.token, `127.0.0.1:${tls.port}`, 'tls');
  });
});
