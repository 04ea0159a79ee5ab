// Registration trunks against a real carrier's registrar: a Kamailio 5.6 that demands digest on REGISTER, keeps
// bindings in memory, cuts expiries above 10 s and answers 423 below 4 s (test/fixtures/kamailio/carrier.cfg), and
// sends a request for a registered user to its contact. RFC 3261 section 10.2: we register (answering the 401),
// refresh before the expiry granted with the same Call-ID and a higher CSeq (10.2.4), ask again for Min-Expires
// after a 423 (10.2.8), un-register with Expires: 0 (10.2.2); a wrong password ends in `failed` without a loop;
// a dead first server gives way to the next. OPTIONS keepalives mark a server up on any answer and down on Timer F.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type IncomingRequest, type SipRequest, SipStack } from '../../src/sip/index.ts';
import { TrunkHealth, type TrunkHealthStatus } from '../../src/telephony/trunks/trunk-health.ts';
import {
  trunkContactUser,
  TrunkRegistrations,
  type TrunkRegistrationStatus,
} from '../../src/telephony/trunks/trunk-registration.ts';
import type { Trunk } from '../../src/telephony/trunks/types.ts';
import { type Kamailio, startKamailio } from '../support/kamailio.ts';
import { freePort } from '../support/process.ts';
import { sipRequest, udpExchange } from '../support/udp.ts';
import { sleep, until } from '../support/wait.ts';

const PASSWORD = 'carrier-s3cret';
/** T1 of 20 ms: Timer F (64*T1) fires after 1.28 s, so that a server nobody answers is found dead quickly. */
const T1 = 20;

interface LoggedRegister {
  callId: string;
  cseq: number;
  expires: string;
  contact: string;
  auth: string;
}

describe('registration trunks against a real carrier registrar (Kamailio)', () => {
  let kamailio: Kamailio;
  let stack: SipStack;
  const received: SipRequest[] = [];
  let dead: number;

  before(async () => {
    kamailio = await startKamailio('carrier.cfg', { PASSWORD });
    stack = await SipStack.start({ listen: [{ protocol: 'UDP', host: '127.0.0.1', port: 0 }], timers: { T1 } }, {
      onRequest: (req: IncomingRequest) => {
        received.push(req.message);
        req.reply(200);
      },
    });
    dead = await freePort();
  });
  after(async () => {
    await stack?.close();
    await kamailio?.stop();
  });

  let nextId = 0;
  function trunk(overrides: Partial<Trunk> = {}): Trunk {
    const id = `trunk-${++nextId}`;
    return {
      id,
      tenantId: 'tenant-1',
      name: id,
      enabled: true,
      servers: [{ host: '127.0.0.1', port: kamailio.port, transport: 'udp' }],
      outboundProxy: null,
      auth: 'registration',
      allowedAddresses: [],
      username: `pbx${nextId}`,
      authUsername: null,
      password: PASSWORD,
      fromDomain: null,
      registerExpires: 3600,
      codecs: ['PCMU'],
      dtmfMode: 'rfc4733',
      numberFormat: 'e164',
      country: 'US',
      dialledNumberHeader: 'request-uri',
      maxCalls: 0,
      maxCallsPerSecond: 0,
      keepaliveSeconds: 0,
      ...overrides,
    };
  }

  /** The REGISTERs Kamailio logged for a user, in order. */
  function registers(user: string): LoggedRegister[] {
    const re = new RegExp(`CARRIER REGISTER user ${user} call-id (\\S+) cseq (\\d+) expires \\[([^\\]]*)\\] contact \\[([^\\]]*)\\] auth \\[([^\\]]*)\\]`, 'g');
    return [...kamailio.output().matchAll(re)].map((m) => ({ callId: m[1] as string, cseq: Number(m[2]), expires: m[3] as string, contact: m[4] as string, auth: m[5] as string }));
  }

  /** Kamailio's log reaches us through a pipe, a little after its answers do: wait for the lines a check reads. */
  function logged(user: string, ok: (sent: LoggedRegister[]) => boolean): Promise<LoggedRegister[]> {
    return until(`Kamailio's log of ${user}'s REGISTERs`, () => registers(user), ok, 5_000);
  }

  /** A request for a user's AOR sent to the carrier, which sends it on to the user's registered contact, if any. */
  async function callThroughCarrier(user: string): Promise<string[]> {
    const options = sipRequest('OPTIONS', `sip:${user}@127.0.0.1:${kamailio.port}`, {
      From: '<sip:peer@carrier.test>;tag=peer',
      To: `<sip:${user}@127.0.0.1>`,
      'Call-ID': `through-${user}-${Date.now()}@test`,
      CSeq: '1 OPTIONS',
    });
    return udpExchange(kamailio.port, options, 500);
  }

  function registrations(): { regs: TrunkRegistrations; changes: TrunkRegistrationStatus[] } {
    const regs = new TrunkRegistrations(stack, { retryMs: 60_000, unregisterTimeoutMs: 2000 });
    const changes: TrunkRegistrationStatus[] = [];
    regs.onChange((s) => changes.push(s));
    return { regs, changes };
  }

  it('registers with digest; the carrier sends a request for the AOR to our Contact, whose user names the trunk', async () => {
    const { regs, changes } = registrations();
    const t = trunk();
    try {
      void regs.sync([t]);
      assert.equal(regs.status(t.id)?.state, 'registering');
      const status = await until('registered', () => regs.status(t.id), (s) => s?.state === 'registered');
      assert.equal(status?.lastError, null);
      // Kamailio's max_expires cut the 3600 s asked to 10 s: the 200's Contact expires says so.
      const left = (status?.expiresAt?.getTime() ?? 0) - Date.now();
      assert.ok(left > 5_000 && left <= 10_000, `expires in ${left} ms`);
      const [first, second] = await logged(t.username as string, (sent) => sent.length >= 2);
      assert.ok(first && second);
      assert.equal(first.auth, '<null>', 'the first REGISTER has no credentials: it is challenged');
      assert.equal(second.auth, t.username);
      assert.equal(second.callId, first.callId);
      assert.equal(second.cseq, first.cseq + 1, 'the answered challenge is a new request: CSeq + 1');
      assert.equal(first.expires, '3600');
      const user = trunkContactUser(t.id);
      assert.match(first.contact, new RegExp(`^<sip:${user}@127\\.0\\.0\\.1:${stack.transport('UDP')?.port};transport=udp>$`));
      assert.match(kamailio.output(), new RegExp(`CARRIER saved user ${t.username} contact \\[<sip:${user}@`));

      const replies = await callThroughCarrier(t.username as string);
      assert.ok(replies.some((r) => r.startsWith('SIP/2.0 200')), `the carrier relayed and we answered:\n${replies.join('\n')}`);
      const arrived = received.find((r) => r.callId.startsWith(`through-${t.username}-`));
      assert.ok(arrived, 'the request reached our stack');
      const requestUser = (arrived.uri as { user?: string }).user as string;
      assert.equal(requestUser, user);
      assert.equal(regs.trunkOfContactUser(requestUser)?.id, t.id);
      assert.equal(regs.trunkOfContactUser(t.username as string)?.id, t.id, 'the username, when one trunk has it');
      assert.equal(regs.trunkOfContactUser('tr-000000000000'), undefined);
      assert.deepEqual(changes.map((c) => c.state), ['registering', 'registered']);
    } finally {
      await regs.close();
    }
  });

  it('refreshes before the expiry granted: the same Call-ID, a higher CSeq; a 423 is asked again with Min-Expires', async () => {
    const { regs } = registrations();
    const t = trunk({ registerExpires: 2 });
    try {
      void regs.sync([t]);
      const status = await until('registered', () => regs.status(t.id), (s) => s?.state === 'registered');
      const left = (status?.expiresAt?.getTime() ?? 0) - Date.now();
      assert.ok(left > 2_000 && left <= 4_000, `4 s granted after the 423, ${left} ms left`);
      const asked = (await logged(t.username as string, (sent) => sent.length >= 4)).map((r) => r.expires);
      assert.deepEqual(asked.slice(0, 4), ['2', '2', '4', '4'], 'challenged, 423, challenged, registered');
      // Refreshed at half the 4 s granted: two refreshes within 5 s, each before the binding ends.
      await until('two refreshes', () => registers(t.username as string).filter((r) => r.auth !== '<null>').length, (n) => n >= 4, 8_000);
      const sent = registers(t.username as string);
      assert.equal(new Set(sent.map((r) => r.callId)).size, 1, 'one Call-ID for every REGISTER of the trunk');
      for (let i = 1; i < sent.length; i++) assert.ok((sent[i] as LoggedRegister).cseq > (sent[i - 1] as LoggedRegister).cseq, 'CSeq rises');
      assert.equal(regs.status(t.id)?.state, 'registered');
      const replies = await callThroughCarrier(t.username as string);
      assert.ok(replies.some((r) => r.startsWith('SIP/2.0 200')), 'still reachable after the refreshes');
    } finally {
      await regs.close();
    }
  });

  it('a wrong password ends in failed (401) after one answered challenge, with no loop', async () => {
    const { regs, changes } = registrations();
    const t = trunk({ password: 'wrong' });
    try {
      void regs.sync([t]);
      const status = await until('failed', () => regs.status(t.id), (s) => s?.state === 'failed');
      assert.equal(status?.lastError, '401 Unauthorized');
      assert.equal(status?.expiresAt, null);
      await logged(t.username as string, (sent) => sent.length >= 2);
      await sleep(1500);
      assert.equal(registers(t.username as string).length, 2, 'one REGISTER, one answer to the challenge, then the wait');
      assert.deepEqual(changes.map((c) => c.state), ['registering', 'failed']);
    } finally {
      await regs.close();
    }
    assert.equal(registers(t.username as string).length, 2, 'nothing to un-register: the carrier never took a binding');
  });

  it('sync([]) un-registers (Expires: 0) and the carrier forgets the contact; close() does too', async () => {
    const { regs, changes } = registrations();
    const t = trunk();
    const u = trunk();
    try {
      void regs.sync([t, u]);
      await until('both registered', () => [regs.status(t.id)?.state, regs.status(u.id)?.state], (s) => s.every((x) => x === 'registered'));
      await regs.sync([u]);
      const last = (await logged(t.username as string, (sent) => sent.at(-1)?.expires === '0')).at(-1) as LoggedRegister;
      assert.equal(last.expires, '0');
      assert.match(last.contact, /;expires=0$/);
      assert.equal(regs.status(t.id), undefined);
      assert.equal(changes.filter((c) => c.trunkId === t.id).at(-1)?.state, 'disabled', 'listeners hear it last');
      const replies = await callThroughCarrier(t.username as string);
      assert.ok(replies.some((r) => r.startsWith('SIP/2.0 404')), `no contact left:\n${replies.join('\n')}`);

      await regs.close();
      await logged(u.username as string, (sent) => sent.at(-1)?.expires === '0');
      assert.equal(regs.statuses().length, 0);
    } finally {
      await regs.close();
    }
  });

  it('changed credentials register anew: the old binding removed first, then a new Call-ID', async () => {
    const { regs } = registrations();
    const t = trunk();
    try {
      void regs.sync([t]);
      await until('registered', () => regs.status(t.id), (s) => s?.state === 'registered');
      const before = await logged(t.username as string, (sent) => sent.length >= 2);
      const oldCallId = (before[0] as LoggedRegister).callId;
      void regs.sync([{ ...t, name: 'renamed' }]);
      await sleep(200);
      assert.equal(registers(t.username as string).length, before.length, 'a name change registers nothing');
      void regs.sync([{ ...t, authUsername: t.username }]);
      await until('registered anew', () => registers(t.username as string).filter((r) => r.callId !== oldCallId && r.auth !== '<null>').length, (n) => n >= 1);
      const after = registers(t.username as string).slice(before.length);
      const unregister = after.findIndex((r) => r.expires === '0');
      const fresh = after.findIndex((r) => r.callId !== oldCallId);
      assert.ok(unregister >= 0 && unregister < fresh, 'un-REGISTER with the old Call-ID before the new registration');
      await until('registered', () => regs.status(t.id), (s) => s?.state === 'registered');
    } finally {
      await regs.close();
    }
  });

  it('a first server nobody answers times out (Timer F) and the next server takes the registration', async () => {
    const { regs, changes } = registrations();
    const t = trunk({ servers: [{ host: '127.0.0.1', port: dead, transport: 'udp' }, { host: '127.0.0.1', port: kamailio.port, transport: 'udp' }] });
    try {
      void regs.sync([t]);
      const status = await until('registered', () => regs.status(t.id), (s) => s?.state === 'registered');
      assert.equal(status?.server, 1);
      assert.ok(changes.some((c) => c.state === 'failed' && c.lastError === 'timeout' && c.server === 0));
    } finally {
      await regs.close();
    }
  });

  it('a server whose name does not resolve: failed, no such host; a disabled trunk: disabled, nothing sent', async () => {
    const { regs } = registrations();
    const t = trunk({ servers: [{ host: 'carrier.invalid', port: 5060, transport: 'udp' }] });
    const off = trunk({ enabled: false });
    try {
      void regs.sync([t, off]);
      const status = await until('failed', () => regs.status(t.id), (s) => s?.state === 'failed', 20_000);
      assert.equal(status?.lastError, 'no such host');
      assert.equal(regs.status(off.id)?.state, 'disabled');
      assert.equal(registers(off.username as string).length, 0);
    } finally {
      await regs.close();
    }
  });
});

describe('trunk health: OPTIONS keepalives', () => {
  let kamailio: Kamailio;
  let stack: SipStack;
  let grumpy: SipStack;
  let dead: number;

  before(async () => {
    kamailio = await startKamailio('carrier.cfg', { PASSWORD });
    stack = await SipStack.start({ listen: [{ protocol: 'UDP', host: '127.0.0.1', port: 0 }], timers: { T1 } }, { onRequest: (req) => void req.reply(200) });
    // A carrier that does not implement OPTIONS: it answers 501, which still proves it is there.
    grumpy = await SipStack.start({ listen: [{ protocol: 'UDP', host: '127.0.0.1', port: 0 }] }, { onRequest: (req) => void req.reply(501) });
    dead = await freePort();
  });
  after(async () => {
    await stack?.close();
    await grumpy?.close();
    await kamailio?.stop();
  });

  const server = (port: number) => ({ host: '127.0.0.1', port, transport: 'udp' as const });
  const base = (id: string, overrides: Partial<Trunk>): Trunk => ({
    id, tenantId: 'tenant-1', name: id, enabled: true, servers: [], outboundProxy: null, auth: 'ip', allowedAddresses: [],
    username: null, authUsername: null, password: null, fromDomain: null, registerExpires: 3600, codecs: ['PCMU'],
    dtmfMode: 'rfc4733', numberFormat: 'e164', country: 'US', dialledNumberHeader: 'request-uri', maxCalls: 0,
    maxCallsPerSecond: 0, keepaliveSeconds: 1, ...overrides,
  });

  it('any answer marks a server up (Kamailio\'s 200, a 501); no answer within Timer F marks it down', async () => {
    const health = new TrunkHealth(stack);
    const changes: TrunkHealthStatus[] = [];
    health.onChange((s) => changes.push(s));
    const mixed = base('mixed', { servers: [server(kamailio.port), server(dead), server(grumpy.transport('UDP')?.port as number)] });
    const gone = base('gone', { servers: [server(dead)] });
    const quiet = base('quiet', { servers: [server(dead)], keepaliveSeconds: 0 });
    try {
      health.sync([mixed, gone, quiet]);
      assert.equal(health.isUp('gone'), true, 'not probed yet: taken up');
      await until('the dead ones found down', () => [health.serverUp('mixed', 1), health.isUp('gone')], (v) => v.every((x) => x === false), 5_000);
      assert.equal(health.serverUp('mixed', 0), true);
      assert.equal(health.serverUp('mixed', 2), true);
      assert.equal(health.isUp('mixed'), true, 'a trunk is up while one server answers');
      const status = health.status().find((s) => s.trunkId === 'mixed');
      assert.deepEqual(status?.servers.map((s) => [s.state, s.lastStatus, s.lastError]), [['up', 200, null], ['down', null, 'timeout'], ['up', 501, null]]);
      assert.equal(health.isUp('quiet'), true, 'keepaliveSeconds 0: always up');
      assert.equal(health.status().find((s) => s.trunkId === 'quiet')?.probed, false);
      assert.equal(health.isUp('unknown-trunk'), true);
      assert.ok(changes.some((c) => c.trunkId === 'gone' && !c.up));

      // Probes go on every keepaliveSeconds: Kamailio sees more OPTIONS, and a server that comes back is up again.
      health.sync([mixed, { ...gone, servers: [server(kamailio.port)] }]);
      await until('back up', () => health.isUp('gone'), (up) => up, 5_000);
      assert.equal(health.status().some((s) => s.trunkId === 'quiet'), false, 'a trunk no longer listed is dropped');
    } finally {
      health.close();
    }
  });
});
