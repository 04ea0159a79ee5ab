// Callers the PBX answers itself, through the relay (rtpengine), with baresip phones that each send their own tone
// and dump what they hear:
// - a caller who dials a queue is answered at once and hears music on hold (issue: "with the media plane it is
//   answered and hears music on hold") until an agent answers, then the two hear each other;
// - click-to-call (seeds 000 and 001 `dial`, the controller of RFC 3725 with the relay as its media): the agent's own
//   phone rings first, hears ringback while the number rings, then talks with it; the session is outbound and keeps
//   the contact id; the refusals are in the seeds' words.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { dominantTone, type Pcm, readWav, slice } from '../support/audio.ts';
import { Baresip } from '../support/baresip.ts';
import { connectLive } from '../support/live.ts';
import { createUser, useTestServer } from '../support/server.ts';
import { sleep, until } from '../support/wait.ts';

const TONE_A = 700;
const TONE_B = 1300;
const TONE_C = 1000;
const MUSIC = [261.63, 329.63, 392.0, 440, 523.25];
const RINGBACK = [440, 480];
const CANDIDATES = [TONE_A, TONE_B, TONE_C, 480, ...MUSIC];

type Ext = { id: string; number: number; secret: string };

/** What a baresip phone heard in its last call (its decoder's dump), between two instants of the test's clock. */
function heard(dir: string, callStartedAt: number, [from, to]: [number, number]): number {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('-dec.wav')).sort();
  assert.ok(files.length > 0, `baresip dumped no call into ${dir}`);
  const pcm: Pcm = readWav(path.join(dir, files[files.length - 1]!));
  return dominantTone(slice(pcm, (from - callStartedAt) / 1000 + 0.3, (to - callStartedAt) / 1000 - 0.2), pcm.rate, CANDIDATES).frequency;
}

describe('callers the PBX answers itself: queue music, and click-to-call', () => {
  const ctx = useTestServer('pglite', { rtpengine: 'auto' });
  const ext: Record<'a' | 'b' | 'c', Ext> = {} as never;
  const tokens: Record<'a' | 'b' | 'c' | 'manager', string> = {} as never;
  const dirs: string[] = [];
  const phones: Baresip[] = [];

  const tempDir = (name: string) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `switchboard-${name}-`));
    dirs.push(dir);
    return dir;
  };
  const phone = async (e: Ext, answer: 'auto' | 'manual', tone: number, dumpDir?: string) => {
    const p = await Baresip.start({ user: String(e.number), password: e.secret, domain: 'pbx.test', proxy: `127.0.0.1:${ctx.t.server.sipPort}`, answer, tone, dumpDir });
    phones.push(p);
    await until(`phone ${e.number} registered`, () => ctx.t.server.telephony.location.lookup(e.id).length, (n) => n > 0);
    return p;
  };
  const count = (p: Baresip, type: string) => p.events.filter((e) => e.type === type).length;
  const available = async (e: Ext) => {
    const res = await ctx.t.request('PUT', `/api/pbx/agent-extensions/${e.id}/status`, { token: ctx.token, body: { status: 'AVAILABLE' } });
    assert.equal(res.statusCode, 200, res.body);
  };
  /** Lets the audio settle, then lets `ms` of it pass: the window to read in the dumps. */
  const listen = async (ms: number): Promise<[number, number]> => {
    await sleep(800);
    const from = Date.now();
    await sleep(ms);
    return [from, Date.now()];
  };
  const session = async (callId: string) => (await ctx.t.request('GET', `/api/pbx/calls/sessions/${callId}`, { token: ctx.token })).json();

  before(async () => {
    for (const key of ['a', 'b', 'c', 'manager'] as const) {
      const email = `${key}@example.com`;
      const u = await createUser(ctx.t, ctx.token, { name: `Person ${key}`, email, role: key === 'manager' ? 'MANAGER' : 'AGENT', password: `${key}-password-1` });
      tokens[key] = await ctx.t.login(email, `${key}-password-1`);
      if (key !== 'manager') ext[key] = u.extension!;
    }
    const q = await ctx.t.request('POST', '/api/pbx/queues', { token: ctx.token, body: { name: 'Support', number: '2101', strategy: 'ringall', wrapUpTime: 0, retryDelay: 0, members: [{ extensionId: ext.b.id }] } });
    assert.equal(q.statusCode, 201, q.body);
    const second = await ctx.t.request('POST', '/api/pbx/queues', { token: ctx.token, body: { name: 'Billing', number: '2102', strategy: 'ringall', wrapUpTime: 0, retryDelay: 0, members: [{ extensionId: ext.c.id }] } });
    assert.equal(second.statusCode, 201, second.body);
  });

  // Each test starts its own phones; they leave (and unregister) before the next one.
  afterEach(async () => {
    await Promise.all(phones.splice(0).map((p) => p.stop()));
    for (const key of ['a', 'b', 'c'] as const) await until(`phone ${ext[key].number} gone`, () => ctx.t.server.telephony.location.lookup(ext[key].id).length, (n) => n === 0);
  });

  after(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a caller who dials a queue is answered at once and hears music on hold until an agent answers; then the two hear each other', async () => {
    const t = ctx.t;
    const [dirA, dirB] = [tempDir('queue-a'), tempDir('queue-b')];
    const phoneA = await phone(ext.a, 'manual', TONE_A, dirA);
    const phoneB = await phone(ext.b, 'manual', TONE_B, dirB);
    await available(ext.b);

    phoneA.command('dial', 'sip:2101@pbx.test');
    await phoneA.waitFor('CALL_ESTABLISHED');
    const startedA = Date.now();
    await phoneB.waitFor('CALL_INCOMING');
    const callId = t.server.telephony.calls.activeCalls.find((c) => c.caller.extensionId === ext.a.id)!.id;
    assert.equal(t.server.telephony.calls.find(callId)!.callee, undefined, 'answered by the PBX, not by an agent');
    await sleep(3000);
    const waiting: [number, number] = [startedA + 500, Date.now()];
    phoneB.command('accept');
    await phoneB.waitFor('CALL_ESTABLISHED');
    const startedB = Date.now();
    await until('the agent took the call', () => t.server.telephony.calls.find(callId)?.callee?.extensionId, (x) => x === ext.b.id);
    const talking = await listen(2500);
    phoneA.command('hangup');
    await phoneB.waitFor('CALL_CLOSED');

    const whileWaiting = heard(dirA, startedA, waiting);
    assert.ok(MUSIC.includes(whileWaiting), `while it waits, the caller hears music (${whileWaiting} Hz)`);
    assert.equal(heard(dirA, startedA, talking), TONE_B, 'then the caller hears the agent');
    assert.equal(heard(dirB, startedB, talking), TONE_A, 'and the agent hears the caller');
    await until('the session is closed', async () => (await session(callId)).status, (s) => s === 'COMPLETED');
    const s = await session(callId);
    assert.equal(s.direction, 'inbound');
    assert.equal(s.agentId, ext.b.id);
    assert.ok(s.waitTime >= 3, `the wait counts until the agent answered, not until the PBX did (${s.waitTime} s)`);
  });

  it('click-to-call: the agent\'s phone rings first and hears ringback while the number rings; then the two talk; the session is outbound with its contact', async () => {
    const t = ctx.t;
    const [dirA, dirB] = [tempDir('dial-a'), tempDir('dial-b')];
    const phoneA = await phone(ext.a, 'auto', TONE_A, dirA);
    const phoneB = await phone(ext.b, 'manual', TONE_B, dirB);
    const [establishedA, closedA, incomingB] = [count(phoneA, 'CALL_ESTABLISHED'), count(phoneA, 'CALL_CLOSED'), count(phoneB, 'CALL_INCOMING')];

    const res = await t.request('POST', '/api/pbx/calls/dial', { token: tokens.a, body: { phoneNumber: String(ext.b.number), contactId: 'crm-42' } });
    assert.equal(res.statusCode, 200, res.body);
    const { callId, side, callSessionId } = res.json();
    assert.equal(side, 'caller');
    assert.ok(callSessionId, 'the session exists at once');
    await until('the agent\'s phone answered', () => count(phoneA, 'CALL_ESTABLISHED'), (n) => n > establishedA);
    const startedA = Date.now();
    await until('then the number rings', () => count(phoneB, 'CALL_INCOMING'), (n) => n > incomingB);
    // The agent is on a call: a second click is refused in the seeds' words.
    const again = await t.request('POST', '/api/pbx/calls/dial', { token: tokens.a, body: { phoneNumber: String(ext.c.number) } });
    assert.equal(again.statusCode, 400, again.body);
    assert.equal(again.json().error.message, 'Agent is already on a call');
    await sleep(2500);
    const ringing: [number, number] = [startedA + 300, Date.now()];
    phoneB.command('accept');
    await until('the number answered', () => count(phoneB, 'CALL_ESTABLISHED'), (n) => n > 0);
    const startedB = Date.now();
    await until('the two are bridged', () => t.server.telephony.calls.find(callId)?.callee?.extensionId, (x) => x === ext.b.id);
    const talking = await listen(2500);
    phoneB.command('hangup');
    await until('the agent\'s phone hears BYE', () => count(phoneA, 'CALL_CLOSED'), (n) => n > closedA);

    const whileRinging = heard(dirA, startedA, ringing);
    assert.ok(RINGBACK.includes(whileRinging), `while the number rings, the agent hears ringback (${whileRinging} Hz)`);
    assert.equal(heard(dirA, startedA, talking), TONE_B, 'then the agent hears the number');
    assert.equal(heard(dirB, startedB, talking), TONE_A, 'and the number hears the agent');
    await until('the session is closed', async () => (await session(callId)).status, (s) => s === 'COMPLETED');
    const s = await session(callId);
    assert.equal(s.direction, 'outbound');
    assert.equal(s.fromNumber, String(ext.a.number));
    assert.equal(s.toNumber, String(ext.b.number));
    assert.equal(s.contactId, 'crm-42');
  });

  it('click-to-call to a queue: the agent hears the queue\'s music until a member answers', async () => {
    const t = ctx.t;
    const dirA = tempDir('dial-queue-a');
    const phoneA = await phone(ext.a, 'auto', TONE_A, dirA);
    const phoneB = await phone(ext.b, 'manual', TONE_B);
    await available(ext.b);
    const [establishedA, incomingB, establishedB] = [count(phoneA, 'CALL_ESTABLISHED'), count(phoneB, 'CALL_INCOMING'), count(phoneB, 'CALL_ESTABLISHED')];
    const res = await t.request('POST', '/api/pbx/calls/dial', { token: tokens.a, body: { phoneNumber: '2101' } });
    assert.equal(res.statusCode, 200, res.body);
    const { callId } = res.json();
    await until('the agent\'s phone answered', () => count(phoneA, 'CALL_ESTABLISHED'), (n) => n > establishedA);
    const startedA = Date.now();
    await until('the member rings', () => count(phoneB, 'CALL_INCOMING'), (n) => n > incomingB);
    await sleep(2500);
    const waiting: [number, number] = [startedA + 300, Date.now()];
    phoneB.command('accept');
    await until('the member answered', () => count(phoneB, 'CALL_ESTABLISHED'), (n) => n > establishedB);
    await until('the two are bridged', () => t.server.telephony.calls.find(callId)?.callee?.extensionId, (x) => x === ext.b.id);
    const talking = await listen(2000);
    const hangup = await t.request('POST', `/api/pbx/calls/${callId}/hangup`, { token: tokens.manager });
    assert.equal(hangup.statusCode, 200, hangup.body);
    await until('both phones hear BYE', () => [count(phoneA, 'CALL_CLOSED'), count(phoneB, 'CALL_CLOSED')], ([x, y]) => x! > 0 && y! > 0);

    const whileWaiting = heard(dirA, startedA, waiting);
    assert.ok(MUSIC.includes(whileWaiting), `while the queue rings its member, the agent hears music (${whileWaiting} Hz)`);
    assert.equal(heard(dirA, startedA, talking), TONE_B);
    await until('the session is closed', async () => (await session(callId)).status, (s) => s === 'COMPLETED');
    const s = await session(callId);
    assert.equal(s.direction, 'outbound');
    assert.ok(s.queueId, 'a queue call');
  });

  it('an agent transfers its caller to a queue, from the API and by REFER: the caller waits again hearing music, then talks with the member who answers', async () => {
    const t = ctx.t;
    const dirA = tempDir('to-queue-a');
    const phoneA = await phone(ext.a, 'manual', TONE_A, dirA);
    const phoneB = await phone(ext.b, 'auto', TONE_B);
    const phoneC = await phone(ext.c, 'manual', TONE_C);
    await available(ext.c);
    const queueEvents: Array<{ event: string; callId: string | null; data: Record<string, unknown> }> = [];
    const off = t.server.bus.on('queue.event', (e) => void queueEvents.push(e as never));
    try {
      // From the API: B answers A, then sends A to the queue 2102, whose member is C.
      phoneA.command('dial', `sip:${ext.b.number}@pbx.test`);
      await phoneA.waitFor('CALL_ESTABLISHED');
      const startedA = Date.now();
      const callId = t.server.telephony.calls.activeCalls.find((c) => c.caller.extensionId === ext.a.id)!.id;
      await sleep(1000);
      const attended = await t.request('POST', `/api/pbx/calls/${callId}/transfer`, { token: tokens.b, body: { target: '2102', type: 'attended' } });
      assert.equal(attended.statusCode, 501, 'a queue is not consulted');
      const res = await t.request('POST', `/api/pbx/calls/${callId}/transfer`, { token: tokens.b, body: { target: '2102' } });
      assert.equal(res.statusCode, 200, res.body);
      await until('B is let go', () => count(phoneB, 'CALL_CLOSED'), (n) => n === 1);
      await until('C rings', () => count(phoneC, 'CALL_INCOMING'), (n) => n === 1);
      const waitFrom = Date.now();
      await sleep(2500);
      const waiting: [number, number] = [waitFrom, Date.now()];
      phoneC.command('accept');
      await until('A and C bridged', () => t.server.telephony.calls.find(callId)?.callee?.extensionId, (x) => x === ext.c.id);
      const talking = await listen(2000);
      phoneA.command('hangup');
      await until('C hears BYE', () => count(phoneC, 'CALL_CLOSED'), (n) => n === 1);
      const whileWaiting = heard(dirA, startedA, waiting);
      assert.ok(MUSIC.includes(whileWaiting), `in the queue the caller hears music (${whileWaiting} Hz)`);
      assert.equal(heard(dirA, startedA, talking), TONE_C, 'then it hears the member who answered');
      await until('the session is closed', async () => (await session(callId)).status, (s) => s === 'COMPLETED');
      const s = await session(callId);
      assert.equal(s.agentId, ext.c.id, 'the session names the member who took the caller');
      assert.ok(s.waitTime >= 2.5, `the wait in the queue counts (${s.waitTime} s)`);
      const ofCall = queueEvents.filter((e) => e.callId === callId).map((e) => e.event);
      assert.deepEqual(ofCall.slice(0, 2), ['ENTERQUEUE', 'CONNECT'], ofCall.join(','));

      // By REFER: B's transfer key names the queue; B's phone is let go and C takes the caller.
      await until('C is AVAILABLE again', () => t.server.contactCenter.agents.find(ext.c.id)!.status, (x) => x === 'AVAILABLE');
      phoneA.command('dial', `sip:${ext.b.number}@pbx.test`);
      await until('the second call is up', () => count(phoneB, 'CALL_ESTABLISHED'), (n) => n === 2);
      const second = t.server.telephony.calls.activeCalls.find((c) => c.caller.extensionId === ext.a.id)!.id;
      await sleep(500);
      phoneB.command('transfer', 'sip:2102@pbx.test');
      await until('C rings again', () => count(phoneC, 'CALL_INCOMING'), (n) => n === 2);
      phoneC.command('accept');
      await until('A and C bridged again', () => t.server.telephony.calls.find(second)?.callee?.extensionId, (x) => x === ext.c.id);
      assert.equal(count(phoneB, 'CALL_CLOSED'), 2, 'the transferor is let go');
      phoneC.command('hangup');
      await until('A hears BYE', () => count(phoneA, 'CALL_CLOSED'), (n) => n === 2);
    } finally {
      off();
    }
  });

  it('a caller transferred blind hears ringback while the target rings, then the target', async () => {
    const t = ctx.t;
    const dirA = tempDir('blind-a');
    const phoneA = await phone(ext.a, 'manual', TONE_A, dirA);
    await phone(ext.b, 'auto', TONE_B);
    const phoneC = await phone(ext.c, 'manual', TONE_C);
    phoneA.command('dial', `sip:${ext.b.number}@pbx.test`);
    await phoneA.waitFor('CALL_ESTABLISHED');
    const startedA = Date.now();
    const callId = t.server.telephony.calls.activeCalls.find((c) => c.caller.extensionId === ext.a.id)!.id;
    await sleep(800);
    const res = await t.request('POST', `/api/pbx/calls/${callId}/transfer`, { token: tokens.b, body: { target: String(ext.c.number) } });
    assert.equal(res.statusCode, 200, res.body);
    await phoneC.waitFor('CALL_INCOMING');
    const ringing = await listen(2000);
    phoneC.command('accept');
    await until('A and C bridged', () => t.server.telephony.calls.find(callId)?.callee?.extensionId, (x) => x === ext.c.id);
    const talking = await listen(2000);
    phoneA.command('hangup');
    await phoneC.waitFor('CALL_CLOSED');
    const whileRinging = heard(dirA, startedA, ringing);
    assert.ok(RINGBACK.includes(whileRinging), `while the target rings, the caller hears ringback (${whileRinging} Hz)`);
    assert.equal(heard(dirA, startedA, talking), TONE_C, 'then the target');
  });

  it('click-to-call refusals: no device 409, unknown number 404, not a number or its own 400', async () => {
    const t = ctx.t;
    const dial = async (token: string, phoneNumber: string) => {
      const res = await t.request('POST', '/api/pbx/calls/dial', { token, body: { phoneNumber } });
      return { status: res.statusCode, code: res.json().error?.code as string | undefined };
    };
    assert.deepEqual(await dial(tokens.c, String(ext.a.number)), { status: 409, code: 'PBX_ERR_AGENT_NOT_REGISTERED' });
    await phone(ext.c, 'auto', TONE_A);
    assert.deepEqual(await dial(tokens.c, '1999'), { status: 404, code: 'PBX_ERR_NUMBER_NOT_FOUND' });
    assert.deepEqual(await dial(tokens.c, '12ab'), { status: 400, code: 'PBX_ERR_VALIDATION' });
    assert.deepEqual(await dial(tokens.c, String(ext.c.number)), { status: 400, code: 'PBX_ERR_VALIDATION' });
    const bad = await t.request('POST', '/api/pbx/calls/dial', { token: tokens.c, body: { phoneNumber: '1000', extra: true } });
    assert.equal(bad.statusCode, 400);
    // The live API's `call:dial` is the same handler, answered by acknowledgement.
    const live = await connectLive(t.server.url, tokens.c);
    try {
      const ack = await live.ask('call:dial', { phoneNumber: '1999' });
      assert.deepEqual(ack, { ok: false, error: { code: 'PBX_ERR_NUMBER_NOT_FOUND', message: 'No extension, queue or outbound route has that number' } });
    } finally {
      live.close();
    }
  });
});
