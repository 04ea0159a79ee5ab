// Behind an edge proxy: a real Kamailio 5.6 in front of the server, doing add_path_received() on REGISTER and
// record_route() on INVITE (test/fixtures/kamailio/edge.cfg), with sipp phones that talk only to Kamailio. The
// callee registers a Contact nothing listens on: it is reachable only through the edge, at the address Kamailio
// saw and put in its Path. RFC 3327: the registrar stores the Path and echoes it to a phone that supports path,
// and a request to that contact goes to the first Path URI with the Path as its Route set. RFC 3261 section
// 12.1.1: the 18x and 2xx to an INVITE carry its Record-Route, so the caller's ACK and BYE go through the edge;
// and requests inside either dialog follow its route set through the edge.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../support/process.ts';
import { useTestServer } from '../support/server.ts';
import { authField, runSipp, type SippRun } from '../support/sipp.ts';
import { agent, answered, CALLER_HANGS_UP, callee, type Ext, WAIT_FOR_BYE } from '../support/calls.ts';
import { type Kamailio, startKamailio } from '../support/kamailio.ts';
import { until } from '../support/wait.ts';

/** The callee hangs up, as a UAS: its BYE follows the route set the INVITE's Record-Route gave it. */
const CALLEE_HANGS_UP_ROUTED = `
  <pause milliseconds="300" />
  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: <sip:callee@[local_ip]>;tag=[pid]SIPpTag10[call_number]
      To:[$invitefrom]
      [routes]
      Call-ID: [$invitecallid]
      CSeq: 1 BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" />`;

/** The caller's 180 and 200 must carry the Record-Route the edge put in its INVITE. */
function answeredWithRecordRoute(then: string): string {
  return answered(then).replace(
    '<recv response="180" optional="true" />',
    `<recv response="180">
    <action>
      <ereg regexp="sip:[^>]*" search_in="hdr" header="Record-Route:" check_it="true" assign_to="rr180" />
      <log message="180 record-route ([$rr180])" />
    </action>
  </recv>`,
  ).replace(
    '<log message="answered with sdp [$sdp] port [$calleeport]" />',
    `<log message="answered with sdp [$sdp] port [$calleeport]" />
      <ereg regexp="sip:[^>]*" search_in="hdr" header="Record-Route:" check_it="true" assign_to="rr200" />
      <log message="200 record-route ([$rr200])" />`,
  );
}

describe('behind an edge proxy (a real Kamailio): Path (RFC 3327) and Record-Route (RFC 3261 section 12.1.1)', () => {
  const ctx = useTestServer('pglite');
  let edge: Kamailio;
  before(async () => {
    edge = await startKamailio('edge.cfg', { SWITCHBOARD: `127.0.0.1:${ctx.t.server.sipPort}` });
  });
  after(() => edge?.stop());

  /** Registers `ext` through the edge from `port`, with a Contact nothing listens on. */
  async function registerThroughEdge(ext: Ext, port: number, supported: string): Promise<SippRun> {
    const unreachable = await freePort();
    const run = await runSipp({
      scenario: 'register-path.xml',
      target: `127.0.0.1:${edge.port}`,
      localPort: port,
      rows: [[String(ext.number), authField(String(ext.number), ext.secret)]],
      vars: { domain: 'pbx.test', expires: '300' },
      substitute: { CONTACT: `127.0.0.1:${unreachable}`, SUPPORTED: supported },
    });
    assert.equal(run.code, 0, run.errors || run.output);
    return run;
  }

  function callThroughEdge(from: Ext, dialed: number, port: number, outcome: string): Promise<SippRun> {
    return runSipp({
      scenario: 'uac-call.xml',
      target: `127.0.0.1:${edge.port}`,
      localPort: port,
      rows: [[String(from.number), authField(String(from.number), from.secret), String(dialed)]],
      vars: { domain: 'pbx.test' },
      substitute: { OUTCOME: outcome, TALK: '300' },
      timeoutSeconds: 25,
    });
  }

  const edgeLines = () => edge.output().split('\n').filter((l) => l.includes('EDGE '));

  /** Waits until the edge has logged a line holding each of `patterns` (its log reaches us a little after sipp). */
  async function edgeLogged(patterns: string[]): Promise<string[]> {
    const missing = (lines: string[]) => patterns.filter((p) => !lines.some((l) => l.includes(p)));
    const lines = await until('the edge logged every hop', edgeLines, (l) => missing(l).length === 0).catch(() => edgeLines());
    assert.deepEqual(missing(lines), [], lines.join('\n'));
    return lines;
  }

  it('the registrar stores the Path with the binding and echoes it in the 200 when the phone said Supported: path', async () => {
    const [a, b] = [await agent(ctx.t, ctx.token, 'Pathful A'), await agent(ctx.t, ctx.token, 'Pathless B')];
    const withPath = await registerThroughEdge(a, await freePort(), 'Supported: path');
    const pathOf = (ext: Ext) => ctx.t.server.telephony.location.lookup(ext.id)[0]?.path;
    const stored = pathOf(a);
    assert.equal(stored?.length, 1, `the binding's Path: ${JSON.stringify(stored)}`);
    assert.match(stored?.[0] ?? '', new RegExp(`^<sip:127\\.0\\.0\\.1:${edge.port};lr;received=`));
    assert.ok(withPath.log.includes(`echoed path (${stored?.[0]?.replace(/^<|>$/g, '')})`), withPath.log);

    // A phone that did not say it supports path is registered all the same, through its edge, without the echo.
    const withoutPath = await registerThroughEdge(b, await freePort(), 'Supported: replaces');
    assert.match(withoutPath.log, /echoed path \(\)/);
    assert.equal(pathOf(b)?.length, 1);
  });

  it('a REGISTER that requires path (Require: path) is not refused with 420: the registrar supports it', async () => {
    const ext = await agent(ctx.t, ctx.token, 'Requiring G');
    const run = await registerThroughEdge(ext, await freePort(), 'Require: path');
    assert.match(run.log, /echoed path \(\)/);
    assert.equal(ctx.t.server.telephony.location.lookup(ext.id)[0]?.path.length, 1);
  });

  it('a phone whose Contact is unreachable rings through the edge; the caller sees Record-Route in 180 and 200, and ACKs and hangs up through the edge', async () => {
    const [a, b] = [await agent(ctx.t, ctx.token, 'Edge Caller C'), await agent(ctx.t, ctx.token, 'Edge Callee D')];
    const [calleePort, callerPort] = [await freePort(), await freePort()];
    await registerThroughEdge(b, calleePort, 'Supported: path');
    const uas = callee('uas-answer.xml', calleePort);
    const uac = await callThroughEdge(a, b.number, callerPort, answeredWithRecordRoute(CALLER_HANGS_UP));
    const uasRun = await uas;
    assert.equal(uac.code, 0, `${uac.errors || uac.output}\n${edgeLines().join('\n')}`);
    assert.equal(uasRun.code, 0, `${uasRun.errors || uasRun.output}\n${edgeLines().join('\n')}`);

    const recordRoute = new RegExp(`\\(sip:127\\.0\\.0\\.1:${edge.port};lr[;)]`);
    assert.match(uac.log, new RegExp(`180 record-route ${recordRoute.source}`));
    assert.match(uac.log, new RegExp(`200 record-route ${recordRoute.source}`));

    const sb = `127.0.0.1:${ctx.t.server.sipPort}`;
    const lines = await edgeLogged([
      // The INVITE to the callee went to the edge, with the Path as its Route, and on to the address it registered from.
      `EDGE initial INVITE from ${sb} to sip:${b.number}@127.0.0.1:`,
      `through path to sip:127.0.0.1:${calleePort}`,
      // The caller's ACK and BYE followed the Record-Route; so did ours to the callee (its 2xx's Record-Route).
      `EDGE in-dialog ACK from 127.0.0.1:${callerPort}`,
      `EDGE in-dialog BYE from 127.0.0.1:${callerPort}`,
      `EDGE in-dialog ACK from ${sb}`,
      `EDGE in-dialog BYE from ${sb}`,
    ]);
    assert.ok(!lines.some((l) => l.includes('without our Route')), lines.join('\n'));
  });

  it('when the callee hangs up, the BYE to the caller goes through the edge (the route set of the caller\'s dialog)', async () => {
    const [a, b] = [await agent(ctx.t, ctx.token, 'Edge Caller E'), await agent(ctx.t, ctx.token, 'Edge Callee F')];
    const [calleePort, callerPort] = [await freePort(), await freePort()];
    await registerThroughEdge(b, calleePort, 'Supported: path');
    const uas = callee('uas-answer.xml', calleePort, { HANGUP_STEPS: CALLEE_HANGS_UP_ROUTED });
    const uac = await callThroughEdge(a, b.number, callerPort, answeredWithRecordRoute(WAIT_FOR_BYE));
    const uasRun = await uas;
    assert.equal(uac.code, 0, `${uac.errors || uac.output}\n${edgeLines().join('\n')}`);
    assert.equal(uasRun.code, 0, `${uasRun.errors || uasRun.output}\n${edgeLines().join('\n')}`);
    const sb = `127.0.0.1:${ctx.t.server.sipPort}`;
    await edgeLogged([`EDGE in-dialog BYE from 127.0.0.1:${calleePort}`, `EDGE in-dialog BYE from ${sb} to sip:${a.number}@127.0.0.1:${callerPort}`]);
  });
});
