// Extension-to-extension calls through the B2BUA (RFC 3261 sections 13 to 15), with sipp as both phones: an
// authenticated INVITE (407 first) rings every registered contact of the callee; 180 comes back; the first 2xx
// wins and the others are cancelled; BYE from either side ends both legs; busy is passed back; CANCEL gives 487;
// the ring timeout gives 480; an unknown number 404 and an unregistered one 480. SDP passes through unchanged.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DomainEvents } from '../../src/events/index.ts';
import { freePort } from '../support/process.ts';
import { type TestServer, useTestServer } from '../support/server.ts';
import { authField, runSipp } from '../support/sipp.ts';
import { agent, answered, answerReinvite, CALLEE_HANGS_UP, CALLER_CANCELS, CALLER_HANGS_UP, callee, caller, callerRefused, registerAt, WAIT_FOR_BYE } from '../support/calls.ts';

/** The caller holds (re-INVITE with a=sendonly), sends a DTMF digit by INFO, then hangs up. */
const CALLER_HOLDS_AND_SENDS_DTMF = `
  <pause milliseconds="200" />
  <send retrans="500">
    <![CDATA[
      INVITE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "Caller [field0]" <sip:[field0]@[$domain]>;tag=[pid]SIPpTag09[call_number]
      [last_To:]
      [routes]
      Call-ID: [call_id]
      CSeq: 3 INVITE
      Contact: <sip:[field0]@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=caller 1 2 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
      a=sendonly

    ]]>
  </send>
  <recv response="100" optional="true" />
  <recv response="200">
    <action>
      <ereg regexp="a=(recvonly|inactive)" search_in="body" check_it="true" assign_to="held,direction" />
      <log message="held: callee answered [$held] ([$direction])" />
    </action>
  </recv>
  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "Caller [field0]" <sip:[field0]@[$domain]>;tag=[pid]SIPpTag09[call_number]
      [last_To:]
      [routes]
      Call-ID: [call_id]
      CSeq: 3 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <send retrans="500">
    <![CDATA[
      INFO [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "Caller [field0]" <sip:[field0]@[$domain]>;tag=[pid]SIPpTag09[call_number]
      [last_To:]
      [routes]
      Call-ID: [call_id]
      CSeq: 4 INFO
      Max-Forwards: 70
      Content-Type: application/dtmf-relay
      Content-Length: [len]

      Signal=5
      Duration=160
    ]]>
  </send>
  <recv response="200" />
  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "Caller [field0]" <sip:[field0]@[$domain]>;tag=[pid]SIPpTag09[call_number]
      [last_To:]
      [routes]
      Call-ID: [call_id]
      CSeq: 5 BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" />`;

/** The callee's side of that: answers the hold with a=recvonly, takes the INFO, then the BYE. */
const CALLEE_IS_HELD = `${answerReinvite('recvonly', '[media_port]', 'a=sendonly')}
  <recv request="INFO">
    <action>
      <ereg regexp="Signal=([0-9*#])" search_in="body" check_it="true" assign_to="dtmf,digit" />
      <log message="dtmf [$dtmf] digit [$digit]" />
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
  </send>${WAIT_FOR_BYE}`;

function record(t: TestServer) {
  const seen: Array<{ name: string; e: unknown }> = [];
  for (const name of ['call.created', 'leg.ringing', 'leg.answered', 'call.answered', 'call.hold', 'call.dtmf', 'call.ended'] as const) {
    t.server.bus.on(name, (e) => void seen.push({ name, e }));
  }
  return {
    names: () => seen.map((s) => s.name),
    all: <K extends keyof DomainEvents>(name: K) => seen.filter((s) => s.name === name).map((s) => s.e as DomainEvents[K]),
    ended: () => seen.find((s) => s.name === 'call.ended')?.e as DomainEvents['call.ended'] | undefined,
  };
}

async function settle(check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

for (const media of ['direct', 'rtpengine'] as const) describe(`calls between extensions with sipp (RFC 3261 sections 13-15), ${media} media`, () => {
  const ctx = useTestServer('pglite', { rtpengine: media === 'direct' ? 'off' : 'auto' });

  it(`the server runs with ${media} media`, () => {
    assert.equal(ctx.t.server.media.plane.kind, media);
  });

  it('a call is answered and the caller hangs up: both legs end, SDP passes through, events tell the whole call', async () => {
    const [a, b] = [await agent(ctx.t, ctx.token, 'Caller A'), await agent(ctx.t, ctx.token, 'Callee B')];
    const port = await freePort();
    const events = record(ctx.t);
    const uas = callee('uas-answer.xml', port);
    await registerAt(ctx.t, b, port);
    const uac = await caller(ctx.t, a, b.number, answered(CALLER_HANGS_UP));
    const uasRun = await uas;
    assert.equal(uac.code, 0, uac.errors || uac.output);
    assert.equal(uasRun.code, 0, uasRun.errors || uasRun.output);
    assert.match(uasRun.log, new RegExp(`by\\s*"Caller ${a.number}" <sip:${a.number}@pbx\\.test>`), 'the callee sees who calls');
    const callerPort = /offered sdp .* port (\d+)/.exec(uasRun.log)?.[1];
    const calleePort = /answered with sdp .* port (\d+)/.exec(uac.log)?.[1];
    assert.ok(callerPort && calleePort, 'each side got the other side\'s SDP');
    const { start, end } = ctx.t.server.config.rtpPorts;
    const relayed = (port: string) => Number(port) >= start && Number(port) <= end;
    // Direct media hands each phone the other's SDP; the relay gives each a port of its own.
    assert.equal(relayed(callerPort), media === 'rtpengine', `the callee was offered port ${callerPort}`);
    assert.equal(relayed(calleePort), media === 'rtpengine', `the caller was answered with port ${calleePort}`);
    await settle(() => events.ended() !== undefined);
    assert.deepEqual(events.names(), ['call.created', 'leg.ringing', 'leg.answered', 'call.answered', 'call.ended']);
    const ended = events.ended();
    assert.equal(ended?.cause, 'caller-hangup');
    assert.equal(ended?.answered, true);
    assert.ok((ended?.durations.talk ?? 0) >= 250 && (ended?.durations.ringing ?? 0) >= 250);
    assert.equal(ctx.t.server.telephony.calls.activeCalls.length, 0);
  });

  it('the callee hangs up: the caller hears BYE', async () => {
    const [a, b] = [await agent(ctx.t, ctx.token, 'Caller C'), await agent(ctx.t, ctx.token, 'Callee D')];
    const port = await freePort();
    const events = record(ctx.t);
    const uas = callee('uas-answer.xml', port, { HANGUP_STEPS: CALLEE_HANGS_UP, TALK: '500' });
    await registerAt(ctx.t, b, port);
    const uac = await caller(ctx.t, a, b.number, answered(WAIT_FOR_BYE));
    const uasRun = await uas;
    assert.equal(uac.code, 0, uac.errors || uac.output);
    assert.equal(uasRun.code, 0, uasRun.errors || uasRun.output);
    await settle(() => events.ended() !== undefined);
    assert.equal(events.ended()?.cause, 'callee-hangup');
  });

  it('a re-INVITE (hold from a phone) and INFO (DTMF) are relayed across, and their answers back; hold and the digit are events', async () => {
    const [a, b] = [await agent(ctx.t, ctx.token, 'Holder Q'), await agent(ctx.t, ctx.token, 'Held R')];
    const port = await freePort();
    const events = record(ctx.t);
    const uas = callee('uas-answer.xml', port, { HANGUP_STEPS: CALLEE_IS_HELD });
    await registerAt(ctx.t, b, port);
    const uac = await caller(ctx.t, a, b.number, answered(CALLER_HOLDS_AND_SENDS_DTMF));
    const uasRun = await uas;
    assert.equal(uac.code, 0, uac.errors || uac.output);
    assert.equal(uasRun.code, 0, uasRun.errors || uasRun.output);
    assert.match(uasRun.log, /offered: a=sendonly/);
    assert.match(uac.log, /held: callee answered a=recvonly/);
    assert.match(uasRun.log, /digit 5/);
    await settle(() => events.ended() !== undefined);
    assert.equal(events.ended()?.cause, 'caller-hangup');
    const callId = events.ended()?.callId;
    assert.deepEqual(events.all('call.hold').map(({ callId: id, side, held }) => ({ id, side, held })), [{ id: callId, side: 'caller', held: true }]);
    assert.deepEqual(events.all('call.dtmf').map(({ side, digit, via }) => ({ side, digit, via })), [{ side: 'caller', digit: '5', via: 'info' }]);
  });

  it('busy: the callee answers 486 and the caller gets 486 Busy Here', async () => {
    const [a, b] = [await agent(ctx.t, ctx.token, 'Caller E'), await agent(ctx.t, ctx.token, 'Busy F')];
    const port = await freePort();
    const events = record(ctx.t);
    const uas = callee('uas-reject.xml', port, { STATUS: '486' });
    await registerAt(ctx.t, b, port);
    const uac = await caller(ctx.t, a, b.number, callerRefused(486));
    assert.equal(uac.code, 0, uac.errors || uac.output);
    assert.equal((await uas).code, 0);
    await settle(() => events.ended() !== undefined);
    assert.equal(events.ended()?.cause, 'busy');
    assert.equal(events.ended()?.answered, false);
  });

  it('the caller cancels while ringing: 487 to the caller, CANCEL to the callee', async () => {
    const [a, b] = [await agent(ctx.t, ctx.token, 'Caller G'), await agent(ctx.t, ctx.token, 'Ringing H')];
    const port = await freePort();
    const events = record(ctx.t);
    const uas = callee('uas-ring-until-cancel.xml', port);
    await registerAt(ctx.t, b, port);
    const uac = await caller(ctx.t, a, b.number, CALLER_CANCELS);
    assert.equal(uac.code, 0, uac.errors || uac.output);
    const uasRun = await uas;
    assert.equal(uasRun.code, 0, uasRun.errors || uasRun.output);
    await settle(() => events.ended() !== undefined);
    assert.equal(events.ended()?.cause, 'cancelled');
  });

  it('nobody answers: after the extension\'s ring timeout the caller gets 480 and the callee a CANCEL', async () => {
    const [a, b] = [await agent(ctx.t, ctx.token, 'Caller I'), await agent(ctx.t, ctx.token, 'Absent J')];
    const res = await ctx.t.request('PUT', `/api/pbx/agent-extensions/${b.id}`, { token: ctx.token, body: { ringTimeout: 5 } });
    assert.equal(res.statusCode, 200);
    const port = await freePort();
    const events = record(ctx.t);
    const uas = callee('uas-ring-until-cancel.xml', port);
    await registerAt(ctx.t, b, port);
    const started = Date.now();
    const uac = await caller(ctx.t, a, b.number, callerRefused(480));
    assert.equal(uac.code, 0, uac.errors || uac.output);
    assert.ok(Date.now() - started >= 4500, 'it rang for the timeout');
    assert.equal((await uas).code, 0);
    await settle(() => events.ended() !== undefined);
    assert.equal(events.ended()?.cause, 'no-answer');
  });

  it('an unknown number is answered 404, an extension with no contact 480', async () => {
    const [a, b] = [await agent(ctx.t, ctx.token, 'Caller K'), await agent(ctx.t, ctx.token, 'Offline L')];
    const unknown = await caller(ctx.t, a, 1999, callerRefused(404));
    assert.equal(unknown.code, 0, unknown.errors || unknown.output);
    const offline = await caller(ctx.t, a, b.number, callerRefused(480));
    assert.equal(offline.code, 0, offline.errors || offline.output);
  });

  it('forking: two contacts of one extension ring at once; the first to answer wins and the other is cancelled', async () => {
    const [a, b] = [await agent(ctx.t, ctx.token, 'Caller M'), await agent(ctx.t, ctx.token, 'Two Phones N')];
    const [answerPort, ringPort] = [await freePort(), await freePort()];
    const events = record(ctx.t);
    const answering = callee('uas-answer.xml', answerPort, { RING: '800' });
    const ringing = callee('uas-ring-until-cancel.xml', ringPort);
    await registerAt(ctx.t, b, answerPort);
    await registerAt(ctx.t, b, ringPort);
    const uac = await caller(ctx.t, a, b.number, answered(CALLER_HANGS_UP));
    assert.equal(uac.code, 0, uac.errors || uac.output);
    const [won, cancelled] = await Promise.all([answering, ringing]);
    assert.equal(won.code, 0, won.errors || won.output);
    assert.equal(cancelled.code, 0, cancelled.errors || cancelled.output);
    await settle(() => events.ended() !== undefined);
    assert.equal(events.ended()?.cause, 'caller-hangup');
  });

  it('an INVITE without credentials is challenged 407, and a wrong password is refused 403', async () => {
    const [a, b] = [await agent(ctx.t, ctx.token, 'Caller O'), await agent(ctx.t, ctx.token, 'Callee P')];
    const wrong = await runSipp({
      scenario: 'uac-call.xml',
      target: `127.0.0.1:${ctx.t.server.sipPort}`,
      rows: [[String(a.number), authField(String(a.number), 'not-the-secret'), String(b.number)]],
      vars: { domain: 'pbx.test' },
      substitute: { OUTCOME: callerRefused(403), TALK: '0' },
    });
    assert.equal(wrong.code, 0, wrong.errors || wrong.output);
  });
});
