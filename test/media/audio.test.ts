// Real audio through the relay (rtpengine): two baresip phones, each sending a tone of its own, call each other;
// what each one heard (dumped by baresip's sndfile module) is the other's tone, and a digit sent as an RFC 4733
// telephone-event is reported as a call.dtmf event. A baresip phone holds a callee (sipp for the signalling, an RTP
// socket of the test for its audio): the held side hears music on hold, not silence and not the caller's tone,
// until the caller resumes, and then the caller's tone again. The relay keeps no media session after a call.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { answerReinvite, WAIT_FOR_BYE } from '../support/calls.ts';
import { describe, it } from 'node:test';
import type { DomainEvents } from '../../src/events/index.ts';
import { dominantTone, type Pcm, readWav, rms, slice } from '../support/audio.ts';
import { Baresip } from '../support/baresip.ts';
import { RtpSink } from '../support/rtp.ts';
import { eventually, sleep, until } from '../support/wait.ts';
import { createUser, type TestServer, useTestServer } from '../support/server.ts';
import { authField, runSipp } from '../support/sipp.ts';
import { freePort } from '../support/process.ts';

const TONE_A = 700;
const TONE_B = 1300;

/** The first event `name` seen that matches. */
function waitForEvent<K extends keyof DomainEvents>(seen: Array<{ name: string; e: unknown }>, name: K, match: (e: DomainEvents[K]) => boolean): Promise<DomainEvents[K]> {
  return eventually(name, () => seen.find((s) => s.name === name && match(s.e as DomainEvents[K]))?.e as DomainEvents[K] | undefined);
}

/** What the phone heard (`dec`) or sent (`enc`), as baresip's sndfile module dumped it. */
function dumped(dir: string, kind: 'dec' | 'enc'): Pcm {
  const file = fs.readdirSync(dir).find((f) => f.endsWith(`-${kind}.wav`));
  assert.ok(file, `baresip dumped no ${kind} audio into ${dir}: ${fs.readdirSync(dir).join(', ')}`);
  return readWav(path.join(dir, file));
}

type Ext = { id: string; number: number; secret: string };

async function ext(t: TestServer, token: string, name: string): Promise<Ext> {
  return (await createUser(t, token, { name, email: `${name.replace(/\W/g, '').toLowerCase()}@example.com` })).extension as Ext;
}

function record(t: TestServer): Array<{ name: string; e: unknown }> {
  const seen: Array<{ name: string; e: unknown }> = [];
  for (const name of ['call.answered', 'call.hold', 'call.dtmf', 'call.ended'] as const) t.server.bus.on(name, (e) => void seen.push({ name, e }));
  return seen;
}

async function registered(t: TestServer, ...exts: Ext[]): Promise<void> {
  const location = t.server.telephony.location;
  for (let i = 0; i < 250 && exts.some((e) => location.lookup(e.id).length === 0); i++) await sleep(20);
}

const HELD_THEN_RESUMED = `${answerReinvite('recvonly')}${answerReinvite('sendrecv')}${WAIT_FOR_BYE}`;

describe('audio through the relay (rtpengine)', () => {
  const ctx = useTestServer('pglite', { rtpengine: 'auto' });

  /**
   * Baresip phone A (TONE_A) calls B (TONE_B), which answers; `during` runs while they talk; A hangs up. Answers what
   * each phone heard, and their logs.
   */
  async function talk(names: [string, string], options: { codecs?: ['PCMU' | 'PCMA', 'PCMU' | 'PCMA']; during?: (phoneA: Baresip) => Promise<void> } = {}) {
    const t = ctx.t;
    const [a, b] = [await ext(t, ctx.token, names[0]), await ext(t, ctx.token, names[1])];
    const seen = record(t);
    const [dirA, dirB] = [fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-audio-a-')), fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-audio-b-'))];
    const proxy = `127.0.0.1:${t.server.sipPort}`;
    const phoneA = await Baresip.start({ user: String(a.number), password: a.secret, domain: 'pbx.test', proxy, answer: 'manual', tone: TONE_A, dumpDir: dirA, codec: options.codecs?.[0] });
    const phoneB = await Baresip.start({ user: String(b.number), password: b.secret, domain: 'pbx.test', proxy, answer: 'auto', tone: TONE_B, dumpDir: dirB, codec: options.codecs?.[1] });
    try {
      await registered(t, a, b);
      phoneA.command('dial', `sip:${b.number}@pbx.test`);
      await Promise.all([phoneA.waitFor('CALL_ESTABLISHED'), phoneB.waitFor('CALL_ESTABLISHED')]);
      await sleep(2000);
      await options.during?.(phoneA);
      phoneA.command('hangup');
      await waitForEvent(seen, 'call.ended', () => true);
      await phoneA.stop();
      await phoneB.stop();
      return { seen, heardByA: dumped(dirA, 'dec'), heardByB: dumped(dirB, 'dec'), logA: phoneA.log, logB: phoneB.log };
    } finally {
      await phoneA.stop();
      await phoneB.stop();
      fs.rmSync(dirA, { recursive: true, force: true });
      fs.rmSync(dirB, { recursive: true, force: true });
    }
  }

  /** The tone that dominates the first seconds of what a phone heard, and by how much. */
  const heardTone = (pcm: Pcm) => dominantTone(slice(pcm, 0.5, 1.8), pcm.rate, [TONE_A, TONE_B]);

  it('two baresip phones hear each other\'s tone, and a telephone-event is a call.dtmf event', async () => {
    assert.equal(ctx.t.server.media.plane.kind, 'rtpengine');
    const { heardByA, heardByB } = await talk(['Audio A', 'Audio B'], {
      during: async (phoneA) => {
        const seen = record(ctx.t);
        phoneA.command('sndcode', '5');
        const dtmf = await waitForEvent(seen, 'call.dtmf', (e) => e.via === 'rfc4733');
        assert.deepEqual({ side: dtmf.side, digit: dtmf.digit }, { side: 'caller', digit: '5' });
      },
    });
    const byA = heardTone(heardByA);
    assert.equal(byA.frequency, TONE_B, 'the caller hears the callee\'s tone');
    assert.ok(byA.ratio > 10, `clearly (ratio ${byA.ratio.toFixed(1)})`);
    const byB = heardTone(heardByB);
    assert.equal(byB.frequency, TONE_A, 'the callee hears the caller\'s tone');
    assert.ok(byB.ratio > 10, `clearly (ratio ${byB.ratio.toFixed(1)})`);
    assert.deepEqual(await until('the relay releases the call', () => ctx.t.server.media.plane.sessions(), (x) => x.length === 0), []);
  });

  it('two phones that share no codec (PCMU only, PCMA only) still hear each other: the relay transcodes', async () => {
    const { heardByA, heardByB, logA, logB } = await talk(['Ulaw U', 'Alaw V'], { codecs: ['PCMU', 'PCMA'] });
    assert.match(logA, /Set audio decoder: PCMU/);
    assert.match(logB, /Set audio decoder: PCMA/);
    assert.equal(heardTone(heardByA).frequency, TONE_B, 'the PCMU phone hears the PCMA phone');
    assert.equal(heardTone(heardByB).frequency, TONE_A, 'the PCMA phone hears the PCMU phone');
  });

  it('a phone holds: the held side hears music on hold, then the caller again after resume', async () => {
    const t = ctx.t;
    const [a, b] = [await ext(t, ctx.token, 'Holder H'), await ext(t, ctx.token, 'Held K')];
    const seen = record(t);
    const sink = await RtpSink.open();
    const calleePort = await freePort();
    const callee = runSipp({
      scenario: 'uas-answer.xml',
      localPort: calleePort,
      substitute: { RING: '200', MEDIA_PORT: String(sink.port), HANGUP_STEPS: HELD_THEN_RESUMED },
      timeoutSeconds: 40,
    });
    const registration = await runSipp({
      scenario: 'register.xml',
      target: `127.0.0.1:${t.server.sipPort}`,
      rows: [[String(b.number), authField(String(b.number), b.secret)]],
      vars: { domain: 'pbx.test', expires: '300' },
      substitute: { EXPECT: '200', CONTACT: `127.0.0.1:${calleePort}` },
    });
    assert.equal(registration.code, 0, registration.errors || registration.output);
    const phoneA = await Baresip.start({ user: String(a.number), password: a.secret, domain: 'pbx.test', proxy: `127.0.0.1:${t.server.sipPort}`, answer: 'manual', tone: TONE_A });
    try {
      await registered(t, a);
      phoneA.command('dial', `sip:${b.number}@pbx.test`);
      await phoneA.waitFor('CALL_ESTABLISHED').catch(async (err: Error) => {
        const run = await Promise.race([callee, sleep(3000).then(() => undefined)]);
        throw new Error(`${err.message}\n--- sipp callee ---\n${run ? `${run.code} ${run.errors} ${run.output}` : 'still running'}`);
      });
      const t0 = Date.now();
      await sleep(1500);
      phoneA.command('hold');
      await waitForEvent(seen, 'call.hold', (e) => e.held && e.side === 'caller');
      const t1 = Date.now();
      await sleep(2500);
      phoneA.command('resume');
      await waitForEvent(seen, 'call.hold', (e) => !e.held);
      const t2 = Date.now();
      await sleep(1500);
      phoneA.command('hangup');
      await waitForEvent(seen, 'call.ended', () => true);
      const run = await callee;
      assert.equal(run.code, 0, run.errors || run.output);

      const before = dominantTone(sink.pcmu(t0 + 300, t1 - 200), 8000, [TONE_A, 261.63, 329.63, 392.0, 440]);
      assert.equal(before.frequency, TONE_A, 'before hold the callee hears the caller\'s tone');
      const held = sink.pcmu(t1 + 500, t2 - 200);
      assert.ok(held.length > 8000, `audio keeps coming during hold (${held.length} samples)`);
      assert.ok(rms(held) > 0.01, `and it is not silence (rms ${rms(held).toFixed(4)})`);
      const music = dominantTone(held, 8000, [TONE_A, 261.63, 329.63, 392.0, 440, 523.25]);
      assert.notEqual(music.frequency, TONE_A, 'and not the caller: music on hold');
      const after = dominantTone(sink.pcmu(t2 + 500, t2 + 1400), 8000, [TONE_A, 261.63, 329.63, 392.0, 440]);
      assert.equal(after.frequency, TONE_A, 'after resume the callee hears the caller again');
      assert.deepEqual(await t.server.media.plane.sessions(), []);
    } finally {
      await phoneA.stop();
      sink.close();
    }
  });

  it('the relay dies mid-call: the call ends (cause media-lost) on both phones, the relay comes back, and the next call has audio', async () => {
    const t = ctx.t;
    const [a, b] = [await ext(t, ctx.token, 'Lost L'), await ext(t, ctx.token, 'Lost M')];
    const seen = record(t);
    const proxy = `127.0.0.1:${t.server.sipPort}`;
    const dirB = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-audio-m-'));
    const phoneA = await Baresip.start({ user: String(a.number), password: a.secret, domain: 'pbx.test', proxy, answer: 'manual', tone: TONE_A });
    const phoneB = await Baresip.start({ user: String(b.number), password: b.secret, domain: 'pbx.test', proxy, answer: 'auto', tone: TONE_B, dumpDir: dirB });
    try {
      await registered(t, a, b);
      phoneA.command('dial', `sip:${b.number}@pbx.test`);
      await Promise.all([phoneA.waitFor('CALL_ESTABLISHED'), phoneB.waitFor('CALL_ESTABLISHED')]);
      const pid = t.server.media.pid as number;
      assert.ok(pid > 0);
      process.kill(pid, 'SIGKILL');
      const ended = await waitForEvent(seen, 'call.ended', () => true);
      assert.equal(ended.cause, 'media-lost');
      await Promise.all([phoneA.waitFor('CALL_CLOSED'), phoneB.waitFor('CALL_CLOSED')]);
      // The supervisor starts it again; a new call is anchored in the new daemon.
      for (let i = 0; i < 100 && (t.server.media.pid === undefined || t.server.media.pid === pid); i++) await sleep(100);
      assert.notEqual(t.server.media.pid, pid);
      phoneA.events.length = 0;
      phoneB.events.length = 0;
      await sleep(500);
      phoneA.command('dial', `sip:${b.number}@pbx.test`);
      await Promise.all([phoneA.waitFor('CALL_ESTABLISHED'), phoneB.waitFor('CALL_ESTABLISHED')]);
      await sleep(1500);
      phoneA.command('hangup');
      await phoneB.waitFor('CALL_CLOSED');
      await phoneB.stop();
      const files = fs.readdirSync(dirB).filter((f) => f.endsWith('-dec.wav')).sort();
      const second = readWav(path.join(dirB, files[files.length - 1] as string));
      assert.equal(dominantTone(slice(second, 0.3, 1.3), second.rate, [TONE_A, TONE_B]).frequency, TONE_A, 'the next call has audio');
    } finally {
      await phoneA.stop();
      await phoneB.stop();
      fs.rmSync(dirB, { recursive: true, force: true });
    }
  });
});
