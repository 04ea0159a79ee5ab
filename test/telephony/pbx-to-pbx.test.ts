// A second Switchboard server as the far PBX, reached over a trunk both ways: two real servers in this process, each
// with its own database and data directory, server A on 127.0.0.1 and server B on 127.0.0.2 (another host: a PBX
// knows a carrier's INVITE by its source address, and each server's phones live on its own address). Each has an IP
// trunk to the other, phone numbers (DIDs) leading to its extensions, and an outbound route sending the other's
// block of numbers over the trunk. So every call here crosses both engines: out of one through an outbound route,
// into the other as a carrier's call to a DID. In-dialog requests cross the trunk too, and are taken because they
// come from the trunk's peer (dialog-peer.ts); a final failure of the far PBX comes back to the caller as it was.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { agent, answered, CALLEE_HANGS_UP, CALLER_HANGS_UP, callee, callerRefused, caller, type Ext, registerAt, WAIT_FOR_BYE } from '../support/calls.ts';
import { freePort } from '../support/process.ts';
import { type TestServer, useTestServer } from '../support/server.ts';
import { until } from '../support/wait.ts';

const A_HOST = '127.0.0.1';
const B_HOST = '127.0.0.2';
/** A's numbers are +1 415 555 01xx, B's +1 415 555 02xx: each server's outbound route takes the other's block. */
const A_DID = '+14155550100';
const B_DID = '+14155550200';
const B_BUSY_DID = '+14155550201';
/** In B's block, but not one of B's numbers. */
const B_UNKNOWN = '+14155550299';

/** One building: its server, its administrator's token, and what the test set up in it. */
interface Site {
  ctx: { t: TestServer; token: string };
  host: string;
  /** The trunk to the other server. */
  trunkId: string;
  /** The extension its DID leads to. */
  ext: Ext;
  /** A second extension, on B only, whose phone is busy. */
  busy?: Ext;
}

async function post(t: TestServer, token: string, url: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await t.request('POST', url, { token, body });
  assert.equal(res.statusCode, 201, `${url}: ${res.body}`);
  return res.json() as Record<string, unknown>;
}

/**
 * Sets up `site` as one end of the trunk: an IP trunk to the far server (its calls are taken from the far server's
 * address, without digest), its DIDs to its extensions, and a route sending `farBlock` over the trunk with its own
 * DID as caller ID.
 */
async function building(site: Site, far: Site, dids: Array<[string, Ext]>, farBlock: string): Promise<void> {
  const { t, token } = site.ctx;
  const trunk = await post(t, token, '/api/pbx/trunks', {
    name: `Switchboard at ${far.host}`,
    auth: 'ip',
    servers: [{ host: far.host, port: far.ctx.t.server.sipPort, transport: 'udp' }],
    allowedAddresses: [far.host],
    keepaliveSeconds: 0,
  });
  site.trunkId = trunk.id as string;
  for (const [number, ext] of dids) await post(t, token, '/api/pbx/numbers', { number, destination: { type: 'extension', number: ext.number } });
  await post(t, token, '/api/pbx/outbound-routes', { name: `The far PBX's numbers`, patterns: [farBlock], trunkIds: [site.trunkId], callerId: dids[0]?.[0] });
  // The engine reads carriers from a cache filled behind the API's writes.
  await t.server.directory.carriers.cache.idle();
}

/** The session of the call `matches` names, once it ended, as the call log shows it (its row is written behind). */
async function endedSession(site: Site, what: string, matches: (s: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  const { t, token } = site.ctx;
  const session = await until(
    `${what}: its session, ended`,
    async () => ((await t.request('GET', '/api/pbx/calls/sessions?limit=50', { token })).json() as { sessions: Array<Record<string, unknown>> }).sessions.find(matches),
    (s) => s !== undefined && s.endedAt !== null && s.endedAt !== undefined,
  );
  return session as Record<string, unknown>;
}

/** Every call of both servers ended: nothing is left ringing or talking on either side of the trunk. */
async function bothIdle(a: Site, b: Site): Promise<void> {
  for (const site of [a, b]) await until(`no call left on ${site.host}`, () => site.ctx.t.server.telephony.calls.activeCalls.length, (n) => n === 0);
}

describe('a second Switchboard server as the far PBX, reached over a trunk both ways', () => {
  const a: Site = { ctx: useTestServer('pglite'), host: A_HOST } as Site;
  const b: Site = { ctx: useTestServer('pglite', { sipHost: B_HOST }), host: B_HOST } as Site;

  before(async () => {
    a.ext = await agent(a.ctx.t, a.ctx.token, 'Calls Across A');
    b.ext = await agent(b.ctx.t, b.ctx.token, 'Calls Across B');
    b.busy = await agent(b.ctx.t, b.ctx.token, 'Busy Across B');
    await building(a, b, [[A_DID, a.ext]], '_+141555502XX');
    await building(b, a, [[B_DID, b.ext], [B_BUSY_DID, b.busy]], '_+141555501XX');
  });

  it("A's extension dials B's DID: B knows A as its carrier, B's extension rings and answers, and the caller's BYE crosses both servers; the sessions say outbound on A and inbound on B", async () => {
    const port = await freePort();
    const phone = callee('uas-answer.xml', port, { HANGUP_STEPS: WAIT_FOR_BYE }, { localIp: B_HOST });
    await registerAt(b.ctx.t, b.ext, port);

    const uac = await caller(a.ctx.t, a.ext, B_DID, answered(CALLER_HANGS_UP));
    assert.equal(uac.code, 0, uac.errors || uac.output);
    const took = await phone;
    assert.equal(took.code, 0, `the BYE reached B's phone: ${took.errors || took.output}`);
    assert.match(took.log, /by [^\n]*<sip:\+14155550100@/, "B's phone is shown A's caller ID, asserted over the trunk");

    const out = await endedSession(a, 'the call out of A', (s) => s.externalNumber === B_DID);
    assert.equal(out.direction, 'outbound');
    assert.equal(out.trunkId, a.trunkId);
    assert.equal(out.fromNumber, String(a.ext.number));
    assert.equal(out.status, 'COMPLETED');
    const into = await endedSession(b, 'the call into B', (s) => s.did === B_DID);
    assert.equal(into.direction, 'inbound');
    assert.equal(into.trunkId, b.trunkId);
    assert.equal(into.externalNumber, A_DID);
    assert.equal(into.toNumber, String(b.ext.number));
    assert.equal(into.status, 'COMPLETED');
    await bothIdle(a, b);
  });

  it("the reverse: B's extension dials A's DID, A's extension answers and hangs up, and its BYE comes back over the trunk to B's caller", async () => {
    const port = await freePort();
    const phone = callee('uas-answer.xml', port, { HANGUP_STEPS: CALLEE_HANGS_UP }, { localIp: A_HOST });
    await registerAt(a.ctx.t, a.ext, port);

    const uac = await caller(b.ctx.t, b.ext, A_DID, answered(WAIT_FOR_BYE));
    assert.equal(uac.code, 0, `the far PBX's BYE reached B's caller: ${uac.errors || uac.output}`);
    const took = await phone;
    assert.equal(took.code, 0, took.errors || took.output);
    assert.match(took.log, /by [^\n]*<sip:\+14155550200@/, "A's phone is shown B's caller ID");

    const out = await endedSession(b, 'the call out of B', (s) => s.externalNumber === A_DID);
    assert.equal(out.direction, 'outbound');
    assert.equal(out.trunkId, b.trunkId);
    assert.equal(out.status, 'COMPLETED');
    const into = await endedSession(a, 'the call into A', (s) => s.did === A_DID);
    assert.equal(into.direction, 'inbound');
    assert.equal(into.trunkId, a.trunkId);
    assert.equal(into.externalNumber, B_DID);
    assert.equal(into.status, 'COMPLETED');
    await bothIdle(a, b);
  });

  it("a number B does not have: B answers 404, and A's caller hears 404 through the trunk", async () => {
    const uac = await caller(a.ctx.t, a.ext, B_UNKNOWN, callerRefused(404));
    assert.equal(uac.code, 0, uac.errors || uac.output);
    // A's route took the number and the call went out over the trunk: the 404 is B's answer, not A's own refusal.
    const out = await endedSession(a, 'the call out of A', (s) => s.externalNumber === B_UNKNOWN);
    assert.equal(out.trunkId, a.trunkId);
    assert.equal(out.endCause, 'rejected');
    await bothIdle(a, b);
  });

  it("the far side busy: B's extension answers 486, and A's caller hears 486", async () => {
    const port = await freePort();
    const phone = callee('uas-reject.xml', port, { STATUS: '486' }, { localIp: B_HOST });
    await registerAt(b.ctx.t, b.busy as Ext, port);

    const uac = await caller(a.ctx.t, a.ext, B_BUSY_DID, callerRefused(486));
    assert.equal(uac.code, 0, uac.errors || uac.output);
    const refused = await phone;
    assert.equal(refused.code, 0, refused.errors || refused.output);
    const out = await endedSession(a, 'the call out of A', (s) => s.externalNumber === B_BUSY_DID);
    assert.equal(out.trunkId, a.trunkId);
    assert.equal(out.endCause, 'busy');
    const into = await endedSession(b, 'the call into B', (s) => s.did === B_BUSY_DID);
    assert.equal(into.trunkId, b.trunkId);
    assert.equal(into.endCause, 'busy');
    await bothIdle(a, b);
  });
});
