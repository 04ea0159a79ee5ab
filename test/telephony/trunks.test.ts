// Calls across the building's walls, with sipp as the carriers and the phones: a carrier known by its address calls
// the tenant's numbers (DIDs), which lead to an extension or a queue; an extension's call out follows the tenant's
// outbound routes through their trunks in order (failover on 5xx), presents the route's caller ID in From and
// P-Asserted-Identity (RFC 3325), and answers the carrier's challenge with the trunk's credentials (RFC 3261
// section 22.2). Fraud: nobody who has not authenticated as an extension reaches a trunk, a class of numbers the
// user may not dial is 403, and the tenant's cap on external calls is 503.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { freePort } from '../support/process.ts';
import { createUser, type TestServer, useTestServer } from '../support/server.ts';
import { runSipp, type SippRun } from '../support/sipp.ts';
import { agent, answered, answerReinvite, CALLEE_HANGS_UP, CALLER_CANCELS, CALLER_HANGS_UP, callee, caller, callerRefused, carrierCaller, type Ext, registerAt, WAIT_FOR_BYE } from '../support/calls.ts';

const CARRIER_PASSWORD = 'Carrier-Pass-2026';

/** A carrier's 401 before it takes the call: the PBX must send the INVITE again with the trunk's credentials. */
const CHALLENGE = `
  <recv request="INVITE" />
  <send>
    <![CDATA[
      SIP/2.0 401 Unauthorized
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag12[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      WWW-Authenticate: Digest realm="carrier.test", nonce="a1b2c3d4e5f6[call_number]", algorithm=MD5
      Content-Length: 0

    ]]>
  </send>
  <recv request="ACK" />`;

const VERIFY = `<verifyauth assign_to="authok" username="acct-77" password="${CARRIER_PASSWORD}" />
      <log message="credentials valid [$authok]" />`;

/** A sipp carrier taking calls out of the PBX on `port`: it logs the dialled number, From, P-Asserted-Identity and Privacy. */
function carrier(port: number, substitute: Record<string, string> = {}, options: { calls?: number } = {}): Promise<SippRun> {
  return callee('uas-carrier.xml', port, { CHALLENGE: '', VERIFY: '', ...substitute }, options);
}

async function post(t: TestServer, token: string, url: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await t.request('POST', url, { token, body });
  assert.ok(res.statusCode < 300, `${url}: ${res.statusCode} ${res.body}`);
  return res.json() as Record<string, unknown>;
}

async function patch(t: TestServer, token: string, url: string, body: unknown): Promise<void> {
  const res = await t.request('PATCH', url, { token, body });
  assert.ok(res.statusCode < 300, `${url}: ${res.statusCode} ${res.body}`);
}

/** An IP-authenticated trunk whose carrier listens on 127.0.0.1:`port` and calls from `from`. */
async function ipTrunk(t: TestServer, token: string, name: string, port: number, from: string[], extra: Record<string, unknown> = {}): Promise<string> {
  const trunk = await post(t, token, '/api/pbx/trunks', { name, auth: 'ip', servers: [{ host: '127.0.0.1', port }], allowedAddresses: from, keepaliveSeconds: 0, ...extra });
  return trunk.id as string;
}

/** The first call session `match` takes, as the call log shows it (its row is written behind). */
async function sessionOf(t: TestServer, token: string, match: (s: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  for (let i = 0; i < 50; i++) {
    const res = await t.request('GET', '/api/pbx/calls/sessions?limit=50', { token });
    const found = (res.json() as { sessions: Array<Record<string, unknown>> }).sessions.find(match);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no such call session');
}

describe('calls from a carrier to the tenant\'s numbers (DIDs)', () => {
  const ctx = useTestServer('pglite');

  it('a carrier authenticated by its address calls a number that leads to an extension: the extension rings and answers; the session names the trunk, the caller outside and the DID', async () => {
    const b = await agent(ctx.t, ctx.token, 'Did Callee');
    const trunkId = await ipTrunk(ctx.t, ctx.token, 'Inbound Carrier', 5999, ['127.0.0.2']);
    await post(ctx.t, ctx.token, '/api/pbx/numbers', { number: '+1 415 555 0100', destination: { type: 'extension', number: b.number } });
    const port = await freePort();
    const phone = callee('uas-answer.xml', port);
    await registerAt(ctx.t, b, port);
    const uac = await carrierCaller(ctx.t, '127.0.0.2', '+12125550199', '+14155550100', answered(CALLER_HANGS_UP));
    assert.equal(uac.code, 0, uac.errors || uac.output);
    const took = await phone;
    assert.equal(took.code, 0, took.errors || took.output);
    assert.match(took.log, /by [^\n]*sip:\+12125550199@/, 'the phone sees the caller outside');
    const session = await sessionOf(ctx.t, ctx.token, (s) => s.did === '+14155550100');
    assert.equal(session.direction, 'inbound');
    assert.equal(session.trunkId, trunkId);
    assert.equal(session.externalNumber, '+12125550199');
    // The call log and the figures filter by number and direction: inbound is from the network here.
    const number = encodeURIComponent('+14155550100');
    const inbound = (await ctx.t.request('GET', `/api/pbx/calls/sessions?direction=inbound&number=${number}`, { token: ctx.token })).json() as { sessions: Array<{ id: string }> };
    assert.deepEqual(inbound.sessions.map((s) => s.id), [session.id]);
    const outbound = (await ctx.t.request('GET', `/api/pbx/calls/sessions?direction=outbound&number=${number}`, { token: ctx.token })).json() as { sessions: unknown[] };
    assert.equal(outbound.sessions.length, 0);
    const figures = (await ctx.t.request('GET', `/api/pbx/manager/metrics?number=${number}&direction=inbound`, { token: ctx.token })).json() as { totalCalls: number; answeredCalls: number };
    assert.equal(figures.totalCalls, 1);
    assert.equal(figures.answeredCalls, 1);
  });

  it('a carrier that does not record-route may end the call from another of its trunk\'s addresses; a BYE naming the dialog from an address no trunk has is refused 403 (RFC 3261 section 26.1.4)', async () => {
    const b = await agent(ctx.t, ctx.token, 'Spread Carrier Callee');
    await ipTrunk(ctx.t, ctx.token, 'Two Server Carrier', 5998, ['127.0.0.21', '127.0.0.22']);
    await post(ctx.t, ctx.token, '/api/pbx/numbers', { number: '+1 415 555 0181', destination: { type: 'extension', number: b.number } });
    const port = await freePort();
    const phone = callee('uas-answer.xml', port);
    await registerAt(ctx.t, b, port);
    // The carrier's first server places the call and is done after its ACK; its BYE comes from its second server.
    const uac = await carrierCaller(ctx.t, '127.0.0.21', '+12125550181', '+14155550181', answered(''));
    assert.equal(uac.code, 0, uac.errors || uac.output);
    const call = ctx.t.server.telephony.calls.activeCalls.find((c) => c.caller.number === '+12125550181' && c.callerDialog);
    assert.ok(call?.callerDialog, 'the call is answered');
    const dialog = call.callerDialog.id;
    const bye = { FROM_TAG: dialog.remoteTag, TO_TAG: dialog.localTag, FROM_USER: '+12125550181', TO_USER: '+14155550181' };
    for (const [localIp, expect] of [['127.0.0.23', '403'], ['127.0.0.22', '200']] as const) {
      const run = await runSipp({ scenario: 'uac-forged-bye.xml', target: `127.0.0.1:${ctx.t.server.sipPort}`, localIp, substitute: { ...bye, EXPECT: expect }, extra: ['-cid_str', dialog.callId], timeoutSeconds: 10 });
      assert.equal(run.code, 0, `a BYE from ${localIp} is answered ${expect}: ${run.errors || run.output}`);
    }
    const took = await phone;
    assert.equal(took.code, 0, `the phone hears BYE: ${took.errors || took.output}`);
  });

  it('a number that leads to a queue: the carrier\'s caller waits and reaches an agent as an internal caller does', async () => {
    const x = await agent(ctx.t, ctx.token, 'Did Queue Agent');
    await ipTrunk(ctx.t, ctx.token, 'Queue Carrier', 5998, ['127.0.0.3/32']);
    const port = await freePort();
    const phone = callee('uas-answer.xml', port);
    await registerAt(ctx.t, x, port);
    const status = await ctx.t.request('PUT', `/api/pbx/agent-extensions/${x.id}/status`, { token: ctx.token, body: { status: 'AVAILABLE' } });
    assert.ok(status.statusCode < 300, status.body);
    await post(ctx.t, ctx.token, '/api/pbx/queues', { name: 'Did Sales', number: '2201', strategy: 'ringall', ringTimeout: 20, retryDelay: 0, wrapUpTime: 0, members: [{ extensionId: x.id }] });
    await post(ctx.t, ctx.token, '/api/pbx/numbers', { number: '+14155550101', destination: { type: 'queue', number: 2201 } });
    const connected: string[] = [];
    const off = ctx.t.server.bus.on('queue.connected', (e) => void connected.push(e.extensionId));
    const uac = await carrierCaller(ctx.t, '127.0.0.3', '+12125550198', '14155550101', answered(CALLER_HANGS_UP));
    off();
    assert.equal(uac.code, 0, uac.errors || uac.output);
    const took = await phone;
    assert.equal(took.code, 0, took.errors || took.output);
    assert.deepEqual(connected, [x.id]);
  });

  it('a carrier\'s late offer (an INVITE without SDP, RFC 3261 section 13.2.1): the extension is offered nothing, its 2xx offer reaches the carrier, and the carrier\'s answer in the ACK reaches the extension', async () => {
    const b = await agent(ctx.t, ctx.token, 'Did Late Offer');
    await ipTrunk(ctx.t, ctx.token, 'Late Offer Carrier', 5995, ['127.0.0.7']);
    await post(ctx.t, ctx.token, '/api/pbx/numbers', { number: '+14155550103', destination: { type: 'extension', number: b.number } });
    const port = await freePort();
    const [offerPort, answerPort] = ['41236', '42470'];
    const phone = callee('uas-late-offer.xml', port, { OFFER_PORT: offerPort });
    await registerAt(ctx.t, b, port);
    const uac = await runSipp({
      scenario: 'uac-carrier-late-offer.xml',
      target: `127.0.0.1:${ctx.t.server.sipPort}`,
      localIp: '127.0.0.7',
      rows: [['+12125550194', '', '+14155550103']],
      vars: { domain: `127.0.0.1:${ctx.t.server.sipPort}` },
      substitute: { ANSWER_PORT: answerPort, HANGUP_STEPS: CALLER_HANGS_UP, TALK: '300' },
      timeoutSeconds: 25,
    });
    const took = await phone;
    assert.equal(uac.code, 0, uac.errors || uac.output);
    assert.equal(took.code, 0, took.errors || took.output);
    assert.match(took.log, /invite body length 0/, 'the extension was not offered anything');
    assert.equal(/offered in the 2xx: .* port (\d+)/.exec(uac.log)?.[1], offerPort, "the carrier was offered the phone's media (direct media)");
    assert.equal(/answered in the ACK: .* port (\d+)/.exec(took.log)?.[1], answerPort, "the phone was answered with the carrier's media");
  });

  it('a carrier that cancels before the extension answers: the phone hears CANCEL, the carrier gets 487', async () => {
    const b = await agent(ctx.t, ctx.token, 'Did Cancelled');
    await ipTrunk(ctx.t, ctx.token, 'Cancelling Carrier', 5996, ['127.0.0.6']);
    await post(ctx.t, ctx.token, '/api/pbx/numbers', { number: '+14155550102', destination: { type: 'extension', number: b.number } });
    const port = await freePort();
    const phone = callee('uas-ring-until-cancel.xml', port);
    await registerAt(ctx.t, b, port);
    const uac = await carrierCaller(ctx.t, '127.0.0.6', '+12125550195', '+14155550102', CALLER_CANCELS);
    assert.equal(uac.code, 0, uac.errors || uac.output);
    const rang = await phone;
    assert.equal(rang.code, 0, `the phone heard CANCEL: ${rang.errors || rang.output}`);
  });

  it('a carrier\'s call to a number the tenant does not have is 404', async () => {
    await ipTrunk(ctx.t, ctx.token, 'Unknown Number Carrier', 5997, ['127.0.0.4']);
    const uac = await carrierCaller(ctx.t, '127.0.0.4', '+12125550197', '+14155550999', callerRefused(404));
    assert.equal(uac.code, 0, uac.errors || uac.output);
  });
});

describe('calls out through trunks (outbound routes)', () => {
  const ctx = useTestServer('pglite');

  it('the first trunk answers 503, the second carries the call; the carrier sees the number in E.164 and the route\'s caller ID in From and P-Asserted-Identity', async () => {
    const a = await agent(ctx.t, ctx.token, 'Outbound Failover');
    const [p1, p2] = [await freePort(), await freePort()];
    const first = callee('uas-reject.xml', p1, { STATUS: '503' });
    const second = carrier(p2);
    const t1 = await ipTrunk(ctx.t, ctx.token, 'Failing Carrier', p1, []);
    const t2 = await ipTrunk(ctx.t, ctx.token, 'Working Carrier', p2, []);
    await post(ctx.t, ctx.token, '/api/pbx/outbound-routes', { name: 'US national', patterns: ['_1NXXXXXXXXX', '_NXXXXXXXXX'], trunkIds: [t1, t2], callerId: '+14155550100' });
    const uac = await caller(ctx.t, a, '15551234567', answered(CALLER_HANGS_UP));
    assert.equal(uac.code, 0, uac.errors || uac.output);
    const [refused, took] = await Promise.all([first, second]);
    assert.equal(refused.code, 0, refused.errors || refused.output);
    assert.equal(took.code, 0, took.errors || took.output);
    assert.match(took.log, /dialled \+15551234567 /);
    assert.match(took.log, /from\s+<sip:\+14155550100@127\.0\.0\.1>/);
    assert.match(took.log, /pai\s+<sip:\+14155550100@127\.0\.0\.1>/);
    const session = await sessionOf(ctx.t, ctx.token, (s) => s.externalNumber === '+15551234567');
    assert.equal(session.direction, 'outbound');
    assert.equal(session.trunkId, t2, 'the session names the trunk that carried the call');
    assert.equal(session.callerIdPresented, '+14155550100');
  });

  it('a trunk marked down (its keepalive finds nobody) is skipped: the next trunk carries the call', async () => {
    const a = await agent(ctx.t, ctx.token, 'Outbound Down Skipped');
    const [deadPort, livePort] = [await freePort(), await freePort()];
    const far = carrier(livePort);
    const dead = await ipTrunk(ctx.t, ctx.token, 'Dead Carrier', deadPort, [], { servers: [{ host: '127.0.0.1', port: deadPort, transport: 'tcp' }], keepaliveSeconds: 1 });
    const live = await ipTrunk(ctx.t, ctx.token, 'Live Carrier', livePort, []);
    await post(ctx.t, ctx.token, '/api/pbx/outbound-routes', { name: 'Skip the dead', patterns: ['15550005555'], trunkIds: [dead, live], priority: 0 });
    let state = '';
    for (let i = 0; i < 100 && state !== 'down'; i++) {
      state = ((await ctx.t.request('GET', `/api/pbx/trunks/${dead}`, { token: ctx.token })).json() as { status: { state: string } }).status.state;
      if (state !== 'down') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(state, 'down', 'the keepalive marked the trunk down');
    const used: string[] = [];
    const off = ctx.t.server.bus.on('call.trunk', (e) => void used.push(e.trunkId));
    const uac = await caller(ctx.t, a, '15550005555', answered(CALLER_HANGS_UP));
    off();
    assert.equal(uac.code, 0, uac.errors || uac.output);
    const took = await far;
    assert.equal(took.code, 0, took.errors || took.output);
    assert.deepEqual(used, [live], 'only the live trunk was tried');
  });

  it('a carrier that challenges the INVITE (401) gets it again with the trunk\'s digest credentials; a withheld caller ID is From anonymous with Privacy: id', async () => {
    const a = await agent(ctx.t, ctx.token, 'Outbound Challenged');
    const port = await freePort();
    const far = carrier(port, { CHALLENGE, VERIFY });
    const trunk = await ipTrunk(ctx.t, ctx.token, 'Challenging Carrier', port, [], { username: 'acct-77', password: CARRIER_PASSWORD });
    await post(ctx.t, ctx.token, '/api/pbx/outbound-routes', { name: 'Withheld', patterns: ['_44.'], prepend: '+', trunkIds: [trunk], callerId: '+14155550100', withholdCallerId: true, priority: 0 });
    await patch(ctx.t, ctx.token, '/api/pbx/dial-policy', { classes: { ADMIN: ['emergency', 'internal', 'tollfree', 'national', 'mobile', 'international'], AGENT: ['emergency', 'internal', 'tollfree', 'national', 'mobile', 'international'] } });
    const uac = await caller(ctx.t, a, '442071838750', answered(CALLER_HANGS_UP));
    assert.equal(uac.code, 0, uac.errors || uac.output);
    const took = await far;
    assert.equal(took.code, 0, took.errors || took.output);
    assert.match(took.log, /credentials valid (true|1)/, took.log);
    assert.match(took.log, /dialled \+442071838750 /);
    assert.match(took.log, /from\s+"Anonymous" <sip:anonymous@anonymous\.invalid>/);
    assert.match(took.log, /pai\s+<sip:\+14155550100@127\.0\.0\.1>/, 'the carrier is still told who calls (RFC 3325)');
    assert.match(took.log, /privacy\s+id/);
  });
  it('a carrier that requires reliable provisional responses (RFC 3262): the INVITE offers 100rel, the reliable 183 is PRACKed in its early dialog, and the BYE counts on from the PRACK', async () => {
    const a = await agent(ctx.t, ctx.token, 'Outbound Prack');
    const port = await freePort();
    const far = callee('uas-carrier-100rel.xml', port);
    const trunk = await ipTrunk(ctx.t, ctx.token, 'Reliable Carrier', port, []);
    await post(ctx.t, ctx.token, '/api/pbx/outbound-routes', { name: 'Reliable', patterns: ['15550001111'], trunkIds: [trunk], priority: 0 });
    const uac = await caller(ctx.t, a, '15550001111', answered(CALLER_HANGS_UP));
    assert.equal(uac.code, 0, uac.errors || uac.output);
    const took = await far;
    assert.equal(took.code, 0, took.errors || took.output);
    assert.match(took.log, /offered Supported:[^\n]*100rel/);
    const rack = /rack\s*1 (\d+) INVITE prack cseq (\d+)/.exec(took.log);
    assert.ok(rack, took.log);
    const bye = Number(/bye cseq (\d+)/.exec(took.log)?.[1]);
    assert.ok(bye > Number(rack[2]), `the BYE's CSeq ${bye} counts on from the PRACK's ${rack[2]}`);
  });

  it('a queue\'s fallback to a number outside: a caller nobody answers in time is sent out through the routes, and talks with the carrier', async () => {
    const a = await agent(ctx.t, ctx.token, 'Fallback Caller');
    const port = await freePort();
    const far = carrier(port);
    const trunk = await ipTrunk(ctx.t, ctx.token, 'Fallback Carrier', port, []);
    await post(ctx.t, ctx.token, '/api/pbx/outbound-routes', { name: 'Overflow', patterns: ['_+1555000333X'], trunkIds: [trunk], priority: 0 });
    await post(ctx.t, ctx.token, '/api/pbx/queues', { name: 'Overflowing', number: '2301', maxWait: 1, joinWhenEmpty: 'yes', fallback: { type: 'external', target: '+15550003333' } });
    const uac = await caller(ctx.t, a, 2301, answered(CALLER_HANGS_UP));
    assert.equal(uac.code, 0, uac.errors || uac.output);
    const took = await far;
    assert.equal(took.code, 0, took.errors || took.output);
    assert.match(took.log, /dialled \+15550003333 /);
  });

  it('a carrier that redirects (302): the call follows the Contact, sent to the same carrier, and is answered there', async () => {
    const a = await agent(ctx.t, ctx.token, 'Outbound Redirected');
    const port = await freePort();
    const far = callee('uas-redirect.xml', port, { CONTACT: 'sip:+15550004444@203.0.113.9' });
    const trunk = await ipTrunk(ctx.t, ctx.token, 'Redirecting Carrier', port, []);
    await post(ctx.t, ctx.token, '/api/pbx/outbound-routes', { name: 'Redirected', patterns: ['15550004440'], trunkIds: [trunk], priority: 0 });
    const uac = await caller(ctx.t, a, '15550004440', answered(CALLER_HANGS_UP));
    assert.equal(uac.code, 0, uac.errors || uac.output);
    const took = await far;
    assert.equal(took.code, 0, took.errors || took.output);
    assert.match(took.log, /redirected to sip:\+15550004444@203\.0\.113\.9 /, 'the new Request-URI, through the carrier it came from');
  });

  it('an agent transfers its caller blind to a number outside (seed 001: "Extension or phone number"): the carrier answers and talks with the caller, the agent is let go', async () => {
    const a = await agent(ctx.t, ctx.token, 'Transfer Out Caller');
    const user = await createUser(ctx.t, ctx.token, { name: 'Transfer Out Agent', email: 'transfer.out.agent@example.com', password: 'agent-pass-2026' });
    const b = user.extension as Ext;
    const agentToken = await ctx.t.login('transfer.out.agent@example.com', 'agent-pass-2026');
    const [bPort, farPort] = [await freePort(), await freePort()];
    const phone = callee('uas-answer.xml', bPort);
    const far = carrier(farPort, { HANGUP_STEPS: CALLEE_HANGS_UP, TALK: '1000' });
    await registerAt(ctx.t, b, bPort);
    const trunk = await ipTrunk(ctx.t, ctx.token, 'Transfer Carrier', farPort, []);
    await post(ctx.t, ctx.token, '/api/pbx/outbound-routes', { name: 'Transfers', patterns: ['15557654321'], trunkIds: [trunk], priority: 0 });
    let callId: string | undefined;
    const off = ctx.t.server.bus.on('call.answered', (e) => void (callId ??= e.callId));
    // The caller talks with the agent, is re-INVITEd to the carrier's media once it answers; the carrier hangs up.
    const uac = caller(ctx.t, a, b.number, answered(answerReinvite('sendrecv', '[media_port]') + WAIT_FOR_BYE));
    for (let i = 0; i < 100 && callId === undefined; i++) await new Promise((r) => setTimeout(r, 50));
    off();
    assert.ok(callId, 'the call was answered');
    const res = await ctx.t.request('POST', `/api/pbx/calls/${callId}/transfer`, { token: agentToken, body: { target: '1 555 765 4321' } });
    assert.equal(res.statusCode, 200, res.body);
    const [callerRun, agentRun, farRun] = await Promise.all([uac, phone, far]);
    assert.equal(callerRun.code, 0, callerRun.errors || callerRun.output);
    assert.equal(agentRun.code, 0, `the agent was let go (BYE): ${agentRun.errors || agentRun.output}`);
    assert.equal(farRun.code, 0, farRun.errors || farRun.output);
    assert.match(farRun.log, /dialled \+15557654321 /);
  });
});

describe('calls out through the relay (rtpengine)', () => {
  const ctx = useTestServer('pglite', { rtpengine: 'auto' });

  it('a carrier offered only its own codecs: a phone speaking PCMU reaches a PCMA-only trunk, the relay transcoding between them', async () => {
    const a = await agent(ctx.t, ctx.token, 'Outbound Transcoded');
    const port = await freePort();
    const far = carrier(port);
    const trunk = await ipTrunk(ctx.t, ctx.token, 'PCMA Carrier', port, [], { codecs: ['PCMA'] });
    await post(ctx.t, ctx.token, '/api/pbx/outbound-routes', { name: 'Transcoded', patterns: ['15550002222'], trunkIds: [trunk], priority: 0 });
    const uac = await caller(ctx.t, a, '15550002222', answered(CALLER_HANGS_UP));
    assert.equal(uac.code, 0, uac.errors || uac.output);
    const took = await far;
    assert.equal(took.code, 0, took.errors || took.output);
    const payloads = /payloads ([0-9 ]+)/.exec(took.log)?.[1]?.trim().split(/\s+/) ?? [];
    assert.equal(payloads[0], '8', `PCMA is offered first: ${took.log}`);
    assert.ok(!payloads.includes('0'), `PCMU, the phone's codec, is not offered to the carrier: ${took.log}`);
  });
});

describe('who may call what: never an open relay', () => {
  const ctx = useTestServer('pglite');

  it('an INVITE to a number outside from an address that is no trunk and no authenticated extension never reaches a trunk', async () => {
    const port = await freePort();
    const trunk = await ipTrunk(ctx.t, ctx.token, 'Guarded Carrier', port, []);
    await post(ctx.t, ctx.token, '/api/pbx/outbound-routes', { name: 'Everything', patterns: ['_X.', '_+X.'], trunkIds: [trunk] });
    const sent: string[] = [];
    const off = ctx.t.server.bus.on('call.trunk', (e) => void sent.push(e.callId));
    // No credentials, a domain the PBX does not serve: refused before anything is looked up.
    const foreign = await carrierCaller(ctx.t, '127.0.0.5', '+12125550196', '15551234567', callerRefused(403));
    assert.equal(foreign.code, 0, foreign.errors || foreign.output);
    // The tenant's own domain, no credentials: challenged, and a caller that cannot answer gets no further.
    const unauthenticated = await runSipp({
      scenario: 'uac-carrier-call.xml',
      target: `127.0.0.1:${ctx.t.server.sipPort}`,
      localIp: '127.0.0.5',
      rows: [['1000', '', '+15551234567']],
      vars: { domain: 'pbx.test' },
      substitute: { OUTCOME: callerRefused(407), MEDIA_PORT: '[media_port]' },
      timeoutSeconds: 25,
    });
    assert.equal(unauthenticated.code, 0, unauthenticated.errors || unauthenticated.output);
    off();
    assert.deepEqual(sent, [], 'no call went to a trunk');
  });

  it('an agent without the international class gets 403; the tenant\'s cap on external calls answers 503 past its limit; an emergency number is never capped', async () => {
    const a = await agent(ctx.t, ctx.token, 'Policy Caller');
    const port = await freePort();
    const trunk = await ipTrunk(ctx.t, ctx.token, 'Policy Carrier', port, []);
    await post(ctx.t, ctx.token, '/api/pbx/outbound-routes', { name: 'All out', patterns: ['_011.', '_1NXXXXXXXXX', '911'], trunkIds: [trunk], priority: 0 });
    const international = await caller(ctx.t, a, '011442071838750', callerRefused(403));
    assert.equal(international.code, 0, international.errors || international.output);

    await patch(ctx.t, ctx.token, '/api/pbx/dial-policy', { maxExternalCalls: 1 });
    // One call out holds the only slot while a second is tried.
    const far = carrier(port, { TALK: '3000', HANGUP_STEPS: WAIT_FOR_BYE }, { calls: 2 });
    const talking = caller(ctx.t, a, '15551234567', answered(CALLER_HANGS_UP), 4000);
    await new Promise((r) => setTimeout(r, 1500));
    const capped = await caller(ctx.t, a, '15551234568', callerRefused(503));
    assert.equal(capped.code, 0, capped.errors || capped.output);
    const emergency = await caller(ctx.t, a, '911', answered(CALLER_HANGS_UP));
    assert.equal(emergency.code, 0, `an emergency call past the cap still goes out: ${emergency.errors || emergency.output}`);
    const first = await talking;
    assert.equal(first.code, 0, first.errors || first.output);
    const carried = await far;
    assert.equal(carried.code, 0, carried.errors || carried.output);
    assert.match(carried.log, /dialled 911 /);
  });
});
