// A registration trunk against a real carrier: a Kamailio 5.6 that requires REGISTER and digest
// (test/fixtures/kamailio/carrier-calls.cfg), on another loopback address than the phones, as a carrier is another
// host. A trunk created over REST registers with it (RFC 3261 section 10.2, answering the 401); an extension's call to
// a number outside goes out through it, answering its 407 with the trunk's credentials (RFC 3261 section 22.3), the
// number in the format the trunk asks and the route's caller ID asserted (RFC 3325); a call from the carrier's
// network reaches the contact we registered (the carrier's lookup), and the DID in its To rings the extension the
// phone number leads to. The carrier record-routes, so every in-dialog request crosses it too. Both calls leave a
// call session naming its direction, trunk, outside number and DID.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CallSession } from '../../src/contact-center/index.ts';
import { trunkContactUser } from '../../src/telephony/trunks/trunk-registration.ts';
import { agent, answered, CALLER_HANGS_UP, callee, caller, registerAt } from '../support/calls.ts';
import { type Kamailio, startKamailio } from '../support/kamailio.ts';
import { freePort } from '../support/process.ts';
import { useTestServer } from '../support/server.ts';
import { runSipp } from '../support/sipp.ts';
import { until } from '../support/wait.ts';

const PASSWORD = 'carrier-s3cret';
/** The carrier is another host than the phones (127.0.0.1): the PBX knows a carrier's INVITE by its address. */
const CARRIER_HOST = '127.0.0.2';
/** Our account with the carrier: the AOR user we register, and the digest username of REGISTER and INVITE alike. */
const ACCOUNT = 'pbx-account-7';
const DID = '+14155550100';
const DIALLED = '15551234567';
/** Someone on the carrier's network who calls our DID. */
const OUTSIDE_CALLER = '+16505550123';

describe('a carrier that requires REGISTER and digest (Kamailio)', () => {
  const ctx = useTestServer('pglite');
  const req = (method: string, url: string, body?: unknown) => ctx.t.request(method, url, { token: ctx.token, ...(body === undefined ? {} : { body }) });
  let kamailio: Kamailio;
  let farEndPort: number;
  let trunkId: string;

  before(async () => {
    farEndPort = await freePort();
    kamailio = await startKamailio('carrier-calls.cfg', { PASSWORD, FAR_END: `127.0.0.1:${farEndPort}` }, { host: CARRIER_HOST });
  });
  // Registered after the server's own `after`: the server un-registers while the carrier still answers.
  after(() => kamailio?.stop());

  /** Kamailio's log reaches us through a pipe, a little after its answers do: wait for the lines a check reads. */
  function logged(what: string, pattern: RegExp): Promise<RegExpMatchArray> {
    return until(`Kamailio's log: ${what}`, () => pattern.exec(kamailio.output()), (m) => m !== null, 5_000) as Promise<RegExpMatchArray>;
  }

  /** The session of the call the REST list names with `matches`, once it ended; then its full row (trunk, outside number, DID). */
  async function endedSession(what: string, matches: (s: { toNumber: string; fromNumber: string }) => boolean): Promise<{ rest: Record<string, unknown>; row: CallSession }> {
    const rest = await until(
      `the session of ${what}, ended`,
      async () => ((await req('GET', '/api/pbx/calls/sessions')).json().sessions as Array<Record<string, unknown> & { toNumber: string; fromNumber: string }>).find(matches),
      (s) => s?.endedAt !== null && s?.endedAt !== undefined,
    );
    assert.ok(rest);
    // The REST body does not carry the carrier columns: they are read from the contact center's own record.
    const row = await ctx.t.server.contactCenter.sessions.get(ctx.t.server.systemTenant.id, rest.id as string);
    return { rest, row };
  }

  it("Switchboard registers with it: the trunk created over REST answers the carrier's 401 and reads registered", async () => {
    const res = await req('POST', '/api/pbx/trunks', {
      name: 'Kamailio carrier',
      auth: 'registration',
      servers: [{ host: kamailio.host, port: kamailio.port, transport: 'udp' }],
      username: ACCOUNT,
      password: PASSWORD,
      dialledNumberHeader: 'to',
    });
    assert.equal(res.statusCode, 201, res.body);
    trunkId = res.json().id as string;

    const status = await until(
      'the trunk registered',
      async () => (await req('GET', `/api/pbx/trunks/${trunkId}`)).json().status as { state: string; registered: boolean | null; lastError: string | null },
      (s) => s.state === 'registered',
      10_000,
    );
    assert.equal(status.registered, true);
    assert.equal(status.lastError, null);
    await logged('the first REGISTER, without credentials', new RegExp(`CARRIER REGISTER user ${ACCOUNT} contact \\[[^\\]]*\\] auth \\[<null>\\]`));
    await logged('the REGISTER again, with the credentials', new RegExp(`CARRIER REGISTER user ${ACCOUNT} contact \\[[^\\]]*\\] auth \\[${ACCOUNT}\\]`));
    // Our Contact's user names the trunk: the carrier's calls for the AOR come back to it.
    await logged('the binding saved', new RegExp(`CARRIER saved user ${ACCOUNT} contact \\[<sip:${trunkContactUser(trunkId)}@127\\.0\\.0\\.1:${ctx.t.server.sipPort};transport=udp>`));
  });

  it('Switchboard places an outbound call through it: the 407 answered with the trunk\'s credentials, the number in E.164, the route\'s caller ID asserted', async () => {
    assert.ok(trunkId, 'the registration test ran first');
    // 1 + an area code + seven digits: _1NXXNXXXXXX would refuse the fictional 555-123-4567, whose exchange starts with 1.
    const route = await req('POST', '/api/pbx/outbound-routes', { name: 'North America via Kamailio', patterns: ['_1NXXXXXXXXX'], trunkIds: [trunkId], callerId: DID });
    assert.equal(route.statusCode, 201, route.body);
    await ctx.t.server.directory.carriers.cache.idle();
    const ext = await agent(ctx.t, ctx.token, 'Calls Out Through Kamailio');

    const farEnd = callee('uas-far-end.xml', farEndPort);
    const [uac, far] = await Promise.all([caller(ctx.t, ext, DIALLED, answered(CALLER_HANGS_UP)), farEnd]);
    assert.equal(uac.code, 0, uac.errors || uac.output);
    assert.equal(far.code, 0, far.errors || far.output);

    // The trunk's numberFormat is e164 (the default): the carrier got +1..., at its own address. (sipp logs without the brackets.)
    const carrier = CARRIER_HOST.replaceAll('.', '\\.');
    assert.match(far.log, new RegExp(`request line INVITE sip:\\+${DIALLED}@${carrier}:${kamailio.port} SIP/2\\.0 `));
    assert.match(far.log, new RegExp(`from +<sip:\\${DID}@${carrier}>;tag=`), 'From presents the route\'s caller ID');
    assert.match(far.log, new RegExp(`p-asserted-identity +<sip:\\${DID}@${carrier}> `));
    assert.match(far.log, /privacy *$/m, 'the caller ID is not withheld');
    await logged('the INVITE challenged', new RegExp(`CARRIER challenge INVITE to \\+${DIALLED} from 127\\.0\\.0\\.1`));
    await logged('the INVITE taken with our credentials', new RegExp(`CARRIER call out to \\+${DIALLED} from \\${DID} as ${ACCOUNT} relayed to 127\\.0\\.0\\.1:${farEndPort}`));
    await logged("the caller's BYE through the carrier (its Record-Route)", new RegExp(`CARRIER in-dialog BYE from 127\\.0\\.0\\.1 to sip:far@127\\.0\\.0\\.1:${farEndPort}`));

    const { rest, row } = await endedSession('the call out', (s) => s.toNumber === `+${DIALLED}`);
    assert.equal(rest.direction, 'outbound');
    assert.equal(rest.fromNumber, String(ext.number));
    assert.equal(rest.status, 'COMPLETED');
    assert.equal(row.trunkId, trunkId);
    assert.equal(row.externalNumber, `+${DIALLED}`);
    assert.equal(row.did, null);
    assert.equal(row.callerIdPresented, DID);
  });

  it('Switchboard receives a call to its registered contact: the carrier relays it to our Contact, the DID in To rings the extension', async () => {
    assert.ok(trunkId, 'the registration test ran first');
    const ext = await agent(ctx.t, ctx.token, 'Answers Kamailio Calls');
    const number = await req('POST', '/api/pbx/numbers', { number: DID, destination: { type: 'extension', number: ext.number } });
    assert.equal(number.statusCode, 201, number.body);
    await ctx.t.server.directory.carriers.cache.idle();
    const phonePort = await freePort();
    const phone = callee('uas-answer.xml', phonePort);
    await registerAt(ctx.t, ext, phonePort);

    const uac = await runSipp({
      scenario: 'uac-from-network.xml',
      target: `${kamailio.host}:${kamailio.port}`,
      rows: [[OUTSIDE_CALLER, ACCOUNT, DID]],
      vars: { domain: 'carrier.test' },
      substitute: { OUTCOME: answered(CALLER_HANGS_UP), TALK: '300' },
      timeoutSeconds: 25,
    });
    assert.equal(uac.code, 0, uac.errors || uac.output);
    const answeredBy = await phone;
    assert.equal(answeredBy.code, 0, answeredBy.errors || answeredBy.output);
    assert.match(answeredBy.log, /offered sdp m=audio \d+/, "the caller's offer reached the phone");
    assert.match(answeredBy.log, new RegExp(`<sip:\\${OUTSIDE_CALLER}@`), 'the phone is shown the outside caller');

    await logged('the call relayed to our Contact', new RegExp(`CARRIER call in from \\${OUTSIDE_CALLER} to \\${DID} for \\[[^\\]]*\\] relayed to sip:${trunkContactUser(trunkId)}@127\\.0\\.0\\.1:${ctx.t.server.sipPort}`));
    await logged("the caller's BYE through the carrier", new RegExp(`CARRIER in-dialog BYE from 127\\.0\\.0\\.1 to sip:\\d+@127\\.0\\.0\\.1:${ctx.t.server.sipPort}`));

    const { rest, row } = await endedSession('the call in', (s) => s.toNumber === String(ext.number));
    assert.equal(rest.direction, 'inbound');
    assert.equal(rest.fromNumber, OUTSIDE_CALLER);
    assert.equal(rest.status, 'COMPLETED');
    assert.equal(row.trunkId, trunkId);
    assert.equal(row.externalNumber, OUTSIDE_CALLER);
    assert.equal(row.did, DID);
  });
});
