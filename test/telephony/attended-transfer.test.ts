// Attended transfer started by a phone (RFC 5589 section 7): the phone, on two calls, sends REFER in one of them
// with a Refer-To whose Replaces (RFC 3891) names its dialog in the other, and the PBX joins the two other parties.
// The transferring phone B is JsSIP in headless Chromium (its microphone a 1300 Hz tone): another browser A (700 Hz)
// calls it, B holds A by re-INVITE, calls a baresip phone C (1000 Hz), and joins them, by REFER in either call.
// What A hears is analysed in its page, what C hears read from its dump; the server's events tell the rest. (A is a
// browser because baresip 1.0 discards every packet whose RTP timestamp lies below the last stream's, music on hold's
// included, so a baresip transferee goes deaf at random; WebRTC takes a new stream as RFC 3550 says.)
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { DomainEvents } from '../../src/events/index.ts';
import { wavFile } from '../../src/media/index.ts';
import { dominantTone, readWav, sineSamples, slice } from '../support/audio.ts';
import { Baresip } from '../support/baresip.ts';
import { bundle, launchChromium, openScriptPage, tempDir } from '../support/browser.ts';
import { createUser, useTestServer } from '../support/server.ts';
import { sleep, until } from '../support/wait.ts';

const TONE_A = 700;
const TONE_B = 1300;
const TONE_C = 1000;
const MUSIC = [261.63, 329.63, 392.0, 440, 523.25];

type Ext = { id: string; number: number; secret: string };
type CallState = { established: boolean; ended?: string; failed?: string; refer?: string };
type PhoneState = { registered: boolean; registrationError?: string; incoming: number; calls: CallState[] };
type Phone = {
  state: PhoneState;
  start(c: object): void;
  dominant(frequencies: number[], ms: number): Promise<{ frequency: number; share: number }>;
  answer(): void;
  call(target: string): number;
  hold(index: number): void;
  refer(index: number, target: string, replaces?: number): void;
  hangupCall(index: number): void;
};


/** The tone a baresip phone heard over the last seconds of its last call (its decoder's dump). */
function heardLast(dir: string): number {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('-dec.wav')).sort();
  assert.ok(files.length > 0, `baresip dumped no call into ${dir}`);
  const pcm = readWav(path.join(dir, files[files.length - 1]!));
  const seconds = pcm.samples.length / pcm.rate;
  return dominantTone(slice(pcm, seconds - 2.3, seconds - 0.3), pcm.rate, [TONE_A, TONE_B, TONE_C, ...MUSIC]).frequency;
}

describe('attended transfer by a phone: REFER with Replaces (RFC 5589 section 7, RFC 3891)', () => {
  const dir = tempDir('switchboard-attended-');
  const browsers: Browser[] = [];
  const pages: Record<'a' | 'b', Page> = {} as never;
  const phones: Baresip[] = [];
  // Registered before the server's own after hook, so the phones are gone before the server stops.
  after(async () => {
    for (const browser of browsers) await browser.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const ctx = useTestServer('pglite', { rtpengine: 'auto' });
  const ext: Record<'a' | 'b' | 'c', Ext> = {} as never;
  const events: Array<{ name: string; e: Record<string, unknown> }> = [];
  const uri = (e: Ext) => `sip:${e.number}@pbx.test`;
  /** A browser's phone, driven from here. */
  const browserPhone = (key: 'a' | 'b') => {
    const w = () => pages[key];
    return {
      state: () => w().evaluate(() => (window as unknown as { phone: Phone }).phone.state),
      answer: () => w().evaluate(() => (window as unknown as { phone: Phone }).phone.answer()),
      call: (target: string) => w().evaluate((t) => (window as unknown as { phone: Phone }).phone.call(t), target),
      hold: (index: number) => w().evaluate((i) => (window as unknown as { phone: Phone }).phone.hold(i), index),
      refer: (index: number, target: string, replaces: number) =>
        w().evaluate(([i, t, r]) => (window as unknown as { phone: Phone }).phone.refer(i, t, r), [index, target, replaces] as const),
      hangup: (index: number) => w().evaluate((i) => (window as unknown as { phone: Phone }).phone.hangupCall(i), index),
      dominant: (ms: number) => w().evaluate(([f, m]) => (window as unknown as { phone: Phone }).phone.dominant(f, m), [[TONE_A, TONE_B, TONE_C, ...MUSIC], ms] as [number[], number]),
    };
  };
  const a = browserPhone('a');
  const b = browserPhone('b');

  const phoneC = async (dumpDir: string) => {
    fs.mkdirSync(dumpDir, { recursive: true });
    const p = await Baresip.start({ user: String(ext.c.number), password: ext.c.secret, domain: 'pbx.test', proxy: `127.0.0.1:${ctx.t.server.sipPort}`, answer: 'auto', tone: TONE_C, dumpDir });
    phones.push(p);
    await until('phone C registered', () => ctx.t.server.telephony.location.lookup(ext.c.id).length, (n) => n > 0);
    return p;
  };
  const callOf = (extensionId: string) => ctx.t.server.telephony.calls.activeCalls.find((c) => c.caller.extensionId === extensionId);

  before(async () => {
    const t = ctx.t;
    for (const key of ['a', 'b', 'c'] as const) ext[key] = (await createUser(t, ctx.token, { name: `Person ${key}`, email: `${key}@example.com` })).extension as Ext;
    for (const name of ['call.transferring', 'call.transferred', 'call.ended'] as const) {
      t.server.bus.on(name, (e: DomainEvents[typeof name]) => void events.push({ name, e: e as unknown as Record<string, unknown> }));
    }
    const script = await bundle('test/browser/softphone.ts');
    const ws = `${t.server.url.replace(/^http/, 'ws')}/sip`;
    for (const [key, frequency] of [['a', TONE_A], ['b', TONE_B]] as const) {
      const microphone = path.join(dir, `microphone-${key}.wav`);
      fs.writeFileSync(microphone, wavFile(sineSamples(frequency, 60), 48_000));
      const browser = await launchChromium({ microphoneWav: microphone });
      browsers.push(browser);
      pages[key] = await openScriptPage(browser, t.server.url, '/test/softphone', script);
      await pages[key].evaluate((c) => (window as unknown as { phone: Phone }).phone.start(c), { ws, uri: uri(ext[key]), password: ext[key].secret });
      const registered = await until(`browser ${key} registers`, browserPhone(key).state, (s) => s.registered || s.registrationError !== undefined);
      assert.equal(registered.registrationError, undefined);
    }
  });

  afterEach(async () => {
    await Promise.all(phones.splice(0).map((p) => p.stop()));
    await until('phone C gone', () => ctx.t.server.telephony.location.lookup(ext.c.id).length, (n) => n === 0);
    await until('every call ended', () => ctx.t.server.telephony.calls.activeCalls.length, (n) => n === 0);
  });

  /** A calls B, who answers; answers both browsers' indexes of that call and the PBX's call. */
  const aCallsB = async () => {
    const [fromA, toB] = [(await a.state()).calls.length, (await b.state()).calls.length];
    await a.call(uri(ext.b));
    await until('B rings', b.state, (s) => s.calls.length > toB);
    await b.answer();
    await until('B answered', b.state, (s) => s.calls[toB]?.established === true);
    await until('A is connected', a.state, (s) => s.calls[fromA]?.established === true);
    return { a: fromA, index: toB, call: callOf(ext.a.id)! };
  };

  /** B holds A by re-INVITE, then calls C, who answers. */
  const holdAndConsult = async (first: { index: number; call: { holding: Set<string> } }, c: Baresip) => {
    await b.hold(first.index);
    await until('A is held by B', () => first.call.holding.has('callee'), (x) => x === true);
    const second = await b.call(uri(ext.c));
    await until('C answered B', b.state, (s) => s.calls[second]?.established === true);
    await c.waitFor('CALL_ESTABLISHED');
    return second;
  };

  for (const variant of ['took', 'placed'] as const) {
    it(`the phone sends REFER in the call it ${variant}, Replaces naming the other: it is let go from both, and A and C hear each other`, async () => {
      const dirC = path.join(dir, `${variant}-c`);
      const c = await phoneC(dirC);
      const first = await aCallsB();
      const second = await holdAndConsult(first, c);
      const consultation = callOf(ext.b.id)!;
      await sleep(1000);
      const seen = events.length;

      const [referIn, replaces, target] = variant === 'took' ? [first.index, second, ext.c] : [second, first.index, ext.a];
      await b.refer(referIn, uri(target), replaces);
      const outcome = await until('the REFER is answered', b.state, (s) => s.calls[referIn]?.refer !== 'sent');
      assert.equal(outcome.calls[referIn]?.refer, 'accepted', 'the REFER was accepted and the NOTIFY said 200');
      await until('B is let go from both calls', b.state, (s) => s.calls[first.index]?.ended !== undefined && s.calls[second]?.ended !== undefined);
      await until('the placed call ended', () => ctx.t.server.telephony.calls.find(consultation.id), (x) => x === undefined);
      await until('C is on A\'s call', () => ctx.t.server.telephony.calls.find(first.call.id)?.callee?.extensionId, (x) => x === ext.c.id);
      await until('the transfer is told', () => events.slice(seen).some((x) => x.name === 'call.transferred'), (x) => x);

      await sleep(800);
      const joined = await a.dominant(2500);
      c.command('hangup');
      await until('A sees the end', a.state, (s) => s.calls[first.a]?.ended !== undefined);
      await until('every call ended', () => ctx.t.server.telephony.calls.activeCalls.length, (n) => n === 0);

      assert.equal(joined.frequency, TONE_C, `A hears C (${joined.frequency} Hz)`);
      assert.ok(joined.share > 0.5, `clearly (${joined.share.toFixed(2)} of the power)`);
      assert.equal(heardLast(dirC), TONE_A, 'and C hears A');
      const later = events.slice(seen);
      const transferring = later.find((x) => x.name === 'call.transferring')?.e;
      assert.deepEqual(
        { callId: transferring?.callId, from: transferring?.fromExtensionId, to: transferring?.toExtensionId, attended: transferring?.attended },
        { callId: first.call.id, from: ext.b.id, to: ext.c.id, attended: true },
      );
      const transferred = later.find((x) => x.name === 'call.transferred')?.e;
      assert.deepEqual({ callId: transferred?.callId, to: transferred?.toExtensionId }, { callId: first.call.id, to: ext.c.id });
      const ends = later.filter((x) => x.name === 'call.ended').map((x) => [x.e.callId, x.e.cause]);
      assert.deepEqual(ends, [[consultation.id, 'transferred'], [first.call.id, 'callee-hangup']], 'the placed call ends as transferred, before A\'s call ends');
    });
  }

  it('refusals: Replaces naming a call that ended fails in the NOTIFY (481), two calls the phone took is 501; the calls go on', async () => {
    const c = await phoneC(path.join(dir, 'refused-c'));
    const first = await aCallsB();
    const second = await holdAndConsult(first, c);
    c.command('hangup');
    await until('B\'s call with C ended', b.state, (s) => s.calls[second]?.ended !== undefined);
    await b.refer(first.index, uri(ext.c), second);
    const gone = await until('the REFER is answered', b.state, (s) => !['sent', 'accepted'].includes(s.calls[first.index]?.refer ?? 'sent'));
    assert.equal(gone.calls[first.index]?.refer, 'failed 481', 'accepted, then the NOTIFY said 481');
    assert.equal((await b.state()).calls[first.index]?.ended, undefined, 'B keeps its call with A');
    assert.equal(ctx.t.server.telephony.calls.find(first.call.id)?.callee?.extensionId, ext.b.id, 'A is still with B');

    // C calls B too, which answers: both calls were taken by the phone.
    const before = (await b.state()).calls.length;
    c.command('dial', uri(ext.b));
    await until('B rings again', b.state, (s) => s.calls.length > before);
    await b.answer();
    await until('B answered C', b.state, (s) => s.calls[before]?.established === true);
    await b.refer(first.index, uri(ext.c), before);
    const taken = await until('the REFER is answered', b.state, (s) => !['sent', 'failed 481'].includes(s.calls[first.index]?.refer ?? 'sent'));
    assert.equal(taken.calls[first.index]?.refer, 'refused 501');
    assert.equal(ctx.t.server.telephony.calls.find(first.call.id)?.callee?.extensionId, ext.b.id, 'A is still with B');
    await b.hangup(first.index);
    await b.hangup(before);
  });
});
