// Calls whose parties vanish end (the "calls never end when their parties vanish"), with sipp as phones that
// answer and then go silent, against the real server with short configured limits:
// - through the real rtpengine, a call in which nobody sends a packet is ended (both sides hear BYE) with the cause
//   media-timeout, its parties are BUSY no more and the relay's call is deleted;
// - session timers (RFC 4028): an interval below Min-SE is refused with 422 and our Min-SE; a caller that is the
//   refresher and never refreshes hears BYE, cause session-timer-expired; when the server is the refresher it
//   refreshes by UPDATE at half the interval and the call goes on while the caller answers;
// - in-dialog OPTIONS: a party that answers 481, or nothing until the transaction times out, ends the call
//   (probe-failed); a phone's own probe of a call that is gone is answered 481;
// - the tenant's longest call: reached, the call ends with max-duration.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DomainEvents } from '../../src/events/index.ts';
import { ACK_FAILURE, agent, answered, CALLER_HANGS_UP, type Ext, registerAt, WAIT_FOR_BYE } from '../support/calls.ts';
import { freePort } from '../support/process.ts';
import { type TestServer, useTestServer } from '../support/server.ts';
import { authField, runSipp, type SippRun } from '../support/sipp.ts';
import { until } from '../support/wait.ts';

/** A callee that answers (no RTP), then does `then`; `extra` are sipp options (-aa answers OPTIONS with 200). */
function silentCallee(port: number, then: string, extra: string[] = []): Promise<SippRun> {
  return runSipp({ scenario: 'uas-answer.xml', localPort: port, substitute: { RING: '100', MEDIA_PORT: '[media_port]', HANGUP_STEPS: then }, timeoutSeconds: 40, extra });
}

/** A caller that sends no RTP either. */
function silentCaller(t: TestServer, from: Ext, to: Ext, outcome: string, options: { scenario?: string; sessionExpires?: string; extra?: string[] } = {}): Promise<SippRun> {
  return runSipp({
    scenario: options.scenario ?? 'uac-call.xml',
    target: `127.0.0.1:${t.server.sipPort}`,
    rows: [[String(from.number), authField(String(from.number), from.secret), String(to.number)]],
    vars: { domain: 'pbx.test' },
    substitute: { OUTCOME: outcome, TALK: '0', SESSION_EXPIRES: options.sessionExpires ?? '' },
    timeoutSeconds: 40,
    extra: options.extra,
  });
}

/** The next call's id and its end, from the engine's events. */
function nextCall(t: TestServer): { id: Promise<string>; ended: Promise<DomainEvents['call.ended']> } {
  let offCreated = () => {};
  let offEnded = () => {};
  const id = new Promise<string>((resolve) => {
    offCreated = t.server.bus.on('call.created', (e) => {
      offCreated();
      resolve(e.callId);
    });
  });
  const ended = id.then(
    (callId) =>
      new Promise<DomainEvents['call.ended']>((resolve) => {
        offEnded = t.server.bus.on('call.ended', (e) => {
          if (e.callId !== callId) return;
          offEnded();
          resolve(e);
        });
      }),
  );
  return { id, ended };
}

async function sessionOf(t: TestServer, token: string, callId: string): Promise<{ status: string; endCause: string | null }> {
  return until(
    'the session is closed',
    async () => (await t.request('GET', `/api/pbx/calls/sessions/${callId}`, { token })).json() as { status: string; endCause: string | null; endedAt: string | null },
    (s) => s.endedAt !== null && s.endedAt !== undefined,
  );
}

/** The caller takes the 200 and reads the session timer it grants, then `then`. */
function answeredWithTimer(then: string): string {
  return answered(then).replace(
    '<log message="answered with sdp [$sdp] port [$calleeport]" />',
    `<log message="answered with sdp [$sdp] port [$calleeport]" />
      <ereg regexp="[^\\r\\n]*" search_in="hdr" header="Session-Expires:" check_it="true" assign_to="granted" />
      <ereg regexp="timer" search_in="hdr" header="Require:" check_it="true" assign_to="required" />
      <log message="granted Session-Expires:[$granted] Require:[$required]" />`,
  );
}

/** The caller sends a DTMF digit by INFO (relayed across): a request that is no session refresh. */
const CALLER_SENDS_INFO = `
  <send retrans="500">
    <![CDATA[
      INFO [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "Caller [field0]" <sip:[field0]@[$domain]>;tag=[pid]SIPpTag09[call_number]
      To: <sip:[field2]@[$domain]>[peer_tag_param]
      [routes]
      Call-ID: [call_id]
      CSeq: 3 INFO
      Max-Forwards: 70
      Content-Type: application/dtmf-relay
      Content-Length: [len]

      Signal=5
      Duration=160
    ]]>
  </send>
  <recv response="200" />`;

/** The caller answers the server's UPDATE refresh (rfc4028#section-10) with 200 and the interval. */
const ANSWER_UPDATE = `
  <recv request="UPDATE">
    <action>
      <ereg regexp="[^\\r\\n]*" search_in="hdr" header="Session-Expires:" check_it="true" assign_to="refresh" />
      <log message="refresh Session-Expires:[$refresh]" />
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
      Contact: <sip:[field0]@[local_ip]:[local_port];transport=[transport]>
      Session-Expires: 4;refresher=uac
      Require: timer
      Content-Length: 0

    ]]>
  </send>`;

/** The caller's BYE once requests came its way: the To is the callee's, with its tag (not the last request's To). */
const HANG_UP_AFTER_UPDATES = CALLER_HANGS_UP.replace('[last_To:]', 'To: <sip:[field2]@[$domain]>[peer_tag_param]');

describe('a call whose parties vanish through the relay (rtpengine) ends by media timeout', () => {
  const ctx = useTestServer('pglite', { rtpengine: 'auto', mediaTimeoutSeconds: 2, optionsProbeSeconds: 0 });

  it('two phones answer and send no RTP: both hear BYE, the session says media-timeout, nobody stays BUSY, the relay lets the call go', async () => {
    const t = ctx.t;
    const [a, b] = [await agent(t, ctx.token, 'Media Caller'), await agent(t, ctx.token, 'Media Callee')];
    const port = await freePort();
    const phoneB = silentCallee(port, WAIT_FOR_BYE);
    await registerAt(t, b, port);
    const call = nextCall(t);
    const answeredAt = new Promise<void>((resolve) => {
      const off = t.server.bus.on('call.answered', () => {
        off();
        resolve();
      });
    });
    const phoneA = silentCaller(t, a, b, answered(WAIT_FOR_BYE));
    const callId = await call.id;
    await answeredAt;
    const tenantId = t.server.systemTenant.id;
    await until('the callee is BUSY on the call', () => t.server.contactCenter.agents.get(tenantId, b.id).status, (s) => s === 'BUSY');
    const mediaId = t.server.telephony.calls.find(callId)?.mediaId;
    assert.ok(mediaId && (await t.server.media.plane.sessions()).includes(mediaId), 'the relay holds the call while it runs');

    const ended = await call.ended;
    assert.equal(ended.cause, 'media-timeout');
    for (const run of [await phoneA, await phoneB]) assert.equal(run.code, 0, run.errors || run.output);
    const session = await sessionOf(t, ctx.token, callId);
    assert.equal(session.status, 'COMPLETED');
    assert.equal(session.endCause, 'media-timeout');
    for (const ext of [a, b]) await until(`extension ${ext.number} is BUSY no more`, () => t.server.contactCenter.agents.get(tenantId, ext.id).status, (s) => s !== 'BUSY');
    await until('the relay deleted the call', () => t.server.media.plane.sessions(), (ids) => !ids.includes(mediaId));
  });
});

describe('session timers (RFC 4028), in-dialog OPTIONS probes and the longest call, with direct media', () => {
  // Min-SE of 2 s (below RFC 4028's 90) keeps the test short; probes every 2 s, answered by the phones (-aa).
  const ctx = useTestServer('pglite', { minSessionExpiresSeconds: 2, optionsProbeSeconds: 2 });
  const phones: { a?: Ext; b?: Ext } = {};
  const pair = async () => {
    phones.a ??= await agent(ctx.t, ctx.token, 'Timer Caller');
    phones.b ??= await agent(ctx.t, ctx.token, 'Timer Callee');
    const port = await freePort();
    return { a: phones.a, b: phones.b, port };
  };

  it('an INVITE whose Session-Expires is below Min-SE is answered 422 with our Min-SE (rfc4028#section-8.1)', async () => {
    const t = ctx.t;
    const { a, b } = await pair();
    const refused = `
  <recv response="422">
    <action>
      <ereg regexp="^ *2$" search_in="hdr" header="Min-SE:" check_it="true" assign_to="minse" />
      <log message="refused with Min-SE:[$minse]" />
    </action>
  </recv>${ACK_FAILURE}`;
    const run = await silentCaller(t, a, b, refused, { scenario: 'uac-call-session-timer.xml', sessionExpires: '1' });
    assert.equal(run.code, 0, run.errors || run.output);
  });

  it('the caller is the refresher and never refreshes (an INFO is no refresh): the server answers Session-Expires with Require: timer, then sends BYE to both sides (session-timer-expired)', async () => {
    const t = ctx.t;
    const { a, b, port } = await pair();
    const phoneB = silentCallee(port, WAIT_FOR_BYE, ['-aa']);
    await registerAt(t, b, port);
    const call = nextCall(t);
    const phoneA = silentCaller(t, a, b, answeredWithTimer(`${CALLER_SENDS_INFO}${WAIT_FOR_BYE}`), { scenario: 'uac-call-session-timer.xml', sessionExpires: '4;refresher=uac', extra: ['-aa'] });
    const ended = await call.ended;
    assert.equal(ended.cause, 'session-timer-expired');
    const runA = await phoneA;
    assert.equal(runA.code, 0, runA.errors || runA.output);
    assert.match(runA.log, /granted Session-Expires: ?4;refresher=uac Require:timer/);
    const runB = await phoneB;
    assert.equal(runB.code, 0, runB.errors || runB.output);
    const session = await sessionOf(t, ctx.token, await call.id);
    assert.equal(session.endCause, 'session-timer-expired');
  });

  it('the server is the refresher: it refreshes by UPDATE at half the interval, and the call lasts while the caller answers', async () => {
    const t = ctx.t;
    const { a, b, port } = await pair();
    const phoneB = silentCallee(port, WAIT_FOR_BYE, ['-aa']);
    await registerAt(t, b, port);
    const call = nextCall(t);
    // Two refreshes (at about 2 s and 4 s) cover more than the 4 s interval; then the caller hangs up itself.
    const phoneA = silentCaller(t, a, b, answeredWithTimer(`${ANSWER_UPDATE}${ANSWER_UPDATE}${HANG_UP_AFTER_UPDATES}`), { scenario: 'uac-call-session-timer.xml', sessionExpires: '4;refresher=uas', extra: ['-aa'] });
    const ended = await call.ended;
    assert.equal(ended.cause, 'caller-hangup');
    const runA = await phoneA;
    assert.equal(runA.code, 0, runA.errors || runA.output);
    assert.match(runA.log, /granted Session-Expires: ?4;refresher=uas Require:timer/);
    assert.equal(runA.log.match(/refresh Session-Expires: ?4;refresher=uac/g)?.length, 2, runA.log);
    const runB = await phoneB;
    assert.equal(runB.code, 0, runB.errors || runB.output);
  });

  it('a party that answers the in-dialog OPTIONS probe with 481 ends the call: both hear BYE, cause probe-failed', async () => {
    const t = ctx.t;
    const { a, b, port } = await pair();
    const gone = `
  <recv request="OPTIONS" />
  <send>
    <![CDATA[
      SIP/2.0 481 Call/Transaction Does Not Exist
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>${WAIT_FOR_BYE}`;
    const phoneB = silentCallee(port, gone);
    await registerAt(t, b, port);
    const call = nextCall(t);
    const phoneA = silentCaller(t, a, b, answered(WAIT_FOR_BYE), { extra: ['-aa'] });
    const ended = await call.ended;
    assert.equal(ended.cause, 'probe-failed');
    for (const run of [await phoneA, await phoneB]) assert.equal(run.code, 0, run.errors || run.output);
    const session = await sessionOf(t, ctx.token, await call.id);
    assert.equal(session.status, 'COMPLETED');
    assert.equal(session.endCause, 'probe-failed');
  });

  it('a party that answers nothing at all (no OPTIONS answer, no RTP, no SIP) ends the call when the probe times out: both hear BYE, cause probe-failed', async () => {
    const t = ctx.t;
    const { a, b, port } = await pair();
    // The callee ignores every request but the BYE (sipp's default of aborting on one is off).
    const phoneB = silentCallee(port, WAIT_FOR_BYE, ['-default_behaviors', 'none']);
    await registerAt(t, b, port);
    const call = nextCall(t);
    const phoneA = silentCaller(t, a, b, answered(WAIT_FOR_BYE), { extra: ['-aa'] });
    const ended = await call.ended;
    assert.equal(ended.cause, 'probe-failed');
    for (const run of [await phoneA, await phoneB]) assert.equal(run.code, 0, run.errors || run.output);
    const session = await sessionOf(t, ctx.token, await call.id);
    assert.equal(session.endCause, 'probe-failed');
  });

  it("a phone's own in-dialog OPTIONS is answered 200 while its call runs, and 481 once the call is gone", async () => {
    const t = ctx.t;
    const { a, b, port } = await pair();
    const phoneB = silentCallee(port, WAIT_FOR_BYE, ['-aa']);
    await registerAt(t, b, port);
    const call = nextCall(t);
    const probe = (cseq: number, status: number) => `
  <send retrans="500">
    <![CDATA[
      OPTIONS [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "Caller [field0]" <sip:[field0]@[$domain]>;tag=[pid]SIPpTag09[call_number]
      To: <sip:[field2]@[$domain]>[peer_tag_param]
      [routes]
      Call-ID: [call_id]
      CSeq: ${cseq} OPTIONS
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="${status}" />`;
    const phoneA = silentCaller(t, a, b, answered(`${probe(3, 200)}${HANG_UP_AFTER_UPDATES.replace('CSeq: 3 BYE', 'CSeq: 4 BYE')}${probe(5, 481)}`), { extra: ['-aa'] });
    assert.equal((await call.ended).cause, 'caller-hangup');
    for (const run of [await phoneA, await phoneB]) assert.equal(run.code, 0, run.errors || run.output);
  });

  it("a call reaching the tenant's longest call is ended: both hear BYE, cause max-duration", async () => {
    const t = ctx.t;
    const { a, b, port } = await pair();
    const set = async (maxCallSeconds: number) => {
      const res = await t.request('PUT', '/api/tenants/current/call-limits', { token: ctx.token, body: { maxCallSeconds } });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().tenant.maxCallSeconds, maxCallSeconds);
    };
    const current = (await t.request('GET', '/api/tenants/current', { token: ctx.token })).json().tenant.maxCallSeconds;
    assert.equal(current, 14_400, 'four hours by default');
    await set(3);
    try {
      const phoneB = silentCallee(port, WAIT_FOR_BYE, ['-aa']);
      await registerAt(t, b, port);
      const call = nextCall(t);
      const phoneA = silentCaller(t, a, b, answered(WAIT_FOR_BYE), { extra: ['-aa'] });
      const ended = await call.ended;
      assert.equal(ended.cause, 'max-duration');
      for (const run of [await phoneA, await phoneB]) assert.equal(run.code, 0, run.errors || run.output);
      const session = await sessionOf(t, ctx.token, await call.id);
      assert.equal(session.endCause, 'max-duration');
    } finally {
      await set(0);
    }
  });
});
