// Peers that failed before, with sipp as every phone: a 6xx from one of several ringing devices ends the fork at
// once (RFC 3261 section 16.7); a reliable 183 nobody asked for is passed to the caller once (RFC 3262); an INVITE
// without SDP is a late offer: the callee offers in its 2xx and the caller answers in its ACK (RFC 3261 section
// 13.2.1, RFC 3264), through the relay or directly; a request naming a call's dialog is taken only from that
// dialog's peer (or with its party's credentials), so a BYE from elsewhere ends nothing.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { freePort } from '../support/process.ts';
import { useTestServer } from '../support/server.ts';
import { authField, runSipp } from '../support/sipp.ts';
import { agent, answered, CALLER_HANGS_UP, callee, caller, callerRefused, registerAt, WAIT_FOR_BYE } from '../support/calls.ts';

/** One transmission of the callee's reliable 183 (RSeq 1, early media), then a little while before the next. */
const RELIABLE_183 = `
  <send>
    <![CDATA[
      SIP/2.0 183 Session Progress
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag13[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:callee@[local_ip]:[local_port];transport=[transport]>
      Require: 100rel
      RSeq: 1
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=callee 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

    ]]>
  </send>
  <pause milliseconds="200" />`;

describe('a 6xx ends the fork (RFC 3261 section 16.7)', () => {
  const ctx = useTestServer('pglite');

  it('603 Decline from one device while another still rings: the other is CANCELled and the caller gets 603 at once', async () => {
    const [a, b] = [await agent(ctx.t, ctx.token, 'Caller Fork'), await agent(ctx.t, ctx.token, 'Two Phones Decline')];
    // A ring timeout longer than sipp's patience: the caller must hear the 603 before it, not a 480 after it.
    const res = await ctx.t.request('PUT', `/api/pbx/agent-extensions/${b.id}`, { token: ctx.token, body: { ringTimeout: 60 } });
    assert.equal(res.statusCode, 200);
    const [declinePort, ringPort] = [await freePort(), await freePort()];
    const declining = callee('uas-reject.xml', declinePort, { STATUS: '603' });
    const ringing = callee('uas-ring-until-cancel.xml', ringPort);
    await registerAt(ctx.t, b, declinePort);
    await registerAt(ctx.t, b, ringPort);
    const uac = await caller(ctx.t, a, b.number, callerRefused(603));
    assert.equal(uac.code, 0, uac.errors || uac.output);
    const [declined, cancelled] = await Promise.all([declining, ringing]);
    assert.equal(declined.code, 0, declined.errors || declined.output);
    assert.equal(cancelled.code, 0, `the other device heard CANCEL: ${cancelled.errors || cancelled.output}`);
  });

  it('in a queue offer rung to several agents (ringall), one agent\'s 603 ends only its own ringing: another agent still takes the call', async () => {
    const [c, x, y] = [await agent(ctx.t, ctx.token, 'Queue Caller'), await agent(ctx.t, ctx.token, 'Declining Agent'), await agent(ctx.t, ctx.token, 'Answering Agent')];
    const [xPort, yPort] = [await freePort(), await freePort()];
    const declining = callee('uas-reject.xml', xPort, { STATUS: '603' });
    // The other agent answers only well after the decline came.
    const answering = callee('uas-answer.xml', yPort, { RING: '1500' });
    await registerAt(ctx.t, x, xPort);
    await registerAt(ctx.t, y, yPort);
    for (const ext of [x, y]) {
      const res = await ctx.t.request('PUT', `/api/pbx/agent-extensions/${ext.id}/status`, { token: ctx.token, body: { status: 'AVAILABLE' } });
      assert.ok(res.statusCode < 300, res.body);
    }
    const created = await ctx.t.request('POST', '/api/pbx/queues', {
      token: ctx.token,
      body: { name: 'Decline Test', number: '2101', strategy: 'ringall', ringTimeout: 20, retryDelay: 0, wrapUpTime: 0, members: [{ extensionId: x.id }, { extensionId: y.id }] },
    });
    assert.ok(created.statusCode < 300, created.body);
    const connected: string[] = [];
    const off = ctx.t.server.bus.on('queue.connected', (e) => void connected.push(e.extensionId));
    const uac = await caller(ctx.t, c, 2101, answered(CALLER_HANGS_UP));
    off();
    assert.equal(uac.code, 0, uac.errors || uac.output);
    const [declined, took] = await Promise.all([declining, answering]);
    assert.equal(declined.code, 0, declined.errors || declined.output);
    assert.equal(took.code, 0, `the other agent's phone rang on and answered: ${took.errors || took.output}`);
    assert.deepEqual(connected, [y.id]);
  });
});

describe('a reliable 183 from a callee not offered 100rel (RFC 3262 sections 3 and 4)', () => {
  const ctx = useTestServer('pglite');

  it('its retransmissions (same RSeq) are passed to the caller once', async () => {
    const [a, b] = [await agent(ctx.t, ctx.token, 'Caller Early'), await agent(ctx.t, ctx.token, 'Reliable Callee')];
    const port = await freePort();
    const uas = callee('uas-reliable-183.xml', port, { RELIABLE_183 });
    await registerAt(ctx.t, b, port);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-trace-'));
    try {
      const trace = path.join(dir, 'messages.log');
      const uac = await runSipp({
        scenario: 'uac-call.xml',
        target: `127.0.0.1:${ctx.t.server.sipPort}`,
        rows: [[String(a.number), authField(String(a.number), a.secret), String(b.number)]],
        vars: { domain: 'pbx.test' },
        substitute: { OUTCOME: answered(CALLER_HANGS_UP), TALK: '300' },
        extra: ['-trace_msg', '-message_file', trace],
      });
      assert.equal(uac.code, 0, uac.errors || uac.output);
      const uasRun = await uas;
      assert.equal(uasRun.code, 0, uasRun.errors || uasRun.output);
      const received183 = fs.readFileSync(trace, 'utf8').match(/message received[^\n]*\n\s*SIP\/2\.0 183 /g) ?? [];
      assert.equal(received183.length, 1, 'the callee sent its 183 three times; the caller heard it once');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The caller, talking, sends a re-INVITE without SDP; the 200 must offer, and the ACK answers (media at @ANSWER_PORT@). */
const CALLER_REINVITES_WITHOUT_SDP = `
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
      Content-Length: 0

    ]]>
  </send>
  <recv response="100" optional="true" />
  <recv response="200">
    <action>
      <ereg regexp="m=audio ([0-9]+)" search_in="body" check_it="true" assign_to="reoffer,reofferport" />
      <log message="re-offered in the 2xx: [$reoffer] port [$reofferport]" />
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
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=caller 1 2 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio @ANSWER_PORT@ RTP/AVP 0
      a=rtpmap:0 PCMU/8000

    ]]>
  </send>${CALLER_HANGS_UP.replace('CSeq: 3 BYE', 'CSeq: 4 BYE')}`;

/** The callee's side of that: the re-INVITE has no SDP, its 200 offers (media at @OFFER_PORT@), the ACK answers. */
const CALLEE_OFFERS_IN_REINVITE_2XX = `
  <recv request="INVITE">
    <action>
      <ereg regexp="[0-9]+" search_in="hdr" header="Content-Length:" check_it="true" assign_to="relength" />
      <log message="re-invite body length [$relength]" />
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
      Contact: <sip:callee@[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=callee 1 2 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio @OFFER_PORT@ RTP/AVP 0
      a=rtpmap:0 PCMU/8000

    ]]>
  </send>
  <recv request="ACK">
    <action>
      <ereg regexp="m=audio ([0-9]+)" search_in="body" check_it="true" assign_to="reanswer,reanswerport" />
      <log message="re-answered in the ACK: [$reanswer] port [$reanswerport]" />
    </action>
  </recv>${WAIT_FOR_BYE}`;

for (const media of ['direct', 'rtpengine'] as const) describe(`a late offer (RFC 3261 section 13.2.1, RFC 3264), ${media} media`, () => {
  const ctx = useTestServer('pglite', { rtpengine: media === 'direct' ? 'off' : 'auto' });

  it('an INVITE without SDP reaches the callee without SDP; its 2xx offer goes to the caller, the answer in the ACK back', async () => {
    assert.equal(ctx.t.server.media.plane.kind, media);
    const [a, b] = [await agent(ctx.t, ctx.token, 'Late Caller'), await agent(ctx.t, ctx.token, 'Offering Callee')];
    const port = await freePort();
    const [offerPort, answerPort] = ['41234', '42468'];
    const uas = callee('uas-late-offer.xml', port, { OFFER_PORT: offerPort });
    await registerAt(ctx.t, b, port);
    const uac = await runSipp({
      scenario: 'uac-late-offer.xml',
      target: `127.0.0.1:${ctx.t.server.sipPort}`,
      rows: [[String(a.number), authField(String(a.number), a.secret), String(b.number)]],
      vars: { domain: 'pbx.test' },
      substitute: { ANSWER_PORT: answerPort, HANGUP_STEPS: CALLER_HANGS_UP, TALK: '300' },
      timeoutSeconds: 25,
    });
    const uasRun = await uas;
    assert.equal(uac.code, 0, uac.errors || uac.output);
    assert.equal(uasRun.code, 0, uasRun.errors || uasRun.output);
    assert.match(uasRun.log, /invite body length 0/, 'the callee was not offered anything');
    const offered = /offered in the 2xx: .* port (\d+)/.exec(uac.log)?.[1];
    const answeredWith = /answered in the ACK: .* port (\d+)/.exec(uasRun.log)?.[1];
    assert.ok(offered && answeredWith, `the caller got an offer (${offered}) and the callee an answer (${answeredWith})`);
    const { start, end } = ctx.t.server.config.rtpPorts;
    const relayed = (p: string) => Number(p) >= start && Number(p) <= end;
    if (media === 'direct') {
      assert.equal(offered, offerPort, "the caller was offered the callee's own media");
      assert.equal(answeredWith, answerPort, "the callee was answered with the caller's own media");
    } else {
      assert.ok(relayed(offered), `the caller was offered the relay's port, not ${offered}`);
      assert.ok(relayed(answeredWith), `the callee was answered with the relay's port, not ${answeredWith}`);
    }
    assert.equal(ctx.t.server.telephony.calls.activeCalls.length, 0);
  });

  it('a re-INVITE without SDP from a party: the other offers in its 2xx and the ACK carries the answer (RFC 3261 section 14.1)', async () => {
    const [a, b] = [await agent(ctx.t, ctx.token, 'Refreshing Caller'), await agent(ctx.t, ctx.token, 'Reoffering Callee')];
    const port = await freePort();
    const [offerPort, answerPort] = ['41236', '42470'];
    const uas = callee('uas-answer.xml', port, { HANGUP_STEPS: CALLEE_OFFERS_IN_REINVITE_2XX, OFFER_PORT: offerPort });
    await registerAt(ctx.t, b, port);
    const uac = await runSipp({
      scenario: 'uac-call.xml',
      target: `127.0.0.1:${ctx.t.server.sipPort}`,
      rows: [[String(a.number), authField(String(a.number), a.secret), String(b.number)]],
      vars: { domain: 'pbx.test' },
      substitute: { OUTCOME: answered(CALLER_REINVITES_WITHOUT_SDP), ANSWER_PORT: answerPort, TALK: '200' },
      timeoutSeconds: 25,
    });
    const uasRun = await uas;
    assert.equal(uac.code, 0, uac.errors || uac.output);
    assert.equal(uasRun.code, 0, uasRun.errors || uasRun.output);
    assert.match(uasRun.log, /re-invite body length 0/);
    const offered = /re-offered in the 2xx: .* port (\d+)/.exec(uac.log)?.[1];
    const answeredWith = /re-answered in the ACK: .* port (\d+)/.exec(uasRun.log)?.[1];
    assert.ok(offered && answeredWith, `the caller got an offer (${offered}) and the callee an answer (${answeredWith})`);
    const { start, end } = ctx.t.server.config.rtpPorts;
    const relayed = (p: string) => Number(p) >= start && Number(p) <= end;
    assert.equal(offered === offerPort, media === 'direct', `the caller was offered port ${offered}`);
    assert.equal(answeredWith === answerPort, media === 'direct', `the callee was answered with port ${answeredWith}`);
    if (media === 'rtpengine') assert.ok(relayed(offered) && relayed(answeredWith), 'both went through the relay');
  });
});

describe('in-dialog requests only from the dialog\'s peer (RFC 3261 section 26.1.4)', () => {
  const ctx = useTestServer('pglite');

  /** The caller's dialog of `a`'s call once it is answered, as the server knows it. */
  async function answeredDialog(a: { id: string }) {
    for (let i = 0; i < 300; i++) {
      const call = ctx.t.server.telephony.calls.activeCalls.find((c) => c.caller.extensionId === a.id && c.state === 'answered' && c.callerDialog);
      if (call?.callerDialog) return call.callerDialog.id;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('the call was not answered');
  }

  it('a BYE with the right Call-ID and tags from another address is challenged, and the call goes on', async () => {
    const [a, b] = [await agent(ctx.t, ctx.token, 'Talking Caller'), await agent(ctx.t, ctx.token, 'Talking Callee')];
    const port = await freePort();
    const uas = callee('uas-answer.xml', port);
    await registerAt(ctx.t, b, port);
    // The caller talks long enough for the forger to act, then hangs up itself: its BYE must find the call.
    const uac = caller(ctx.t, a, b.number, answered(CALLER_HANGS_UP), 4000);
    const dialog = await answeredDialog(a);
    const forged = { FROM_TAG: dialog.remoteTag, TO_TAG: dialog.localTag, FROM_USER: String(a.number), TO_USER: String(b.number) };
    for (const [localIp, expect] of [['127.0.0.2', '407']] as const) {
      const run = await runSipp({ scenario: 'uac-forged-bye.xml', target: `127.0.0.1:${ctx.t.server.sipPort}`, localIp, substitute: { ...forged, EXPECT: expect }, extra: ['-cid_str', dialog.callId], timeoutSeconds: 10 });
      assert.equal(run.code, 0, `a BYE from ${localIp} is answered ${expect}: ${run.errors || run.output}`);
    }
    assert.equal(ctx.t.server.telephony.calls.activeCalls.some((c) => c.callerDialog?.id.callId === dialog.callId), true, 'the call goes on');
    const [uacRun, uasRun] = await Promise.all([uac, uas]);
    assert.equal(uacRun.code, 0, `the caller's own BYE ended the call: ${uacRun.errors || uacRun.output}`);
    assert.equal(uasRun.code, 0, uasRun.errors || uasRun.output);
  });

  it('the party itself, from a new address, is taken once it authenticates as its extension', async () => {
    const [a, b] = [await agent(ctx.t, ctx.token, 'Moving Caller'), await agent(ctx.t, ctx.token, 'Staying Callee')];
    const port = await freePort();
    const uas = callee('uas-answer.xml', port);
    await registerAt(ctx.t, b, port);
    // The caller's phone is done after its ACK: its BYE comes from its new address.
    const uac = caller(ctx.t, a, b.number, answered(''));
    const dialog = await answeredDialog(a);
    const substitute = { FROM_TAG: dialog.remoteTag, TO_TAG: dialog.localTag, FROM_USER: String(a.number), TO_USER: String(b.number), AUTH: authField(String(a.number), a.secret) };
    const moved = await runSipp({ scenario: 'uac-moved-bye.xml', target: `127.0.0.1:${ctx.t.server.sipPort}`, localIp: '127.0.0.2', substitute, extra: ['-cid_str', dialog.callId], timeoutSeconds: 10 });
    assert.equal(moved.code, 0, moved.errors || moved.output);
    const [uacRun, uasRun] = await Promise.all([uac, uas]);
    assert.equal(uacRun.code, 0, uacRun.errors || uacRun.output);
    assert.equal(uasRun.code, 0, `the callee heard BYE: ${uasRun.errors || uasRun.output}`);
  });
});

