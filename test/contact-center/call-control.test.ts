// Seed 000/001 call control on real calls through the relay (rtpengine), with the live API (seed 001's Socket.io
// events) watched by one socket.io-client per role. A baresip agent (sending a tone) calls a sipp phone whose
// audio the test hears. Hold from the API: the other side hears music on hold, not the agent, and the hold time
// counts; mute: the other side hears nothing of the agent; hangup ends both sides. A SIP phone cannot be answered
// remotely (409). Every socket hears what concerns it, in order, and nothing of another agent or tenant.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dominantTone, type Pcm, readWav, rms, slice } from '../support/audio.ts';
import { Baresip } from '../support/baresip.ts';
import { registerAt, WAIT_FOR_BYE } from '../support/calls.ts';
import { connectLive, type LiveClient } from '../support/live.ts';
import { freePort } from '../support/process.ts';
import { RtpSink } from '../support/rtp.ts';
import { createUser, useTestServer } from '../support/server.ts';
import { runSipp, type SippRun } from '../support/sipp.ts';
import { sleep, until } from '../support/wait.ts';

const TONE_A = 700;
const TONE_B = 1300;
const TONE_C = 1000;
const MUSIC = [261.63, 329.63, 392.0, 440, 523.25];

function tempDir(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `switchboard-${name}-`));
}

/**
 * What a baresip phone heard in its `nth` call, or its last with `'last'` (its sndfile module's decoder dumps, named
 * by the second: a call that starts in the same second as the one before replaces its dump).
 */
function dumpedAudio(dir: string, nth: number | 'last' = 0): Pcm {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('-dec.wav')).sort();
  const index = nth === 'last' ? files.length - 1 : nth;
  assert.ok(index >= 0 && files.length > index, `baresip dumped ${files.length} calls into ${dir}`);
  return readWav(path.join(dir, files[index]!));
}

type Person = { userId: string; token: string; ext: { id: string; number: number; secret: string } | null };

describe('call control (seed 000/001) on real calls, and the live API', () => {
  const ctx = useTestServer('pglite', { rtpengine: 'auto' });
  const people: Record<'a' | 'b' | 'c' | 'manager' | 'stranger', Person> = {} as never;
  const live: Partial<Record<keyof typeof people, LiveClient>> = {};

  before(async () => {
    const t = ctx.t;
    const person = async (key: keyof typeof people, role: string, tenantToken = ctx.token, domain = 'example.com') => {
      const email = `${key}@${domain}`;
      const u = await createUser(t, tenantToken, { name: `Person ${key}`, email, role, password: `${key}-password-1` });
      people[key] = { userId: u.id, token: await t.login(email, `${key}-password-1`), ext: u.extension };
    };
    await person('a', 'AGENT');
    await person('b', 'AGENT');
    await person('c', 'AGENT');
    await person('manager', 'MANAGER');
    const res = await t.request('POST', '/api/tenants', {
      token: ctx.token,
      body: { name: 'Other Co', domain: 'other.test', admin: { name: 'Other Admin', email: 'boss@other.test', password: 'other-admin-pw' } },
    });
    assert.equal(res.statusCode, 201, res.body);
    people.stranger = { userId: res.json().admin.id, token: await t.login('boss@other.test', 'other-admin-pw'), ext: null };
    for (const key of Object.keys(people) as Array<keyof typeof people>) live[key] = await connectLive(t.server.url, people[key].token);
  });

  after(() => {
    for (const client of Object.values(live)) client.close();
  });

  it('the live API refuses a handshake without a valid token', async () => {
    await assert.rejects(connectLive(ctx.t.server.url, undefined), /PBX_ERR_UNAUTHENTICATED/);
    await assert.rejects(connectLive(ctx.t.server.url, 'not.a.token'), /PBX_ERR_UNAUTHENTICATED/);
  });

  it('on connect each socket gets the present state: an agent its own status, a manager every agent of its tenant', async () => {
    const agentA = live.a!;
    const own = await agentA.next('agent:status:updated');
    assert.equal(own.agentId, people.a.ext!.id);
    assert.equal(own.status, 'OFFLINE');
    assert.ok(agentA.events.filter((e) => e.name === 'agent:status:updated').every((e) => e.data.agentId === people.a.ext!.id), 'an agent hears only of itself');
    const manager = live.manager!;
    await manager.next('presence:update', (d) => d.agentId === people.c.ext!.id);
    const seen = new Set(manager.events.filter((e) => e.name === 'agent:status:updated').map((e) => e.data.agentId));
    for (const key of ['a', 'b', 'c'] as const) assert.ok(seen.has(people[key].ext!.id), `the manager sees agent ${key}`);
    assert.equal(live.stranger!.events.filter((e) => e.name === 'agent:status:updated').length, 0, 'another tenant sees none of them');
  });

  it('agent:status:change answers by acknowledgement, in the REST API\'s error words', async () => {
    const refused = await live.a!.ask('agent:status:change', { status: 'AVAILABLE' });
    assert.equal(refused.ok, false);
    assert.equal(refused.error?.code, 'PBX_ERR_AGENT_NOT_REGISTERED');
    const invalid = await live.a!.ask('agent:status:change', { status: 'SLEEPING' });
    assert.equal(invalid.error?.code, 'PBX_ERR_VALIDATION');
    const busy = await live.a!.ask('agent:status:change', { status: 'BUSY' });
    assert.equal(busy.error?.code, 'PBX_ERR_AGENT_STATE');
    const login = await live.a!.ask('agent:login', { agentId: people.a.ext!.id, extension: String(people.a.ext!.number) });
    assert.equal(login.ok, true);
    const other = await live.a!.ask('agent:login', { agentId: people.b.ext!.id });
    assert.equal(other.error?.code, 'PBX_ERR_FORBIDDEN');
  });

  it('hold, mute and hangup from the API on a real call: music on hold, silence, both sides hung up; sessions and events follow', async () => {
    const t = ctx.t;
    const a = people.a.ext!;
    const b = people.b.ext!;
    const sink = await RtpSink.open();
    const phoneBPort = await freePort();
    const phoneB: Promise<SippRun> = runSipp({
      scenario: 'uas-answer.xml',
      localPort: phoneBPort,
      substitute: { RING: '1500', MEDIA_PORT: String(sink.port), HANGUP_STEPS: WAIT_FOR_BYE },
      timeoutSeconds: 60,
    });
    await registerAt(t, { id: b.id, number: b.number, secret: b.secret }, phoneBPort);
    const phoneA = await Baresip.start({ user: String(a.number), password: a.secret, domain: 'pbx.test', proxy: `127.0.0.1:${t.server.sipPort}`, answer: 'manual', tone: TONE_A });
    const marks = Object.fromEntries(Object.entries(live).map(([k, c]) => [k, c.events.length]));
    const api = async (token: string, path: string, body?: unknown) => t.request('POST', path, { token, body });
    try {
      await until('phone A registered', () => t.server.telephony.location.lookup(a.id).length, (n) => n > 0);
      phoneA.command('dial', `sip:${b.number}@pbx.test`);
      // B's phone rings: B's socket hears call:incoming; a SIP phone cannot be answered from afar.
      const incoming = await live.b!.next('call:incoming', () => true, marks.b);
      assert.equal(incoming.from, String(a.number));
      assert.equal(incoming.to, String(b.number));
      const callId = incoming.callId as string;
      const remote = await api(people.b.token, `/api/pbx/calls/${callId}/answer`);
      assert.equal(remote.statusCode, 409, remote.body);
      assert.equal(remote.json().error.code, 'PBX_ERR_NOT_REMOTELY_ANSWERABLE');
      await phoneA.waitFor('CALL_ESTABLISHED');
      await live.a!.next('call:state:changed', (d) => d.status === 'CONNECTED', marks.a);

      // Nobody else's call: agent C gets 404, another tenant's admin too, an unknown call 404.
      for (const token of [people.c.token, people.stranger.token]) {
        const res = await api(token, `/api/pbx/calls/${callId}/hold`, { hold: true });
        assert.equal(res.statusCode, 404, res.body);
        assert.equal(res.json().error.message, 'Call session not found');
      }
      assert.equal((await api(people.a.token, '/api/pbx/calls/no-such-call/hangup')).statusCode, 404);

      const t0 = Date.now();
      await sleep(1500);
      const held = await api(people.a.token, `/api/pbx/calls/${callId}/hold`, { callId, hold: true });
      assert.equal(held.statusCode, 200, held.body);
      assert.equal(held.json().held, true);
      const t1 = Date.now();
      await sleep(2500);
      const resumed = await live.a!.ask('call:hold', { callId, hold: false });
      assert.equal(resumed.ok, true, JSON.stringify(resumed));
      assert.equal(resumed.data?.held, false);
      const t2 = Date.now();
      await sleep(1500);
      const muted = await api(people.a.token, `/api/pbx/calls/${callId}/mute`, { muted: true });
      assert.equal(muted.statusCode, 200, muted.body);
      const t3 = Date.now();
      await sleep(1500);
      const unmuted = await live.a!.ask('call:mute', { callId, mute: false });
      assert.equal(unmuted.ok, true, JSON.stringify(unmuted));
      const t4 = Date.now();
      await sleep(1500);
      // The manager hangs it up, for both sides.
      const hungUp = await api(people.manager.token, `/api/pbx/calls/${callId}/hangup`);
      assert.equal(hungUp.statusCode, 200, hungUp.body);
      await phoneA.waitFor('CALL_CLOSED');
      const run = await phoneB;
      assert.equal(run.code, 0, run.errors || run.output);

      // What B heard: A's tone, then music on hold, A again, nothing while A was muted, A again.
      const tones = [TONE_A, ...MUSIC];
      assert.equal(dominantTone(sink.pcmu(t0 + 300, t1 - 200), 8000, tones).frequency, TONE_A, 'before the hold B hears A');
      const music = sink.pcmu(t1 + 500, t2 - 200);
      assert.ok(rms(music) > 0.01, `on hold B hears something (rms ${rms(music).toFixed(4)})`);
      assert.notEqual(dominantTone(music, 8000, tones).frequency, TONE_A, 'and it is music on hold, not A');
      assert.equal(dominantTone(sink.pcmu(t2 + 500, t3 - 200), 8000, tones).frequency, TONE_A, 'after the resume B hears A again');
      const silence = sink.pcmu(t3 + 400, t4 - 200);
      assert.ok(rms(silence) < 0.005, `muted, A is not heard (rms ${rms(silence).toFixed(4)})`);
      assert.equal(dominantTone(sink.pcmu(t4 + 500, t4 + 1300), 8000, tones).frequency, TONE_A, 'unmuted, B hears A again');

      // The session: completed, ended by the API's hangup, with about 2.5 s of hold.
      const session = (await t.request('GET', `/api/pbx/calls/sessions/${callId}`, { token: ctx.token })).json();
      assert.equal(session.status, 'COMPLETED');
      assert.equal(session.endCause, 'hangup');
      assert.ok(session.holdTime >= 2 && session.holdTime < 5, `hold time ${session.holdTime}`);

      // Events: the caller's socket saw the call's life in order; C and the other tenant saw none of it.
      const ended = await live.a!.next('call:ended', () => true, marks.a);
      assert.equal(ended.callSessionId, session.id);
      const statuses = live.a!.events.slice(marks.a).filter((e) => e.name === 'call:state:changed' && e.data.callId === callId).map((e) => e.data.status);
      const order = ['RINGING', 'CONNECTED', 'ON_HOLD', 'CONNECTED', 'COMPLETED'];
      assert.deepEqual(statuses.filter((s, i) => order.includes(s as string) && s !== statuses[i - 1]), order, `A heard ${statuses.join(', ')}`);
      assert.ok(live.a!.events.slice(marks.a).some((e) => e.name === 'call:state:changed' && e.data.metadata && (e.data.metadata as { muted?: boolean }).muted === true));
      await live.b!.next('call:ended', (d) => d.callId === callId, marks.b);
      await live.manager!.next('call:ended', (d) => d.callId === callId, marks.manager);
      const busyB = await live.manager!.next('agent:status:updated', (d) => d.agentId === b.id && d.status === 'BUSY', marks.manager);
      assert.equal(busyB.previousStatus, 'OFFLINE');
      for (const key of ['c', 'stranger'] as const) {
        const leaked = live[key]!.events.slice(marks[key]).filter((e) => e.name.startsWith('call:') || (e.name === 'agent:status:updated' && e.data.agentId !== people[key].ext?.id));
        assert.deepEqual(leaked, [], `${key} hears nothing of the call`);
      }
    } finally {
      await phoneA.stop();
      sink.close();
    }
  });

  it('blind transfer from the API: the agent is let go, the target rings and answers, and hears the caller', async () => {
    const t = ctx.t;
    const [a, b, c] = [people.a.ext!, people.b.ext!, people.c.ext!];
    const [sinkB, sinkC] = [await RtpSink.open(), await RtpSink.open()];
    const [portB, portC] = [await freePort(), await freePort()];
    const phoneB = runSipp({ scenario: 'uas-answer.xml', localPort: portB, substitute: { RING: '200', MEDIA_PORT: String(sinkB.port), HANGUP_STEPS: WAIT_FOR_BYE }, timeoutSeconds: 60 });
    const phoneC = runSipp({ scenario: 'uas-answer.xml', localPort: portC, substitute: { RING: '500', MEDIA_PORT: String(sinkC.port), HANGUP_STEPS: WAIT_FOR_BYE }, timeoutSeconds: 60 });
    await registerAt(t, { id: b.id, number: b.number, secret: b.secret }, portB);
    await registerAt(t, { id: c.id, number: c.number, secret: c.secret }, portC);
    const phoneA = await Baresip.start({ user: String(a.number), password: a.secret, domain: 'pbx.test', proxy: `127.0.0.1:${t.server.sipPort}`, answer: 'manual', tone: TONE_A });
    const marks = Object.fromEntries(Object.entries(live).map(([k, cl]) => [k, cl.events.length]));
    try {
      await until('phone A registered', () => t.server.telephony.location.lookup(a.id).length, (n) => n > 0);
      phoneA.command('dial', `sip:${b.number}@pbx.test`);
      const incoming = await live.b!.next('call:incoming', () => true, marks.b);
      const callId = incoming.callId as string;
      await phoneA.waitFor('CALL_ESTABLISHED');
      await sleep(1000);
      // Only the party who answered transfers its caller; an unknown target is 404.
      const byCaller = await t.request('POST', `/api/pbx/calls/${callId}/transfer`, { token: people.a.token, body: { target: String(c.number), type: 'blind' } });
      assert.equal(byCaller.statusCode, 409, byCaller.body);
      const unknown = await t.request('POST', `/api/pbx/calls/${callId}/transfer`, { token: people.b.token, body: { target: '1999', type: 'blind' } });
      assert.equal(unknown.statusCode, 404, unknown.body);
      assert.equal(unknown.json().error.code, 'PBX_ERR_TRANSFER_TARGET_NOT_FOUND');

      const res = await t.request('POST', `/api/pbx/calls/${callId}/transfer`, { token: people.b.token, body: { target: String(c.number), type: 'blind' } });
      assert.equal(res.statusCode, 200, res.body);
      // B's phone hears BYE at once; C's socket hears the call coming, and C's phone answers.
      const runB = await phoneB;
      assert.equal(runB.code, 0, runB.errors || runB.output);
      await live.c!.next('call:incoming', (d) => d.callId === callId, marks.c);
      await live.c!.next('call:state:changed', (d) => d.callId === callId && d.status === 'CONNECTED' && (d.metadata as { agentId?: string }).agentId === c.id, marks.c);
      const t0 = Date.now();
      await sleep(2000);
      phoneA.command('hangup');
      const runC = await phoneC;
      assert.equal(runC.code, 0, runC.errors || runC.output);
      const heard = dominantTone(sinkC.pcmu(t0 + 300, t0 + 1800), 8000, [TONE_A, ...MUSIC]);
      assert.equal(heard.frequency, TONE_A, 'the target hears the caller');

      const session = (await t.request('GET', `/api/pbx/calls/sessions/${callId}`, { token: ctx.token })).json();
      assert.equal(session.status, 'COMPLETED');
      assert.equal(session.agentId, c.id, 'the session names the agent who took the transfer');
      const statuses = live.manager!.events.slice(marks.manager).filter((e) => e.name === 'call:state:changed' && e.data.callId === callId).map((e) => e.data.status);
      assert.ok(statuses.includes('TRANSFERRING'), statuses.join(', '));
      // B was let go at the transfer, before the call ended: BUSY, then back to its state before the call.
      const seen = live.manager!.events.slice(marks.manager);
      const changesOfB = seen.map((e, i) => ({ e, i })).filter(({ e }) => e.name === 'agent:status:updated' && e.data.agentId === b.id);
      assert.deepEqual(changesOfB.slice(0, 2).map(({ e }) => e.data.status), ['BUSY', 'OFFLINE']);
      const endedAt = seen.findIndex((e) => e.name === 'call:ended' && e.data.callId === callId);
      assert.ok(changesOfB[1]!.i < endedAt, 'B was free before the call ended');
      assert.notEqual(t.server.contactCenter.agents.find(b.id)!.status, 'BUSY', 'the agent who transferred is not left BUSY');
      assert.equal(t.server.contactCenter.agents.find(c.id)!.calls.length, 0);
    } finally {
      await phoneA.stop();
      sinkB.close();
      sinkC.close();
    }
  });

  it('attended transfer from the API: the caller holds while the agent consults the target; cancel takes it back, complete puts it through', async () => {
    const t = ctx.t;
    const [a, b, c] = [people.a.ext!, people.b.ext!, people.c.ext!];
    const dirs = { a: tempDir('attended-a'), b: tempDir('attended-b'), c: tempDir('attended-c') };
    const proxy = `127.0.0.1:${t.server.sipPort}`;
    const phoneA = await Baresip.start({ user: String(a.number), password: a.secret, domain: 'pbx.test', proxy, answer: 'manual', tone: TONE_A, dumpDir: dirs.a });
    const phoneB = await Baresip.start({ user: String(b.number), password: b.secret, domain: 'pbx.test', proxy, answer: 'auto', tone: TONE_B, dumpDir: dirs.b });
    const phoneC = await Baresip.start({ user: String(c.number), password: c.secret, domain: 'pbx.test', proxy, answer: 'auto', tone: TONE_C, dumpDir: dirs.c });
    const marks = Object.fromEntries(Object.entries(live).map(([k, cl]) => [k, cl.events.length]));
    const post = (token: string, path: string, body?: unknown) => t.request('POST', path, { token, body });
    const windows: Record<string, [number, number]> = {};
    const phase = async (name: string, ms: number) => {
      const from = Date.now();
      await sleep(ms);
      windows[name] = [from, Date.now()];
    };
    try {
      for (const ext of [a, b, c]) await until(`phone ${ext.number} registered`, () => t.server.telephony.location.lookup(ext.id).length, (n) => n > 0);
      phoneA.command('dial', `sip:${b.number}@pbx.test`);
      const incoming = await live.b!.next('call:incoming', () => true, marks.b);
      const callId = incoming.callId as string;
      await phoneA.waitFor('CALL_ESTABLISHED');
      const startedAt = Date.now();
      await phase('talk', 2000);

      // Only the agent who answered consults; the caller cannot.
      const byCaller = await post(people.a.token, `/api/pbx/calls/${callId}/transfer`, { target: String(c.number), type: 'attended' });
      assert.equal(byCaller.statusCode, 409, byCaller.body);
      const nothingToComplete = await post(people.b.token, `/api/pbx/calls/${callId}/transfer/complete`);
      assert.equal(nothingToComplete.statusCode, 409, nothingToComplete.body);

      // First consultation, cancelled: C is rung for B (C's socket says so), answers and talks with B; A hears music.
      const consult = await post(people.b.token, `/api/pbx/calls/${callId}/transfer`, { target: String(c.number), type: 'attended' });
      assert.equal(consult.statusCode, 200, consult.body);
      assert.deepEqual(consult.json().consultation, { target: String(c.number), answered: false });
      const toC = await live.c!.next('call:incoming', (d) => d.callId === callId, marks.c);
      assert.equal(toC.from, String(b.number), 'the target sees the agent calling');
      assert.deepEqual(toC.consultation, { caller: String(a.number) }, 'and whom the consultation is about');
      await live.manager!.next('call:state:changed', (d) => d.callId === callId && d.status === 'TRANSFERRING', marks.manager);
      await until('C answered and talks with B', () => t.server.telephony.calls.find(callId)?.consulting?.answered, (x) => x === true);
      const cFirstCall = Date.now();
      await until('C is BUSY', () => t.server.contactCenter.agents.find(c.id)!.status, (s) => s === 'BUSY');
      const busyHold = await post(people.b.token, `/api/pbx/calls/${callId}/hold`, { hold: false });
      assert.equal(busyHold.statusCode, 409, 'no hold or mute while a consultation runs');
      await sleep(800);
      await phase('consult', 2500);
      const cancelled = await live.b!.ask('call:transfer:cancel', { callId });
      assert.equal(cancelled.ok, true, JSON.stringify(cancelled));
      await until('C let go', () => phoneC.events.some((e) => e.type === 'CALL_CLOSED'), (x) => x);
      await live.manager!.next('call:state:changed', (d) => d.callId === callId && d.status === 'CONNECTED', live.manager!.events.length - 5);
      await until('back with B', () => t.server.telephony.calls.find(callId)?.holding.size, (n) => n === 0);
      await sleep(800);
      await phase('back', 2000);
      assert.notEqual(t.server.contactCenter.agents.find(c.id)!.status, 'BUSY', 'the consulted agent is let go');

      // Second consultation, completed: B is let go, A and C talk.
      const again = await post(people.b.token, `/api/pbx/calls/${callId}/transfer`, { target: String(c.number), type: 'attended' });
      assert.equal(again.statusCode, 200, again.body);
      await until('C answered again', () => t.server.telephony.calls.find(callId)?.consulting?.answered, (x) => x === true);
      const cSecondCall = Date.now();
      await sleep(1500);
      const completed = await post(people.b.token, `/api/pbx/calls/${callId}/transfer/complete`);
      assert.equal(completed.statusCode, 200, completed.body);
      await phoneB.waitFor('CALL_CLOSED');
      await until('A and C bridged', () => t.server.telephony.calls.find(callId)?.callee?.extensionId, (x) => x === c.id);
      await sleep(800);
      await phase('transferred', 2500);
      phoneA.command('hangup');
      await phoneC.waitFor('CALL_CLOSED');
      await live.manager!.next('call:ended', (d) => d.callId === callId, marks.manager);

      // What each one heard, window by window (a phone's dump starts when its call does).
      const heard = (dir: string, since: number, [from, to]: [number, number], nth = 0) => {
        const pcm = dumpedAudio(dir, nth);
        return dominantTone(slice(pcm, (from - since) / 1000 + 0.3, (to - since) / 1000 - 0.2), pcm.rate, [TONE_A, TONE_B, TONE_C, ...MUSIC]).frequency;
      };
      assert.equal(heard(dirs.a, startedAt, windows.talk!), TONE_B, 'A hears B at first');
      const onHold = heard(dirs.a, startedAt, windows.consult!);
      assert.ok(MUSIC.includes(onHold), `while B consults, A hears music, not B or C (${onHold} Hz)`);
      assert.equal(heard(dirs.b, startedAt, windows.consult!), TONE_C, 'while consulting B hears C');
      assert.equal(heard(dirs.c, cFirstCall, windows.consult!), TONE_B, 'and C hears B, not A');
      assert.equal(heard(dirs.a, startedAt, windows.back!), TONE_B, 'after the cancel A hears B again');
      assert.equal(heard(dirs.b, startedAt, windows.back!), TONE_A, 'and B hears A');
      assert.equal(heard(dirs.a, startedAt, windows.transferred!), TONE_C, 'after the complete A hears C');
      assert.equal(heard(dirs.c, cSecondCall, windows.transferred!, 1), TONE_A, 'and C hears A');
      const sessions = (await t.request('GET', `/api/pbx/calls/sessions/${callId}`, { token: ctx.token })).json();
      assert.equal(sessions.status, 'COMPLETED');
      assert.equal(sessions.agentId, c.id, 'the session names the agent who took the transfer');
      assert.ok(sessions.holdTime >= 4, `the consultations count as hold (${sessions.holdTime} s)`);
      assert.notEqual(t.server.contactCenter.agents.find(b.id)!.status, 'BUSY');
      assert.notEqual(t.server.contactCenter.agents.find(c.id)!.status, 'BUSY');
    } finally {
      await Promise.all([phoneA.stop(), phoneB.stop(), phoneC.stop()]);
      for (const dir of Object.values(dirs)) fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a phone transfers its caller blind by REFER (RFC 3515): an unknown target is refused; a known one is rung and talks with the caller', async () => {
    const t = ctx.t;
    const [a, b, c] = [people.a.ext!, people.b.ext!, people.c.ext!];
    const dirs = { a: tempDir('refer-a'), c: tempDir('refer-c') };
    const proxy = `127.0.0.1:${t.server.sipPort}`;
    const phoneA = await Baresip.start({ user: String(a.number), password: a.secret, domain: 'pbx.test', proxy, answer: 'manual', tone: TONE_A, dumpDir: dirs.a });
    const phoneB = await Baresip.start({ user: String(b.number), password: b.secret, domain: 'pbx.test', proxy, answer: 'auto', tone: TONE_B });
    const phoneC = await Baresip.start({ user: String(c.number), password: c.secret, domain: 'pbx.test', proxy, answer: 'auto', tone: TONE_C, dumpDir: dirs.c });
    const marks = Object.fromEntries(Object.entries(live).map(([k, cl]) => [k, cl.events.length]));
    try {
      for (const ext of [a, b, c]) await until(`phone ${ext.number} registered`, () => t.server.telephony.location.lookup(ext.id).length, (n) => n > 0);
      const count = (phone: Baresip, type: string) => phone.events.filter((e) => e.type === type).length;
      // A REFER to a number nobody has is refused (404); this baresip hangs up when its transfer fails.
      phoneA.command('dial', `sip:${b.number}@pbx.test`);
      await until('the first call is up', () => count(phoneB, 'CALL_ESTABLISHED'), (n) => n === 1);
      phoneB.command('transfer', 'sip:1999@pbx.test');
      await until('the first call is over', () => count(phoneA, 'CALL_CLOSED'), (n) => n === 1);
      assert.match(phoneB.log, /transfer failed: 404/);

      phoneA.command('dial', `sip:${b.number}@pbx.test`);
      const incoming = await live.b!.next('call:incoming', (d) => t.server.telephony.calls.find(d.callId as string) !== undefined, live.b!.events.length);
      const callId = incoming.callId as string;
      await until('the second call is up', () => count(phoneB, 'CALL_ESTABLISHED'), (n) => n === 2);
      await sleep(500);
      phoneB.command('transfer', `sip:${c.number}@pbx.test`);
      await live.c!.next('call:incoming', (d) => d.callId === callId, marks.c);
      await phoneC.waitFor('CALL_ESTABLISHED');
      await until('A and C talk', () => t.server.telephony.calls.find(callId)?.callee?.extensionId, (x) => x === c.id);
      const cAnswered = Date.now();
      await sleep(2500);
      const talkedUntil = Date.now() - 200;
      phoneA.command('hangup');
      await phoneC.waitFor('CALL_CLOSED');
      await live.manager!.next('call:ended', (d) => d.callId === callId, marks.manager);

      const cPcm = dumpedAudio(dirs.c);
      assert.equal(dominantTone(slice(cPcm, 0.5, (talkedUntil - cAnswered) / 1000), cPcm.rate, [TONE_A, TONE_B, TONE_C, ...MUSIC]).frequency, TONE_A, 'C hears A');
      const aPcm = dumpedAudio(dirs.a, 'last');
      const aEnd = aPcm.samples.length / aPcm.rate;
      assert.equal(dominantTone(slice(aPcm, aEnd - 2.2, aEnd - 0.4), aPcm.rate, [TONE_A, TONE_B, TONE_C, ...MUSIC]).frequency, TONE_C, 'A hears C at the end');
      const session = (await t.request('GET', `/api/pbx/calls/sessions/${callId}`, { token: ctx.token })).json();
      assert.equal(session.status, 'COMPLETED');
      assert.equal(session.agentId, c.id, 'the session names the agent who took the transfer');
      assert.notEqual(t.server.contactCenter.agents.find(b.id)!.status, 'BUSY', 'the transferor is let go');
    } finally {
      await Promise.all([phoneA.stop(), phoneB.stop(), phoneC.stop()]);
      for (const dir of Object.values(dirs)) fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a reconnecting socket is sent the present state again (its agent\'s status)', async () => {
    const again = await connectLive(ctx.t.server.url, people.b.token);
    try {
      const own = await again.next('agent:status:updated');
      assert.equal(own.agentId, people.b.ext!.id);
      assert.equal(own.status, ctx.t.server.contactCenter.agents.find(people.b.ext!.id)!.status);
    } finally {
      again.close();
    }
  });
});
