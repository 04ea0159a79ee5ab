// The registrar (RFC 3261 section 10) against sipp, a peer nobody here wrote: digest authentication (401 then 200,
// 403 for a wrong password), expiry bounds (423 with Min-Expires, clamping), at most 3 contacts, Contact: * removal,
// TCP bindings removed with their connection, credentials changes dropping bindings, unknown domains refused before
// the database, addresses that keep failing banned; and malformed requests answered without harm.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { DomainEvents } from '../../src/events/index.ts';
import { authField, runSipp } from '../support/sipp.ts';
import { createUser, type TestServer, useTestServer } from '../support/server.ts';
import { sipRequest, udpExchange } from '../support/udp.ts';

type Ext = { id: string; number: number; secret: string };

async function agent(t: TestServer, token: string, name: string): Promise<Ext> {
  const u = await createUser(t, token, { name, email: `${name.replace(/\W/g, '').toLowerCase()}@example.com` });
  return u.extension as Ext;
}

function register(t: TestServer, ext: Ext, options: { password?: string; expires?: number; expect?: number; transport?: 'u1' | 't1' } = {}) {
  return runSipp({
    scenario: 'register.xml',
    target: `127.0.0.1:${t.server.sipPort}`,
    transport: options.transport,
    rows: [[String(ext.number), authField(String(ext.number), options.password ?? ext.secret)]],
    vars: { domain: 'pbx.test', expires: String(options.expires ?? 300) },
    substitute: { EXPECT: String(options.expect ?? 200), CONTACT: '[local_ip]:[local_port]' },
  });
}

function events<K extends keyof DomainEvents>(t: TestServer, name: K): Array<DomainEvents[K]> {
  const seen: Array<DomainEvents[K]> = [];
  t.server.bus.on(name, (e) => void seen.push(e));
  return seen;
}

describe('registrar with sipp (RFC 3261 section 10)', () => {
  const ctx = useTestServer('pglite');

  it('REGISTER is challenged with 401 and, with the right digest, bound: 200 lists the contact with its expiry', async () => {
    const ext = await agent(ctx.t, ctx.token, 'Reg One');
    const added = events(ctx.t, 'registration.added');
    const run = await register(ctx.t, ext, { expires: 120 });
    assert.equal(run.code, 0, run.errors || run.output);
    assert.match(run.log, /granted=120/);
    const [binding] = ctx.t.server.telephony.location.lookup(ext.id);
    assert.ok(binding);
    assert.equal(binding.transport, 'UDP');
    assert.equal(binding.sourceAddress, '127.0.0.1');
    assert.match(binding.contact, new RegExp(`^sip:${ext.number}@127\\.0\\.0\\.1:\\d+;transport=UDP$`));
    assert.equal(binding.userAgent, 'sipp');
    assert.equal(added.length, 1);
    assert.equal(added[0]?.number, ext.number);
    assert.equal(added[0]?.tenantId, ctx.t.server.systemTenant.id);
  });

  it('a wrong password is answered 403 and binds nothing', async () => {
    const ext = await agent(ctx.t, ctx.token, 'Reg Wrong');
    const run = await register(ctx.t, ext, { password: 'not-the-secret', expect: 403 });
    assert.equal(run.code, 0, run.errors || run.output);
    assert.equal(ctx.t.server.telephony.location.lookup(ext.id).length, 0);
  });

  it('an expiry below 60 seconds is answered 423 Interval Too Brief with Min-Expires: 60', async () => {
    const ext = await agent(ctx.t, ctx.token, 'Reg Brief');
    const run = await register(ctx.t, ext, { expires: 30, expect: 423 });
    assert.equal(run.code, 0, run.errors || run.output);
    assert.match(run.log, /min-expires=60/);
  });

  it('an expiry above 3600 seconds is shortened to 3600', async () => {
    const ext = await agent(ctx.t, ctx.token, 'Reg Long');
    const run = await register(ctx.t, ext, { expires: 86_400 });
    assert.equal(run.code, 0, run.errors || run.output);
    assert.match(run.log, /granted=3600/);
  });

  it('at most 3 contacts per extension: a fourth drops the oldest', async () => {
    const ext = await agent(ctx.t, ctx.token, 'Reg Four');
    const removed = events(ctx.t, 'registration.removed');
    const contacts: string[] = [];
    for (let i = 0; i < 4; i++) {
      const run = await register(ctx.t, ext);
      assert.equal(run.code, 0, run.errors || run.output);
      const newest = ctx.t.server.telephony.location.lookup(ext.id).at(-1);
      contacts.push(newest?.contact as string);
    }
    const left = ctx.t.server.telephony.location.lookup(ext.id).map((b) => b.contact);
    assert.deepEqual(left, contacts.slice(1));
    assert.deepEqual(removed.filter((e) => e.number === ext.number).map((e) => [e.contact, e.reason]), [[contacts[0], 'replaced']]);
  });

  it('Contact: * with Expires: 0 removes every binding of the extension', async () => {
    const ext = await agent(ctx.t, ctx.token, 'Reg Star');
    await register(ctx.t, ext);
    await register(ctx.t, ext);
    assert.equal(ctx.t.server.telephony.location.lookup(ext.id).length, 2);
    const run = await runSipp({
      scenario: 'unregister-all.xml',
      target: `127.0.0.1:${ctx.t.server.sipPort}`,
      rows: [[String(ext.number), authField(String(ext.number), ext.secret)]],
      vars: { domain: 'pbx.test' },
    });
    assert.equal(run.code, 0, run.errors || run.output);
    assert.equal(ctx.t.server.telephony.location.lookup(ext.id).length, 0);
  });

  it('Expires: 0 for one contact removes that binding only', async () => {
    const ext = await agent(ctx.t, ctx.token, 'Reg Zero');
    const run = await register(ctx.t, ext, { expires: 0 });
    assert.equal(run.code, 0, run.errors || run.output);
    assert.equal(ctx.t.server.telephony.location.lookup(ext.id).length, 0);
  });

  it('over TCP, the binding is reached over that connection and removed when it closes', async () => {
    const ext = await agent(ctx.t, ctx.token, 'Reg Tcp');
    const removed = events(ctx.t, 'registration.removed');
    const run = await register(ctx.t, ext, { transport: 't1' });
    assert.equal(run.code, 0, run.errors || run.output);
    // sipp has exited, so its connection is closed: the binding went with it.
    for (let i = 0; i < 50 && ctx.t.server.telephony.location.lookup(ext.id).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(ctx.t.server.telephony.location.lookup(ext.id).length, 0);
    assert.deepEqual(removed.filter((e) => e.number === ext.number).map((e) => [e.transport, e.reason]), [['TCP', 'flow-closed']]);
  });

  it("a secret reset drops the extension's registrations; the old secret is refused at once and the new one taken", async () => {
    const ext = await agent(ctx.t, ctx.token, 'Reg Reset');
    await register(ctx.t, ext);
    const user = (await ctx.t.request('GET', '/api/users', { token: ctx.token })).json().users.find((u: { extension: { id: string } | null }) => u.extension?.id === ext.id);
    const removed = events(ctx.t, 'registration.removed');
    const reset = await ctx.t.request('POST', `/api/users/${user.id}/extension/reset-secret`, { token: ctx.token });
    assert.equal(ctx.t.server.telephony.location.lookup(ext.id).length, 0);
    assert.equal(removed.at(-1)?.reason, 'credentials-changed');
    // The engine keeps credentials in memory: the change must reach it before the next REGISTER.
    await register(ctx.t, ext, { expect: 403 });
    assert.equal(ctx.t.server.telephony.location.lookup(ext.id).length, 0);
    await register(ctx.t, { ...ext, secret: reset.json().extension.secret as string });
    assert.equal(ctx.t.server.telephony.location.lookup(ext.id).length, 1);
  });

  it('OPTIONS is answered 200 (keepalive)', async () => {
    const run = await runSipp({ scenario: 'options.xml', target: `127.0.0.1:${ctx.t.server.sipPort}`, vars: { domain: 'pbx.test' } });
    assert.equal(run.code, 0, run.errors || run.output);
  });

  it('a REGISTER for a domain no tenant owns is refused 403 at once, without a challenge', async () => {
    const replies = await udpExchange(
      ctx.t.server.sipPort,
      sipRequest('REGISTER', 'sip:scanner.example', {
        From: '<sip:100@scanner.example>;tag=1',
        To: '<sip:100@scanner.example>',
        'Call-ID': 'scan-1',
        CSeq: '1 REGISTER',
        Contact: '<sip:100@127.0.0.1:9>',
      }),
    );
    assert.equal(replies.length, 1);
    assert.match(replies[0] as string, /^SIP\/2\.0 403 Forbidden \(unknown domain\)\r\n/);
    assert.doesNotMatch(replies[0] as string, /WWW-Authenticate/i);
  });

  it('a Require of an unknown extension is answered 420 with Unsupported (RFC 4475 bext01)', async () => {
    const replies = await udpExchange(
      ctx.t.server.sipPort,
      sipRequest('OPTIONS', 'sip:pbx.test', { From: '<sip:a@pbx.test>;tag=1', To: '<sip:pbx.test>', 'Call-ID': 'req-1', CSeq: '1 OPTIONS', Require: 'nothingSupportsThis, nothingSupportsThisEither' }),
    );
    assert.match(replies[0] as string, /^SIP\/2\.0 420 Bad Extension\r\n/);
    assert.match(replies[0] as string, /\r\nUnsupported: nothingSupportsThis, nothingSupportsThisEither\r\n/);
  });

  it('each RFC 4475 torture message sent over UDP is answered as the RFC says, and the server keeps serving', async () => {
    const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/rfc4475');
    // Answers to requests that parse follow their Via (RFC 3261 section 18.2.2): without rport they go to the Via's
    // port, not back to this socket, so only the malformed ones (answered where they came from) are checked here.
    const expected: Record<string, RegExp> = {
      badinv01: /^SIP\/2\.0 400 /, clerr: /^SIP\/2\.0 400 /, ncl: /^SIP\/2\.0 400 /, scalar02: /^SIP\/2\.0 400 /,
      quotbal: /^SIP\/2\.0 400 /, ltgtruri: /^SIP\/2\.0 400 /, lwsruri: /^SIP\/2\.0 400 /, lwsstart: /^SIP\/2\.0 400 /,
      trws: /^SIP\/2\.0 400 /, escruri: /^SIP\/2\.0 400 /, baddate: /^SIP\/2\.0 400 /, regbadct: /^SIP\/2\.0 400 /,
      badaspec: /^SIP\/2\.0 400 /, baddn: /^SIP\/2\.0 400 /, badvers: /^SIP\/2\.0 505 /, mismatch01: /^SIP\/2\.0 400 /,
      mismatch02: /^SIP\/2\.0 400 /, multi01: /^SIP\/2\.0 400 /, mcl01: /^SIP\/2\.0 400 /,
    };
    const sends = fs.readdirSync(dir).filter((f) => f.endsWith('.dat'));
    const results = await Promise.all(sends.map(async (f) => [f.replace('.dat', ''), await udpExchange(ctx.t.server.sipPort, fs.readFileSync(path.join(dir, f)), 800)] as const));
    for (const [name, replies] of results) {
      if (expected[name]) {
        assert.ok(replies.some((r) => (expected[name] as RegExp).test(r)), `${name}: ${replies.map((r) => r.split('\r\n')[0]).join(' | ') || 'no reply'}`);
      }
      if (['scalarlg', 'bigcode', 'noreason', 'unreason', 'bcast'].includes(name)) assert.deepEqual(replies, [], `${name}: a response gets no answer`);
    }
    const run = await runSipp({ scenario: 'options.xml', target: `127.0.0.1:${ctx.t.server.sipPort}`, vars: { domain: 'pbx.test' } });
    assert.equal(run.code, 0, 'still serving');
  });
});

describe('registrar abuse protection', () => {
  const ctx = useTestServer('pglite', { sipAuthMaxFailures: 3, sipAuthWindowSeconds: 60, sipBanSeconds: 600 });

  it('an address that keeps failing authentication gets 403 once and is then ignored, even with the right password', async () => {
    const ext = await agent(ctx.t, ctx.token, 'Victim');
    for (let i = 0; i < 3; i++) {
      const run = await register(ctx.t, ext, { password: `guess-${i}`, expect: 403 });
      assert.equal(run.code, 0, run.errors || run.output);
    }
    const refused = await register(ctx.t, ext, { expect: 403 });
    assert.notEqual(refused.code, 0, 'the banned address is refused before any challenge');
    const replies = await udpExchange(ctx.t.server.sipPort, sipRequest('OPTIONS', 'sip:pbx.test', { From: '<sip:a@pbx.test>;tag=1', To: '<sip:pbx.test>', 'Call-ID': 'ban-1', CSeq: '1 OPTIONS' }));
    assert.deepEqual(replies, [], 'and then ignored');
    assert.equal(ctx.t.server.telephony.location.lookup(ext.id).length, 0);
  });
});
