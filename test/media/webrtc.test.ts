// A browser and a desk phone hear each other through the relay: a JsSIP softphone in headless Chromium (its
// microphone a WAV file with a 700 Hz tone) registers over SIP over WebSocket and calls a baresip phone on UDP that
// sends 1300 Hz; then the baresip phone calls the browser, which answers. rtpengine turns the browser's
// UDP/TLS/RTP/SAVPF (ICE, DTLS-SRTP) into the phone's RTP/AVP and back. Each direction is shown by the side that
// receives it: WebRTC's own statistics in the browser (packets and audio energy received), and the tone that
// dominates what baresip heard.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { wavFile } from '../../src/media/index.ts';
import { dominantTone, readWav, sineSamples, slice } from '../support/audio.ts';
import { Baresip } from '../support/baresip.ts';
import { bundle, launchChromium, openScriptPage, tempDir } from '../support/browser.ts';
import { createUser, type TestServer, useTestServer } from '../support/server.ts';
import { sleep, until } from '../support/wait.ts';

const BROWSER_TONE = 700;
const PHONE_TONE = 1300;

type Ext = { id: string; number: number; secret: string };
type Stats = { packetsReceived: number; totalAudioEnergy: number; audioLevel: number; packetsSent: number; codec?: string };
type PhoneState = { registered: boolean; registrationError?: string; incoming: number; established: boolean; ended?: string; failed?: string };



/** What the baresip phone heard in its `n`th call (its sndfile dumps are named by the time each call began). */
function heard(dir: string, n: number) {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('-dec.wav')).sort();
  const file = files[n];
  assert.ok(file, `no dump of call ${n + 1} in ${files.join(', ')}`);
  return readWav(path.join(dir, file));
}

describe('a browser (JsSIP in Chromium) and a baresip phone talk through the relay', () => {
  const dir = tempDir('switchboard-webrtc-');
  let browser: Browser | undefined;
  let page: Page;
  let phone: Baresip | undefined;
  // Registered before the server's own after hook, so the phones are gone before the server stops.
  after(async () => {
    await browser?.close();
    await phone?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const ctx = useTestServer('pglite', { rtpengine: 'auto' });
  let browserExt: Ext;
  let phoneExt: Ext;
  const state = () => page.evaluate(() => (window as unknown as { phone: { state: PhoneState } }).phone.state);
  const stats = () => page.evaluate(() => (window as unknown as { phone: { stats(): Promise<Stats> } }).phone.stats());

  before(async () => {
    const t: TestServer = ctx.t;
    const ext = async (name: string) => (await createUser(t, ctx.token, { name, email: `${name.replace(/\W/g, '').toLowerCase()}@example.com` })).extension as Ext;
    [browserExt, phoneExt] = [await ext('Browser Agent'), await ext('Desk Phone')];
    const microphone = path.join(dir, 'microphone.wav');
    fs.writeFileSync(microphone, wavFile(sineSamples(BROWSER_TONE, 30), 48_000));
    fs.mkdirSync(path.join(dir, 'phone'));
    phone = await Baresip.start({ user: String(phoneExt.number), password: phoneExt.secret, domain: 'pbx.test', proxy: `127.0.0.1:${t.server.sipPort}`, answer: 'auto', tone: PHONE_TONE, dumpDir: path.join(dir, 'phone') });
    browser = await launchChromium({ microphoneWav: microphone });
    page = await openScriptPage(browser, t.server.url, '/test/softphone', await bundle('test/browser/softphone.ts'));
    const ws = `${t.server.url.replace(/^http/, 'ws')}/sip`;
    await page.evaluate((c) => (window as unknown as { phone: { start(c: object): void } }).phone.start(c), { ws, uri: `sip:${browserExt.number}@pbx.test`, password: browserExt.secret });
    await until('the browser registers', state, (s) => s.registered || s.registrationError !== undefined);
    assert.equal((await state()).registrationError, undefined);
    const location = t.server.telephony.location;
    for (let i = 0; i < 250 && location.lookup(phoneExt.id).length === 0; i++) await sleep(20);
    assert.equal(location.lookup(browserExt.id)[0]?.transport, 'WS');
  });

  it('the browser calls the phone: each hears the other', async () => {
    await page.evaluate((target) => (window as unknown as { phone: { call(t: string): void } }).phone.call(target), `sip:${phoneExt.number}@pbx.test`);
    await until('the call is established in the browser', state, (s) => s.established || s.failed !== undefined);
    assert.equal((await state()).failed, undefined);
    const hangup = () => page.evaluate(() => (window as unknown as { phone: { hangup(): void } }).phone.hangup());
    try {
      await (phone as Baresip).waitFor('CALL_ESTABLISHED');
      // Sent and received are read at one moment, so the sent count is near the received one, not above it.
      const received = await until('the browser receives audio', stats, (s) => s.packetsReceived > 100 && s.totalAudioEnergy > 0);
      assert.ok(received.packetsSent > 50, `the browser sends (${received.packetsSent} packets)`);
      await sleep(1000);
    } finally {
      // A failure above must not leave the call up for the next test.
      await hangup();
    }
    await (phone as Baresip).waitFor('CALL_CLOSED');
    await until('the relay released the call', () => ctx.t.server.media.plane.sessions(), (s) => s.length === 0);
    const audio = heard(path.join(dir, 'phone'), 0);
    const dominant = dominantTone(slice(audio, 0.5, audio.samples.length / audio.rate - 0.2), audio.rate, [BROWSER_TONE, PHONE_TONE, 440, 1000]);
    assert.equal(dominant.frequency, BROWSER_TONE, 'the phone hears the browser\'s microphone');
    assert.ok(dominant.ratio > 10, `clearly (ratio ${dominant.ratio.toFixed(1)})`);
  });

  it('the phone calls the browser, which answers: each hears the other', async () => {
    const before = (await state()).incoming;
    (phone as Baresip).command('dial', `sip:${browserExt.number}@pbx.test`);
    await until('the browser rings', state, (s) => s.incoming > before);
    await page.evaluate(() => (window as unknown as { phone: { answer(): void } }).phone.answer());
    await until('the call is established in the browser', state, (s) => s.established || s.failed !== undefined);
    assert.equal((await state()).failed, undefined);
    await until('the browser receives audio', stats, (s) => s.packetsReceived > 100 && s.totalAudioEnergy > 0);
    await sleep(1000);
    (phone as Baresip).command('hangup');
    await until('the browser sees the end', state, (s) => s.ended !== undefined);
    await until('the relay released the call', () => ctx.t.server.media.plane.sessions(), (s) => s.length === 0);
    await sleep(300);
    const audio = heard(path.join(dir, 'phone'), 1);
    const dominant = dominantTone(slice(audio, 0.5, audio.samples.length / audio.rate - 0.2), audio.rate, [BROWSER_TONE, PHONE_TONE, 440, 1000]);
    assert.equal(dominant.frequency, BROWSER_TONE, 'the phone hears the browser\'s microphone');
  });
});
