// A trunk's DTMF mode and a queue's caller ID on calls through carriers, with sipp as the carriers and phones and
// real RTP through rtpengine. `info`: a phone's RFC 4733 digit reaches the carrier as SIP INFO (and not as events),
// and the carrier's INFO digit reaches the phone as RFC 4733 events. `inband`: a phone's digit reaches the carrier
// as DTMF tones in its audio, on a call from a carrier whose own offer named telephone-event and on a call out
// (where the carrier is offered none, and the relay must transcode to put the events into the audio). A queue's
// fallback to a number outside presents the queue's caller ID.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CALL_ID_PREFIX } from '../../src/media/index.ts';
import type { NgClient } from '../../src/media/rtpengine/ng-client.ts';
import { tonePower } from '../support/audio.ts';
import { agent, answered, CALLER_HANGS_UP, callee, caller, carrierCaller, type Ext, registerAt, WAIT_FOR_BYE } from '../support/calls.ts';
import { freePort } from '../support/process.ts';
import { RtpSink } from '../support/rtp.ts';
import { type TestServer, useTestServer } from '../support/server.ts';
import { authField, runSipp } from '../support/sipp.ts';
import { until } from '../support/wait.ts';

/** The telephone-event payload type the carriers' sipp scenarios offer. */
const CARRIER_EVENT_PT = 101;

async function post(t: TestServer, token: string, url: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await t.request('POST', url, { token, body });
  assert.ok(res.statusCode < 300, `${url}: ${res.statusCode} ${res.body}`);
  return res.json() as Record<string, unknown>;
}

/** An IP trunk whose carrier calls from `from` and takes calls on 127.0.0.1:`port`. */
async function ipTrunk(t: TestServer, token: string, name: string, port: number, from: string[], extra: Record<string, unknown> = {}): Promise<string> {
  return (await post(t, token, '/api/pbx/trunks', { name, auth: 'ip', servers: [{ host: '127.0.0.1', port }], allowedAddresses: from, keepaliveSeconds: 0, ...extra })).id as string;
}

/**
 * Points each RTP endpoint at the relay port of its own side of the call (rtpengine's `query`: the port each party
 * sends to), so both can send before they received anything.
 */
async function aimAtRelay(t: TestServer, callId: string, sinks: RtpSink[]): Promise<void> {
  const client = (t.server.media.plane as unknown as { client: NgClient }).client;
  const reply = await client.request('query', { 'call-id': `${CALL_ID_PREFIX}${callId}` });
  type Stream = { 'local port'?: number; 'advertised endpoint'?: { port?: number }; endpoint?: { port?: number } };
  const tags = reply.tags as Record<string, { medias?: Array<{ streams?: Stream[] }> }>;
  for (const monologue of Object.values(tags)) {
    for (const stream of monologue.medias?.flatMap((m) => m.streams ?? []) ?? []) {
      const own = stream['advertised endpoint']?.port ?? stream.endpoint?.port;
      const sink = sinks.find((s) => s.port === own);
      if (sink && stream['local port'] !== undefined) sink.source ??= { address: '127.0.0.1', port: stream['local port'] };
    }
  }
  for (const sink of sinks) assert.ok(sink.source, `the relay holds a side for the endpoint on port ${sink.port}: ${JSON.stringify(reply.tags)}`);
}

/** The DTMF events (RFC 4733 event codes) among the packets an endpoint received under payload type `pt`. */
function events(sink: RtpSink, pt: number): number[] {
  return sink.packets.filter((p) => p.payloadType === pt).map((p) => p.payload[0] as number);
}

interface DtmfPhone {
  ext: Ext;
  run: ReturnType<typeof runSipp>;
  /** The telephone-event payload type the PBX offered the phone, which it took (read from its log as it runs). */
  eventPt(): Promise<number>;
  /** Removes the phone's log. */
  dispose(): void;
}

/** An extension whose phone is a sipp callee that takes telephone-event, its media at `sink`. */
async function dtmfPhone(t: TestServer, token: string, name: string, sink: RtpSink): Promise<DtmfPhone> {
  const ext = await agent(t, token, name);
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-dtmf-phone-'));
  const logFile = path.join(dir, 'phone.log');
  const run = callee('uas-phone-dtmf.xml', port, { MEDIA_PORT: String(sink.port), HANGUP_STEPS: WAIT_FOR_BYE, RING: '100' }, { logFile });
  await registerAt(t, ext, port);
  const logged = () => (fs.existsSync(logFile) ? /telephone-event (\d+)/.exec(fs.readFileSync(logFile, 'utf8'))?.[1] : undefined);
  return {
    ext,
    run,
    eventPt: async () => Number(await until('the phone is offered telephone-event', logged, (v) => v !== undefined)),
    dispose: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * What a carrier that takes tones only got while a phone pressed 5 (`key`): PCMU only, no telephone-event, and in
 * its decoded audio (Goertzel) the row and column tones of 5, 770 Hz and 1336 Hz, the strongest of their kind
 * while the key was down and not there before.
 */
function assertHeardFive(carrierMedia: RtpSink, key: { pressed: number; released: number }): void {
  const types = [...new Set(carrierMedia.packets.map((p) => p.payloadType))];
  assert.deepEqual(types, [0], 'the carrier gets PCMU only: no telephone-event');
  const during = carrierMedia.pcmu(key.pressed, key.released + 100);
  const before = carrierMedia.pcmu(key.pressed - 400, key.pressed - 100);
  const power = (x: Float32Array, frequencies: number[]) => frequencies.map((f) => Math.round(tonePower(x, 8000, f) * 1e9));
  const strongest = (x: Float32Array, frequencies: number[]) => frequencies[power(x, frequencies).reduce((best, p, i, all) => (p > (all[best] as number) ? i : best), 0)];
  const [rows, columns] = [[697, 770, 852, 941], [1209, 1336, 1477]];
  const heard = `rows ${rows.join('/')} Hz: ${power(during, rows).join(' ')}, columns ${columns.join('/')} Hz: ${power(during, columns).join(' ')}; before the key: ${power(before, rows).join(' ')} and ${power(before, columns).join(' ')}`;
  assert.equal(strongest(during, rows), 770, `the carrier hears the row tone of 5 while the key is down (${heard})`);
  assert.equal(strongest(during, columns), 1336, `the carrier hears the column tone of 5 while the key is down (${heard})`);
  const five = (x: Float32Array) => Math.min(tonePower(x, 8000, 770), tonePower(x, 8000, 1336));
  assert.ok(five(during) > 20 * five(before), `and not before it (${heard})`);
}

describe('a trunk\'s DTMF mode, through the relay (rtpengine)', () => {
  const ctx = useTestServer('pglite', { rtpengine: 'auto' });

  it('info: the phone\'s RFC 4733 digit reaches the carrier as SIP INFO (application/dtmf-relay) and not as events; the carrier\'s INFO digit reaches the phone as RFC 4733 events, reported once', async () => {
    const [phoneMedia, carrierMedia] = [await RtpSink.open(), await RtpSink.open('127.0.0.5')];
    try {
      const phone = await dtmfPhone(ctx.t, ctx.token, 'Info Dtmf Phone', phoneMedia);
      await ipTrunk(ctx.t, ctx.token, 'Info Carrier', await freePort(), ['127.0.0.5'], { dtmfMode: 'info' });
      await post(ctx.t, ctx.token, '/api/pbx/numbers', { number: '+14155550161', destination: { type: 'extension', number: phone.ext.number } });
      let callId: string | undefined;
      const digits: string[] = [];
      const offAnswered = ctx.t.server.bus.on('call.answered', (e) => void (callId ??= e.callId));
      const offDtmf = ctx.t.server.bus.on('call.dtmf', (e) => void digits.push(`${e.side}:${e.digit}:${e.via}`));
      const host = '127.0.0.1';
      const carrier = runSipp({
        scenario: 'uac-carrier-dtmf.xml',
        target: `${host}:${ctx.t.server.sipPort}`,
        localIp: '127.0.0.5',
        rows: [['+12125550161', '', '+14155550161']],
        vars: { domain: `${host}:${ctx.t.server.sipPort}` },
        substitute: { MEDIA_PORT: String(carrierMedia.port), DIGIT: '7', TALK: '300' },
        timeoutSeconds: 25,
      });
      try {
        const id = await Promise.race([until('the call is answered', () => callId, (v) => v !== undefined), carrier.then((r) => assert.fail(`the carrier ended first: ${r.errors || r.output}`))]);
        const phonePt = await phone.eventPt();
        await aimAtRelay(ctx.t, id as string, [phoneMedia, carrierMedia]);
        const audio = Promise.all([phoneMedia.sendTone(700, 2), carrierMedia.sendTone(1000, 2)]);
        await phoneMedia.sendDtmf('5', phonePt);
        // The carrier answers the PBX's INFO, then sends its own digit: the relay plays it to the phone.
        await until('the phone receives the carrier\'s digit as events', () => events(phoneMedia, phonePt), (e) => e.includes(7));
        await audio;
        const run = await carrier;
        assert.equal(run.code, 0, run.errors || run.output);
        assert.match(run.log, /info Signal=5 Duration=\d+ type\s+application\/dtmf-relay/, run.log);
        assert.deepEqual(events(carrierMedia, CARRIER_EVENT_PT), [], 'the phone\'s events stop at the relay: the carrier gets the digit once, by INFO');
        assert.deepEqual([...new Set(carrierMedia.packets.map((p) => p.payloadType))], [0], 'the carrier gets audio only');
        await until('both digits are reported', () => digits, (d) => d.length >= 2);
        assert.deepEqual(digits, ['callee:5:rfc4733', 'caller:7:info'], 'each digit once, the played one not again as an event');
        const phoneRun = await phone.run;
        assert.equal(phoneRun.code, 0, phoneRun.errors || phoneRun.output);
      } finally {
        offAnswered();
        offDtmf();
        await carrier;
        phone.dispose();
      }
    } finally {
      phoneMedia.close();
      carrierMedia.close();
    }
  });

  it('inband: the phone\'s RFC 4733 digit reaches the carrier as DTMF tones (770 Hz and 1336 Hz for 5), and no telephone-event is sent to it', async () => {
    const [phoneMedia, carrierMedia] = [await RtpSink.open(), await RtpSink.open('127.0.0.6')];
    try {
      const phone = await dtmfPhone(ctx.t, ctx.token, 'Inband Dtmf Phone', phoneMedia);
      await ipTrunk(ctx.t, ctx.token, 'Inband Carrier', await freePort(), ['127.0.0.6'], { dtmfMode: 'inband' });
      await post(ctx.t, ctx.token, '/api/pbx/numbers', { number: '+14155550162', destination: { type: 'extension', number: phone.ext.number } });
      let callId: string | undefined;
      const offAnswered = ctx.t.server.bus.on('call.answered', (e) => void (callId ??= e.callId));
      const carrier = carrierCaller(ctx.t, '127.0.0.6', '+12125550162', '+14155550162', answered(CALLER_HANGS_UP), { talk: 2500, mediaPort: carrierMedia.port });
      try {
        const id = await until('the call is answered', () => callId, (v) => v !== undefined);
        const phonePt = await phone.eventPt();
        await aimAtRelay(ctx.t, id as string, [phoneMedia, carrierMedia]);
        // The phone talks (440 Hz, away from every DTMF frequency) and presses 5 in the same stream, as phones do.
        const [key] = await Promise.all([phoneMedia.sendToneWithDigit(440, 1.5, { digit: '5', payloadType: phonePt, atSeconds: 0.6 }), carrierMedia.sendTone(1000, 1.5)]);
        assertHeardFive(carrierMedia, key);
        const run = await carrier;
        assert.equal(run.code, 0, run.errors || run.output);
        const phoneRun = await phone.run;
        assert.equal(phoneRun.code, 0, phoneRun.errors || phoneRun.output);
      } finally {
        offAnswered();
        await carrier;
        phone.dispose();
      }
    } finally {
      phoneMedia.close();
      carrierMedia.close();
    }
  });
});

describe('a trunk\'s DTMF mode on calls out, through the relay (rtpengine)', () => {
  const ctx = useTestServer('pglite', { rtpengine: 'auto' });

  it('inband, a phone calling out: the carrier is offered no telephone-event, and the phone\'s RFC 4733 digit reaches it as DTMF tones', async () => {
    const [phoneMedia, carrierMedia] = [await RtpSink.open(), await RtpSink.open()];
    try {
      const a = await agent(ctx.t, ctx.token, 'Inband Dtmf Caller');
      const port = await freePort();
      const far = callee('uas-carrier.xml', port, { CHALLENGE: '', VERIFY: '', MEDIA_PORT: String(carrierMedia.port), HANGUP_STEPS: WAIT_FOR_BYE, RING: '100' });
      const trunk = await ipTrunk(ctx.t, ctx.token, 'Inband Carrier Out', port, [], { dtmfMode: 'inband' });
      await post(ctx.t, ctx.token, '/api/pbx/outbound-routes', { name: 'Inband out', patterns: ['_1555000718X'], trunkIds: [trunk], callerId: '+14155550100', priority: 0 });
      let callId: string | undefined;
      const offAnswered = ctx.t.server.bus.on('call.answered', (e) => void (callId ??= e.callId));
      const host = '127.0.0.1';
      const phone = runSipp({
        scenario: 'uac-phone-dtmf.xml',
        target: `${host}:${ctx.t.server.sipPort}`,
        localIp: host,
        rows: [[String(a.number), authField(String(a.number), a.secret), '15550007181']],
        vars: { domain: 'pbx.test' },
        substitute: { OUTCOME: answered(CALLER_HANGS_UP), TALK: '2500', MEDIA_PORT: String(phoneMedia.port) },
        timeoutSeconds: 25,
      });
      try {
        const id = await Promise.race([until('the call is answered', () => callId, (v) => v !== undefined), phone.then((r) => assert.fail(`the phone ended first: ${r.errors || r.output}`))]);
        await aimAtRelay(ctx.t, id as string, [phoneMedia, carrierMedia]);
        // The phone offered telephone-event as 101 and sends its events under it.
        const [key] = await Promise.all([phoneMedia.sendToneWithDigit(440, 1.5, { digit: '5', payloadType: 101, atSeconds: 0.6 }), carrierMedia.sendTone(1000, 1.5)]);
        assertHeardFive(carrierMedia, key);
        const run = await phone;
        assert.equal(run.code, 0, run.errors || run.output);
        const took = await far;
        assert.equal(took.code, 0, took.errors || took.output);
        const offered = /payloads ([0-9 ]+)/.exec(took.log)?.[1]?.trim().split(' ').map(Number) ?? [];
        assert.ok(offered.includes(0) && offered.every((pt) => pt < 96), `the carrier is offered G.711 and no dynamic payload type, so no telephone-event: ${took.log}`);
      } finally {
        offAnswered();
        await phone;
        await far;
      }
    } finally {
      phoneMedia.close();
      carrierMedia.close();
    }
  });
});

describe('a queue\'s caller ID on its calls out', () => {
  const ctx = useTestServer('pglite');

  it('a queue\'s fallback to a number outside presents the queue\'s caller ID in From and P-Asserted-Identity, before the route\'s', async () => {
    const a = await agent(ctx.t, ctx.token, 'Queue Caller Id Caller');
    const port = await freePort();
    const far = callee('uas-carrier.xml', port, { CHALLENGE: '', VERIFY: '' });
    const trunk = await ipTrunk(ctx.t, ctx.token, 'Queue Caller Id Carrier', port, []);
    await post(ctx.t, ctx.token, '/api/pbx/outbound-routes', { name: 'Queue overflow', patterns: ['_+1555000717X'], trunkIds: [trunk], callerId: '+14155550100', priority: 0 });
    const queue = await post(ctx.t, ctx.token, '/api/pbx/queues', { name: 'Presenting', number: '2317', maxWait: 1, joinWhenEmpty: 'yes', fallback: { type: 'external', target: '+15550007171' } });
    const set = await ctx.t.request('PATCH', `/api/pbx/queues/${queue.id as string}/caller-id`, { token: ctx.token, body: { callerId: '+14155550177' } });
    assert.equal(set.statusCode, 200, set.body);
    const uac = await caller(ctx.t, a, 2317, answered(CALLER_HANGS_UP));
    assert.equal(uac.code, 0, uac.errors || uac.output);
    const took = await far;
    assert.equal(took.code, 0, took.errors || took.output);
    assert.match(took.log, /dialled \+15550007171 /);
    assert.match(took.log, /from\s+<sip:\+14155550177@127\.0\.0\.1>/, took.log);
    assert.match(took.log, /pai\s+<sip:\+14155550177@127\.0\.0\.1>/, took.log);
  });
});
