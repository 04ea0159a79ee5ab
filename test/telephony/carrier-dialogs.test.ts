// Dialogs with a carrier that go beyond a plain call, with sipp as the carriers and the phones:
// - session timers (RFC 4028) on a trunk's dialog: a carrier that grants an interval with refresher=uac makes the PBX
//   its refresher (it sends UPDATE at half the interval, and the call outlives the interval); a carrier calling in
//   that refreshes the session itself keeps its call alive past the interval;
// - early media (RFC 3261 section 13.2.1, RFC 3960): a carrier's 183 with SDP reaches the phone that called out as a
//   183 with SDP before the 200, with direct media and through the relay;
// - attended transfer to a number outside (RFC 5589's transferor, transferee and target, through the API): the
//   party who answered consults the carrier while the caller holds, completes, and is let go; the carrier is the
//   caller's party from then on, and its BYE ends the caller's side; a consulted carrier that granted a session
//   timer is refreshed by the PBX while consulted and after, so its session does not lapse once it is transferred.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DomainEvents } from '../../src/events/index.ts';
import { agent, answered, CALLEE_HANGS_UP, CALLER_HANGS_UP, callee, caller, type Ext, registerAt, WAIT_FOR_BYE } from '../support/calls.ts';
import { freePort } from '../support/process.ts';
import { createUser, type TestServer, useTestServer } from '../support/server.ts';
import { authField, runSipp, type SippRun } from '../support/sipp.ts';
import { sleep, until } from '../support/wait.ts';

async function post(t: TestServer, token: string, url: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await t.request('POST', url, { token, body });
  assert.ok(res.statusCode < 300, `${url}: ${res.statusCode} ${res.body}`);
  return res.json() as Record<string, unknown>;
}

/** An IP-authenticated trunk whose carrier listens on 127.0.0.1:`port` and calls from `from`. */
async function ipTrunk(t: TestServer, token: string, name: string, port: number, from: string[]): Promise<string> {
  const trunk = await post(t, token, '/api/pbx/trunks', { name, auth: 'ip', servers: [{ host: '127.0.0.1', port }], allowedAddresses: from, keepaliveSeconds: 0 });
  return trunk.id as string;
}

/** A trunk to a sipp carrier on `port` and a route that sends `number` through it. */
async function routeOut(t: TestServer, token: string, name: string, port: number, number: string): Promise<void> {
  const trunk = await ipTrunk(t, token, name, port, []);
  await post(t, token, '/api/pbx/outbound-routes', { name, patterns: [number], trunkIds: [trunk], priority: 0 });
}

/** The first `name` event that `match` takes, from now on. */
function next<K extends keyof DomainEvents>(t: TestServer, name: K, match: (e: DomainEvents[K]) => boolean = () => true): Promise<DomainEvents[K]> {
  return new Promise((resolve) => {
    const off = t.server.bus.on(name, (e: DomainEvents[K]) => {
      if (!match(e)) return;
      off();
      resolve(e);
    });
  });
}

/** A phone's call (as `caller` in test/support/calls.ts) that answers the PBX's in-dialog OPTIONS probes (-aa). */
function phoneCall(t: TestServer, from: Ext, dialled: string | number, outcome: string): Promise<SippRun> {
  return runSipp({
    scenario: 'uac-call.xml',
    target: `127.0.0.1:${t.server.sipPort}`,
    rows: [[String(from.number), authField(String(from.number), from.secret), String(dialled)]],
    vars: { domain: 'pbx.test' },
    substitute: { OUTCOME: outcome, TALK: '300' },
    timeoutSeconds: 40,
    extra: ['-aa'],
  });
}

function ok(run: SippRun, what = ''): void {
  assert.equal(run.code, 0, `${what}${run.errors || run.output}`);
}

/** The carrier answers the PBX's session refresh (rfc4028#section-10): an UPDATE it logs, 200 with the interval. */
function answerRefresh(interval: number): string {
  return `
  <recv request="UPDATE">
    <action>
      <ereg regexp="[^\\r\\n]*" search_in="hdr" header="Session-Expires:" check_it="true" assign_to="refresh" />
      <log message="refreshed by UPDATE Session-Expires:[$refresh]" />
    </action>
  </recv>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:carrier@[local_ip]:[local_port];transport=[transport]>
      Supported: timer
      Session-Expires: ${interval};refresher=uac
      Require: timer
      Content-Length: 0

    ]]>
  </send>`;
}

/**
 * The carrier calling in refreshes its own session (it is the refresher, rfc4028#section-10): every `everyMs` (less
 * than the interval's expiry, as the RFC's half) an UPDATE without a body, whose 2xx grants the interval again.
 */
function refreshByUpdate(cseq: number, interval: number, everyMs: number): string {
  return `
  <pause milliseconds="${everyMs}" />
  <send retrans="500">
    <![CDATA[
      UPDATE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "Caller [field0]" <sip:[field0]@[$domain]>;tag=[pid]SIPpTag09[call_number]
      To: <sip:[field2]@[$domain]>[peer_tag_param]
      [routes]
      Call-ID: [call_id]
      CSeq: ${cseq} UPDATE
      Contact: <sip:[field0]@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Supported: timer
      Session-Expires: ${interval};refresher=uac
      Content-Length: 0

    ]]>
  </send>
  <recv response="200">
    <action>
      <ereg regexp="[^\\r\\n]*" search_in="hdr" header="Session-Expires:" check_it="true" assign_to="regranted" />
      <log message="refresh granted Session-Expires:[$regranted]" />
    </action>
  </recv>`;
}

/** The caller takes the 200 and logs the session timer it grants, then `then`. */
function answeredWithTimer(then: string): string {
  return answered(then).replace(
    '<log message="answered with sdp [$sdp] port [$calleeport]" />',
    `<log message="answered with sdp [$sdp] port [$calleeport]" />
      <ereg regexp="[^\\r\\n]*" search_in="hdr" header="Session-Expires:" check_it="true" assign_to="granted" />
      <ereg regexp="timer" search_in="hdr" header="Require:" check_it="true" assign_to="required" />
      <log message="granted Session-Expires:[$granted] Require:[$required]" />`,
  );
}

/**
 * The phone that called out takes a 183 with SDP (early media) before the 200: a 183 without a body, or a 200 first,
 * fails the scenario. The 183's media port is logged.
 */
function answeredAfterEarlyMedia(then: string): string {
  return answered(then).replace(
    '<recv response="183" optional="true" />',
    `<recv response="183">
    <action>
      <ereg regexp="m=audio ([0-9]+)" search_in="body" check_it="true" assign_to="early,earlyport" />
      <log message="early media [$early] port [$earlyport]" />
    </action>
  </recv>`,
  );
}

describe('session timers (RFC 4028) on a carrier\'s dialogs', () => {
  // Min-SE of 2 s (below RFC 4028's 90) keeps the intervals short; no OPTIONS probes to mix with the refreshes.
  const ctx = useTestServer('pglite', { minSessionExpiresSeconds: 2, optionsProbeSeconds: 0 });

  it('a carrier whose 2xx carries Session-Expires with refresher=uac and Require: timer makes the PBX, the UAC, the refresher: it sends UPDATE at half the interval, the carrier answers, and the call outlives the interval until the carrier hangs up', async () => {
    const t = ctx.t;
    const a = await agent(t, ctx.token, 'Timer Out Caller');
    const interval = 4;
    const port = await freePort();
    // Three refreshes, about 2 s apart, take the call past its 4 s interval; then the carrier hangs up.
    const refreshes = `${answerRefresh(interval)}${answerRefresh(interval)}${answerRefresh(interval)}`;
    const far = callee('uas-carrier-session-timer.xml', port, { SESSION_EXPIRES: `${interval};refresher=uac`, HANGUP_STEPS: `${refreshes}${CALLEE_HANGS_UP}`, TALK: '0' }, { timeoutSeconds: 40 });
    await routeOut(t, ctx.token, 'Timer Carrier', port, '15550006001');
    const ended = next(t, 'call.ended');
    const phone = await caller(t, a, '15550006001', answered(WAIT_FOR_BYE));
    ok(phone, 'the phone hears the carrier\'s BYE: ');
    const carrier = await far;
    ok(carrier);
    assert.match(carrier.log, /offered Supported:[^\n]*timer/, 'the INVITE says the PBX knows session timers (rfc4028#section-7.1)');
    assert.match(carrier.log, /Min-SE: ?2\b/, 'and names its Min-SE');
    assert.equal(carrier.log.match(/refreshed by UPDATE Session-Expires: ?4;refresher=uac/g)?.length, 3, carrier.log);
    const end = await ended;
    assert.equal(end.cause, 'callee-hangup', 'the call ended by the carrier\'s BYE, not by its session timer');
    assert.ok(end.durations.talk > interval * 1000, `the call outlived its ${interval} s interval (${end.durations.talk} ms)`);
  });

  it('a carrier calling in that asks for refresher=uac refreshes the session itself by UPDATE: each refresh is granted again, and the call outlives the interval until the carrier hangs up', async () => {
    const t = ctx.t;
    const b = await agent(t, ctx.token, 'Timer In Callee');
    await ipTrunk(t, ctx.token, 'Timer In Carrier', 5989, ['127.0.0.11']);
    await post(t, ctx.token, '/api/pbx/numbers', { number: '+14155550160', destination: { type: 'extension', number: b.number } });
    const port = await freePort();
    // The phone answers the refreshes relayed to it (-aa answers UPDATE 200).
    const phone = callee('uas-answer.xml', port, {}, { timeoutSeconds: 40, extra: ['-aa'] });
    await registerAt(t, b, port);
    const ended = next(t, 'call.ended');
    // A 6 s interval expires for the PBX after 4 s without a refresh; the carrier refreshes every 2 s, three times.
    const interval = 6;
    const refreshes = [3, 4, 5].map((cseq) => refreshByUpdate(cseq, interval, 2000)).join('');
    const hangUp = CALLER_HANGS_UP.replace('[last_To:]', 'To: <sip:[field2]@[$domain]>[peer_tag_param]').replace('CSeq: 3 BYE', 'CSeq: 6 BYE');
    const carrier = await runSipp({
      scenario: 'uac-carrier-session-timer.xml',
      target: `127.0.0.1:${t.server.sipPort}`,
      localIp: '127.0.0.11',
      rows: [['+12125550160', '', '+14155550160']],
      vars: { domain: `127.0.0.1:${t.server.sipPort}` },
      substitute: { SESSION_EXPIRES: `${interval};refresher=uac`, OUTCOME: answeredWithTimer(`${refreshes}${hangUp}`), TALK: '0' },
      timeoutSeconds: 40,
    });
    ok(carrier);
    assert.match(carrier.log, /granted Session-Expires: ?6;refresher=uac Require:timer/, 'the 2xx grants the interval, the carrier refreshing');
    assert.equal(carrier.log.match(/refresh granted Session-Expires: ?6;refresher=uac/g)?.length, 3, carrier.log);
    ok(await phone, 'the phone hears BYE: ');
    const end = await ended;
    assert.equal(end.cause, 'caller-hangup', 'the call ended by the carrier\'s BYE, not by its session timer');
    assert.ok(end.durations.talk > interval * 1000, `the call outlived its ${interval} s interval (${end.durations.talk} ms)`);
  });
});

/** A phone calls out; the carrier sends early media in a 183 before its 200. Answers both runs. */
async function earlyMediaCall(t: TestServer, token: string, name: string, number: string): Promise<{ phone: SippRun; carrier: SippRun; mediaPort: string }> {
  const a = await agent(t, token, name);
  const port = await freePort();
  const mediaPort = String(await freePort());
  const far = callee('uas-carrier-early-media.xml', port, { MEDIA_PORT: mediaPort }, { extra: ['-aa'] });
  await routeOut(t, token, `${name} Carrier`, port, number);
  const phone = await phoneCall(t, a, number, answeredAfterEarlyMedia(CALLER_HANGS_UP));
  return { phone, carrier: await far, mediaPort };
}

describe('early media from a carrier (RFC 3261 section 13.2.1, RFC 3960)', () => {
  const ctx = useTestServer('pglite', { optionsProbeSeconds: 0 });

  it('with direct media: the carrier\'s 183 Session Progress with SDP reaches the phone as a 183 with SDP, the carrier\'s media, before the 200', async () => {
    const { phone, carrier, mediaPort } = await earlyMediaCall(ctx.t, ctx.token, 'Early Direct', '15550006101');
    ok(phone);
    ok(carrier);
    assert.match(phone.log, /early media m=audio \d+ port \d+/, phone.log);
    assert.equal(/early media m=audio \d+ port (\d+)/.exec(phone.log)?.[1], mediaPort, 'the 183 names the carrier\'s media (direct media)');
  });
});

describe('through the relay (rtpengine): early media and attended transfer to a number outside', () => {
  // Probes every second tell a carrier when it became the caller's party; Min-SE of 2 s lets a carrier grant 4 s.
  const ctx = useTestServer('pglite', { rtpengine: 'auto', optionsProbeSeconds: 1, minSessionExpiresSeconds: 2 });

  it('the carrier\'s 183 Session Progress with SDP reaches the phone as a 183 with SDP, the relay\'s media, before the 200', async () => {
    const { phone, carrier, mediaPort } = await earlyMediaCall(ctx.t, ctx.token, 'Early Relayed', '15550006201');
    ok(phone);
    ok(carrier);
    const early = /early media m=audio \d+ port (\d+)/.exec(phone.log)?.[1];
    assert.ok(early, phone.log);
    assert.notEqual(early, mediaPort, 'the 183 names the relay, not the carrier');
  });

  it('the party who answered consults a number outside while the caller holds, then completes (RFC 5589\'s transferor, transferee, target): the transferor is let go, the carrier is the caller\'s party, and its BYE ends the caller\'s side', async () => {
    const t = ctx.t;
    const a = await agent(t, ctx.token, 'Attended Out Caller');
    const user = await createUser(t, ctx.token, { name: 'Attended Out Agent', email: 'attended.out.agent@example.com', password: 'agent-pass-2026' });
    const b = user.extension as Ext;
    const agentToken = await t.login('attended.out.agent@example.com', 'agent-pass-2026');
    const [bPort, farPort] = [await freePort(), await freePort()];
    // The phones answer the PBX's in-dialog OPTIONS probes (-aa). The carrier is probed only once it is a party of
    // the call (after the transfer, not while it is consulted): it answers that probe, then hangs up.
    const phoneB = callee('uas-answer.xml', bPort, {}, { timeoutSeconds: 40, extra: ['-aa'] });
    const probed = `
  <recv request="OPTIONS" />
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>`;
    const far = callee('uas-carrier.xml', farPort, { CHALLENGE: '', VERIFY: '', HANGUP_STEPS: `${probed}${CALLEE_HANGS_UP}`, TALK: '0' }, { timeoutSeconds: 40 });
    await registerAt(t, b, bPort);
    await routeOut(t, ctx.token, 'Attended Carrier', farPort, '15550006301');
    const answeredCall = next(t, 'call.answered');
    const phoneA = phoneCall(t, a, b.number, answered(WAIT_FOR_BYE));
    const { callId } = await answeredCall;
    const consulted = next(t, 'call.consulted', (e) => e.callId === callId);
    const transferred = next(t, 'call.transferred', (e) => e.callId === callId);
    const ended = next(t, 'call.ended', (e) => e.callId === callId);
    const consult = await post(t, agentToken, `/api/pbx/calls/${callId}/transfer`, { target: '1 555 000 6301', type: 'attended' });
    assert.deepEqual(consult.consultation, { target: '+15550006301', answered: false }, 'the number is consulted as the routes send it (E.164)');
    await consulted;
    assert.equal(t.server.telephony.calls.find(callId)?.holding.size, 1, 'the caller holds while the carrier is consulted');
    await post(t, agentToken, `/api/pbx/calls/${callId}/transfer/complete`);
    const done = await transferred;
    assert.equal(done.fromExtensionId, b.id);
    ok(await phoneB, 'the transferor hears BYE: ');
    const end = await ended;
    assert.equal(end.cause, 'callee-hangup', 'the carrier, the caller\'s party now, ended the call');
    ok(await phoneA, 'the caller hears BYE once the carrier hangs up: ');
    const carrier = await far;
    ok(carrier);
    assert.match(carrier.log, /dialled \+15550006301 /);
    await until('the call is gone', () => t.server.telephony.calls.find(callId), (c) => c === undefined);
  });

  it('a consulted carrier that granted a session timer with refresher=uac is refreshed by the PBX while it is consulted and after the transfer (rfc4028#section-10): the session it holds does not lapse when it becomes the caller\'s party', async () => {
    const t = ctx.t;
    const a = await agent(t, ctx.token, 'Refreshed Transfer Caller');
    const user = await createUser(t, ctx.token, { name: 'Refreshed Transfer Agent', email: 'refreshed.transfer.agent@example.com', password: 'agent-pass-2026' });
    const b = user.extension as Ext;
    const agentToken = await t.login('refreshed.transfer.agent@example.com', 'agent-pass-2026');
    const interval = 4;
    const [bPort, farPort] = [await freePort(), await freePort()];
    const phoneB = callee('uas-answer.xml', bPort, {}, { timeoutSeconds: 40, extra: ['-aa'] });
    // The carrier answers refreshes as they come until its first probe (it is the caller's party then), then one
    // more refresh, then hangs up; probes after the first are answered by -aa.
    const steps = `
  <label id="1" />
  <recv request="UPDATE" optional="true" next="2">
    <action>
      <log message="refreshed before the probe" />
    </action>
  </recv>
  <recv request="OPTIONS">
    <action>
      <log message="probed as the caller's party" />
    </action>
  </recv>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  ${answerRefresh(interval)}
  ${CALLEE_HANGS_UP}
  <nop next="3" />
  <label id="2" />
  <send next="1">
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Session-Expires: ${interval};refresher=uac
      Require: timer
      Content-Length: 0

    ]]>
  </send>
  <label id="3" />`;
    const far = callee('uas-carrier-session-timer.xml', farPort, { SESSION_EXPIRES: `${interval};refresher=uac`, HANGUP_STEPS: steps, TALK: '0' }, { timeoutSeconds: 40, extra: ['-aa'] });
    await registerAt(t, b, bPort);
    await routeOut(t, ctx.token, 'Refreshed Carrier', farPort, '15550006401');
    const answeredCall = next(t, 'call.answered');
    const phoneA = phoneCall(t, a, b.number, answered(WAIT_FOR_BYE));
    const { callId } = await answeredCall;
    const consulted = next(t, 'call.consulted', (e) => e.callId === callId);
    const ended = next(t, 'call.ended', (e) => e.callId === callId);
    await post(t, agentToken, `/api/pbx/calls/${callId}/transfer`, { target: '15550006401', type: 'attended' });
    await consulted;
    // The consultation lasts past half the interval: a refresh falls due while the carrier is only consulted.
    await sleep((interval / 2) * 1000 + 1000);
    await post(t, agentToken, `/api/pbx/calls/${callId}/transfer/complete`);
    ok(await phoneB, 'the transferor hears BYE: ');
    const carrier = await far;
    ok(carrier, 'the carrier is refreshed after the transfer: ');
    assert.match(carrier.log, /refreshed before the probe/, 'refreshed while consulted');
    assert.match(carrier.log, /probed as the caller's party\nrefreshed by UPDATE Session-Expires: ?4;refresher=uac/, carrier.log);
    assert.equal((await ended).cause, 'callee-hangup');
    ok(await phoneA, 'the caller hears BYE once the carrier hangs up: ');
  });

  it('a carrier calling in keeps refreshing its session (UPDATE without a body) while the party who answered consults someone: each refresh is granted, not refused 491, so the session never lapses under a long consultation (rfc4028#section-10)', async () => {
    const t = ctx.t;
    const user = await createUser(t, ctx.token, { name: 'Consulting Agent', email: 'consulting.agent@example.com', password: 'agent-pass-2026' });
    const b = user.extension as Ext;
    const c = await agent(t, ctx.token, 'Consulted Colleague');
    const agentToken = await t.login('consulting.agent@example.com', 'agent-pass-2026');
    await ipTrunk(t, ctx.token, 'Refreshing Carrier', 5991, ['127.0.0.12']);
    await post(t, ctx.token, '/api/pbx/numbers', { number: '+14155550170', destination: { type: 'extension', number: b.number } });
    const [bPort, cPort] = [await freePort(), await freePort()];
    const phoneB = callee('uas-answer.xml', bPort, {}, { timeoutSeconds: 40, extra: ['-aa'] });
    // The colleague only rings: the consultation lasts until the carrier hangs up, which cancels it.
    const phoneC = callee('uas-ring-until-cancel.xml', cPort, {}, { timeoutSeconds: 40 });
    await registerAt(t, b, bPort);
    await registerAt(t, c, cPort);
    const answeredCall = next(t, 'call.answered');
    // A 6 s interval expires for the PBX 4 s after a refresh; the carrier refreshes 2.5 s after the answer, then
    // every 2 s, three times in all, while the consultation (started at the answer) runs.
    const interval = 6;
    const refreshes = [refreshByUpdate(3, interval, 2500), refreshByUpdate(4, interval, 2000), refreshByUpdate(5, interval, 2000)].join('');
    const hangUp = CALLER_HANGS_UP.replace('[last_To:]', 'To: <sip:[field2]@[$domain]>[peer_tag_param]').replace('CSeq: 3 BYE', 'CSeq: 6 BYE');
    const carrier = runSipp({
      scenario: 'uac-carrier-session-timer.xml',
      target: `127.0.0.1:${t.server.sipPort}`,
      localIp: '127.0.0.12',
      rows: [['+12125550170', '', '+14155550170']],
      vars: { domain: `127.0.0.1:${t.server.sipPort}` },
      substitute: { SESSION_EXPIRES: `${interval};refresher=uac`, OUTCOME: answeredWithTimer(`${refreshes}${hangUp}`), TALK: '0' },
      timeoutSeconds: 40,
      // The PBX's in-dialog OPTIONS probes are answered as they come.
      extra: ['-aa'],
    });
    // A carrier run that ends before the answer says why instead of leaving the spec waiting.
    const { callId } = await Promise.race([answeredCall, carrier.then((r) => Promise.reject(new Error(`the carrier's call ended unanswered: ${r.errors || r.output}`)))]);
    const ended = next(t, 'call.ended', (e) => e.callId === callId);
    const consult = await post(t, agentToken, `/api/pbx/calls/${callId}/transfer`, { target: String(c.number), type: 'attended' });
    assert.deepEqual(consult.consultation, { target: String(c.number), answered: false }, 'the colleague rings: the consultation runs');
    const run = await carrier;
    ok(run, 'every refresh is answered 2xx: ');
    assert.equal(run.log.match(/refresh granted Session-Expires: ?6;refresher=uac/g)?.length, 3, run.log);
    const end = await ended;
    assert.equal(end.cause, 'caller-hangup', 'the call ended by the carrier\'s BYE, not by its session timer');
    ok(await phoneB, 'the party who consulted hears BYE: ');
    ok(await phoneC, 'the colleague still ringing is cancelled: ');
  });
});
