// Call recording through the relay, with two baresip phones sending tones of their own (the caller 700 Hz, the
// callee 1300 Hz). Policy `always` records a call: one row, one stereo WAV whose left channel is the caller's tone
// and right channel the callee's, as long as the call, kept encrypted at rest (no RIFF header, no plaintext) and
// decrypted on an authorized download that matches its SHA-256. An extension's `never` wins over the tenant's
// `always`. `on-demand` records once a manager starts it on the live call. Agents and other tenants get nothing.
// Without the relay, starting a recording answers PBX_ERR_MEDIA_UNAVAILABLE.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { DomainEvents } from '../../src/events/index.ts';
import { dominantTone } from '../support/audio.ts';
import { Baresip } from '../support/baresip.ts';
import { createUser, type TestServer, useTestServer } from '../support/server.ts';
import { eventually, sleep } from '../support/wait.ts';

const CALLER_TONE = 700;
const CALLEE_TONE = 1300;
type Ext = { id: string; number: number; secret: string };


async function ext(t: TestServer, token: string, name: string): Promise<Ext> {
  return (await createUser(t, token, { name, email: `${name.replace(/\W/g, '').toLowerCase()}@example.com` })).extension as Ext;
}

/**
 * Two baresip phones: `a` calls `b`, which answers; `during` runs while they talk (with the call id); then `a` hangs
 * up after `talkMs`. Answers the call id.
 */
async function call(t: TestServer, a: Ext, b: Ext, talkMs: number, during?: (callId: string) => Promise<void>): Promise<string> {
  const proxy = `127.0.0.1:${t.server.sipPort}`;
  let answered: DomainEvents['call.answered'] | undefined;
  let ended = false;
  const offAnswered = t.server.bus.on('call.answered', (e) => void (answered ??= e));
  const offEnded = t.server.bus.on('call.ended', () => void (ended = true));
  const phoneA = await Baresip.start({ user: String(a.number), password: a.secret, domain: 'pbx.test', proxy, answer: 'manual', tone: CALLER_TONE });
  const phoneB = await Baresip.start({ user: String(b.number), password: b.secret, domain: 'pbx.test', proxy, answer: 'auto', tone: CALLEE_TONE });
  try {
    const location = t.server.telephony.location;
    for (let i = 0; i < 250 && (location.lookup(a.id).length === 0 || location.lookup(b.id).length === 0); i++) await sleep(20);
    phoneA.command('dial', `sip:${b.number}@pbx.test`);
    await Promise.all([phoneA.waitFor('CALL_ESTABLISHED'), phoneB.waitFor('CALL_ESTABLISHED')]);
    const callId = (await eventually('call.answered', () => answered)).callId;
    if (during) await during(callId);
    await sleep(talkMs);
    phoneA.command('hangup');
    await eventually('call.ended', () => (ended ? true : undefined));
    return callId;
  } finally {
    offAnswered();
    offEnded();
    await phoneA.stop();
    await phoneB.stop();
  }
}

/** The left and right channels of a 16-bit stereo WAV (a 44-byte header, as the server writes it). */
function channels(wav: Buffer): { rate: number; left: Float32Array; right: Float32Array } {
  assert.equal(wav.toString('latin1', 0, 4), 'RIFF');
  assert.equal(wav.readUInt16LE(22), 2, 'stereo');
  assert.equal(wav.readUInt16LE(34), 16, '16-bit');
  const data = wav.subarray(44);
  const frames = data.length / 4;
  const left = new Float32Array(frames);
  const right = new Float32Array(frames);
  for (let i = 0; i < frames; i++) {
    left[i] = data.readInt16LE(i * 4) / 32768;
    right[i] = data.readInt16LE(i * 4 + 2) / 32768;
  }
  return { rate: wav.readUInt32LE(24), left, right };
}

describe('call recording through the relay', () => {
  const ctx = useTestServer('pglite', { rtpengine: 'auto' });

  it('policy always: a stereo WAV with the caller left and the callee right, encrypted at rest, decrypted on download', async () => {
    const t = ctx.t;
    const put = await t.request('PUT', '/api/pbx/recordings/policy', { token: ctx.token, body: { policy: 'always' } });
    assert.equal(put.statusCode, 200, put.body);
    const [a, b] = [await ext(t, ctx.token, 'Rec A'), await ext(t, ctx.token, 'Rec B')];
    let ready: DomainEvents['recording.ready'] | undefined;
    const off = t.server.bus.on('recording.ready', (e) => void (ready = e));
    const started = Date.now();
    const callId = await call(t, a, b, 2500);
    const talk = Date.now() - started;
    await eventually('recording.ready', () => ready);
    off();
    assert.equal(ready?.callId, callId);

    const list = await t.request('GET', `/api/pbx/recordings?callId=${callId}`, { token: ctx.token });
    assert.equal(list.statusCode, 200, list.body);
    const [row] = (list.json() as { recordings: Array<{ id: string; callId: string; durationMs: number; sha256: string; channels: string; callerNumber: number; calleeNumber: number; size: number }> }).recordings;
    assert.ok(row);
    assert.deepEqual([row.callerNumber, row.calleeNumber, row.channels], [a.number, b.number, 'stereo: caller left, callee right']);
    assert.ok(row.durationMs > 2000 && row.durationMs < talk + 500, `the recording lasts as long as the talk (${row.durationMs} ms of ${talk})`);

    const files = fs.readdirSync(path.join(t.dataDir, 'recordings'), { recursive: true }).map(String).filter((f) => f.endsWith('.sealed'));
    assert.equal(files.length, 1);
    const sealed = fs.readFileSync(path.join(t.dataDir, 'recordings', files[0] as string));
    assert.equal(sealed.length, row.size);
    assert.notEqual(sealed.subarray(0, 4).toString('latin1'), 'RIFF', 'encrypted at rest');
    assert.equal(sealed.indexOf(Buffer.from('WAVEfmt')), -1);

    const audio = await t.request('GET', `/api/pbx/recordings/${row.id}/audio`, { token: ctx.token });
    assert.equal(audio.statusCode, 200);
    assert.equal(audio.headers['content-type'], 'audio/wav');
    const wav = audio.rawPayload;
    assert.equal(createHash('sha256').update(wav).digest('hex'), row.sha256);
    const { rate, left, right } = channels(wav);
    const middle = (s: Float32Array) => s.subarray(Math.floor(0.3 * rate), s.length - Math.floor(0.3 * rate));
    assert.equal(dominantTone(middle(left), rate, [CALLER_TONE, CALLEE_TONE]).frequency, CALLER_TONE, 'the left channel is the caller');
    assert.equal(dominantTone(middle(right), rate, [CALLER_TONE, CALLEE_TONE]).frequency, CALLEE_TONE, 'the right channel is the callee');

    // An agent may not list or hear recordings; another tenant's administrator does not find them.
    await createUser(t, ctx.token, { name: 'Rec Agent', email: 'recagent@example.com', role: 'AGENT', password: 'agent-password-1', withExtension: false });
    const agentToken = await t.login('recagent@example.com', 'agent-password-1');
    assert.equal((await t.request('GET', `/api/pbx/recordings/${row.id}/audio`, { token: agentToken })).statusCode, 403);
    assert.equal((await t.request('GET', '/api/pbx/recordings', { token: agentToken })).statusCode, 403);
    const tenant = await t.request('POST', '/api/tenants', { token: ctx.token, body: { name: 'Other', domain: 'other.test', admin: { name: 'Boss', email: 'boss@other.test', password: 'other-password-1' } } });
    assert.equal(tenant.statusCode, 201, tenant.body);
    const otherToken = await t.login('boss@other.test', 'other-password-1');
    assert.equal((await t.request('GET', `/api/pbx/recordings/${row.id}/audio`, { token: otherToken })).statusCode, 404);
    assert.deepEqual((await t.request('GET', '/api/pbx/recordings', { token: otherToken })).json(), { recordings: [] });
    const audit = await t.request('GET', '/api/audit?action=recording.download', { token: ctx.token });
    assert.match(audit.body, /recording\.download/);
  });

  it('an extension that says never is not recorded, whatever the tenant says', async () => {
    const t = ctx.t;
    const [a, b] = [await ext(t, ctx.token, 'Rec C'), await ext(t, ctx.token, 'Rec D')];
    const set = await t.request('PUT', `/api/pbx/agent-extensions/${b.id}`, { token: ctx.token, body: { recordingPolicy: 'never' } });
    assert.equal(set.statusCode, 200, set.body);
    assert.equal((set.json() as { recordingPolicy: string }).recordingPolicy, 'never');
    const callId = await call(t, a, b, 1000);
    await sleep(500);
    const list = await t.request('GET', `/api/pbx/recordings?callId=${callId}`, { token: ctx.token });
    assert.deepEqual((list.json() as { recordings: unknown[] }).recordings, []);
  });

  it('on-demand: recorded once a manager starts it on the live call', async () => {
    const t = ctx.t;
    assert.equal((await t.request('PUT', '/api/pbx/recordings/policy', { token: ctx.token, body: { policy: 'on-demand' } })).statusCode, 200);
    const [a, b] = [await ext(t, ctx.token, 'Rec E'), await ext(t, ctx.token, 'Rec F')];
    let ready: DomainEvents['recording.ready'] | undefined;
    const off = t.server.bus.on('recording.ready', (e) => void (ready = e));
    const callId = await call(t, a, b, 1500, async (id) => {
      assert.equal((await t.request('POST', '/api/pbx/calls/not-a-call/recording', { token: ctx.token, body: { action: 'start' } })).statusCode, 404);
      const res = await t.request('POST', `/api/pbx/calls/${id}/recording`, { token: ctx.token, body: { action: 'start' } });
      assert.equal(res.statusCode, 200, res.body);
    });
    await eventually('recording.ready', () => ready);
    off();
    assert.equal(ready?.callId, callId);
    const list = await t.request('GET', `/api/pbx/recordings?callId=${callId}`, { token: ctx.token });
    const [row] = (list.json() as { recordings: Array<{ durationMs: number }> }).recordings;
    assert.ok(row && row.durationMs > 1000, `recorded from the start request on (${row?.durationMs} ms)`);
  });
});

describe('recording without the relay', () => {
  const ctx = useTestServer('pglite', { rtpengine: 'off' });

  it('starting a recording answers PBX_ERR_MEDIA_UNAVAILABLE', async () => {
    const t = ctx.t;
    const [a, b] = [await ext(t, ctx.token, 'Direct A'), await ext(t, ctx.token, 'Direct B')];
    await call(t, a, b, 200, async (id) => {
      const res = await t.request('POST', `/api/pbx/calls/${id}/recording`, { token: ctx.token, body: { action: 'start' } });
      assert.equal(res.statusCode, 503, res.body);
      assert.equal((res.json() as { error: { code: string } }).error.code, 'PBX_ERR_MEDIA_UNAVAILABLE');
    });
  });
});
