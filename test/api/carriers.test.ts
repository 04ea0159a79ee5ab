// Carriers over REST (trunks, phone numbers, outbound routes, the dial policy) against a real server on PGlite and
// PostgreSQL: who may read and change them, what is refused and how the refusal names its field, the trunk
// password kept sealed and never shown, and the engine's cache following every change without a restart.
//
// Tests that create phone numbers or caller IDs need `toE164` (src/telephony/trunks/numbering.ts), and those that
// create outbound routes need `parsePattern` (src/telephony/trunks/dial-plan.ts): they fail while those bodies are
// placeholders.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import { auditLog, trunks } from '../../src/db/index.ts';
import { SecretBox } from '../../src/directory/index.ts';
import { loadOrCreateRecordingKey } from '../../src/process/index.ts';
import { databaseKinds } from '../support/databases.ts';
import { createUser, type TestServer, useTestServer } from '../support/server.ts';

const PASSWORD = 'Carrier-Secret-4711';

const registrationTrunk = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  auth: 'registration',
  servers: [{ host: '203.0.113.10' }],
  username: 'acct-1001',
  password: PASSWORD,
  ...extra,
});

const ipTrunk = (name: string, allowedAddresses: string[], extra: Record<string, unknown> = {}) => ({
  name,
  auth: 'ip',
  servers: [{ host: 'localhost', port: 5080, transport: 'tcp' }],
  allowedAddresses,
  ...extra,
});

interface Problem {
  field: string;
  message: string;
}

for (const kind of databaseKinds) {
  describe(`carriers over REST (${kind})`, () => {
    const ctx = useTestServer(kind);
    const req = (method: string, url: string, body?: unknown, token = ctx.token) => ctx.t.request(method, url, { token, ...(body === undefined ? {} : { body }) });
    const cache = () => ctx.t.server.directory.carriers.cache;

    async function created(url: string, body: unknown): Promise<{ id: string } & Record<string, unknown>> {
      const res = await req('POST', url, body);
      assert.equal(res.statusCode, 201, res.body);
      return res.json();
    }

    /** Asserts a 400 PBX_ERR_VALIDATION whose details name `field`. */
    async function refused(method: string, url: string, body: unknown, field: string): Promise<Problem> {
      const res = await req(method, url, body);
      assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
      const error = res.json().error as { code: string; message: string; details: Problem[] };
      assert.equal(error.code, 'PBX_ERR_VALIDATION');
      const problem = error.details.find((d) => d.field === field);
      assert.ok(problem, `the refusal names ${field}: ${res.body}`);
      assert.match(error.message, new RegExp(`^${field.replaceAll('.', '\\.')} `));
      return problem;
    }

    async function tokenOf(role: string): Promise<string> {
      const email = `${role.toLowerCase()}.${kind}@carriers.test`;
      await createUser(ctx.t, ctx.token, { name: `${role} Carriers`, email, role, password: 'carriers-password-1', withExtension: false });
      return ctx.t.login(email, 'carriers-password-1');
    }

    describe('trunks', () => {
      it('an administrator creates, lists, reads, changes and deletes a trunk; the defaults are filled in', async () => {
        const trunk = await created('/api/pbx/trunks', registrationTrunk('Main carrier'));
        assert.equal(trunk.name, 'Main carrier');
        assert.equal(trunk.enabled, true);
        assert.deepEqual(trunk.servers, [{ host: '203.0.113.10', port: 5060, transport: 'udp' }]);
        assert.deepEqual(trunk.codecs, ['PCMU', 'PCMA']);
        assert.equal(trunk.registerExpires, 3600);
        assert.equal(trunk.dtmfMode, 'rfc4733');
        assert.equal(trunk.numberFormat, 'e164');
        assert.equal(trunk.country, 'US', "the tenant's country");
        assert.equal(trunk.dialledNumberHeader, 'request-uri');
        assert.equal(trunk.keepaliveSeconds, 30);
        assert.equal(trunk.hasPassword, true);
        assert.deepEqual(trunk.status, { state: 'unknown', registered: null, lastError: null, since: null });

        const tls = await created('/api/pbx/trunks', ipTrunk('Backup carrier', ['192.0.2.1'], { servers: [{ host: 'LOCALHOST', transport: 'tls' }] }));
        assert.deepEqual(tls.servers, [{ host: 'localhost', port: 5061, transport: 'tls' }], 'TLS defaults to 5061');

        const list = (await req('GET', '/api/pbx/trunks')).json().trunks as Array<{ name: string }>;
        const names = list.map((t) => t.name);
        assert.ok(names.indexOf('Backup carrier') < names.indexOf('Main carrier'), 'listed by name');

        const got = await req('GET', `/api/pbx/trunks/${trunk.id}`);
        assert.equal(got.statusCode, 200);
        assert.equal(got.json().name, 'Main carrier');

        const changed = await req('PATCH', `/api/pbx/trunks/${trunk.id}`, { name: 'Main carrier (US)', codecs: ['G722', 'PCMU'], maxCalls: 30 });
        assert.equal(changed.statusCode, 200, changed.body);
        assert.equal(changed.json().name, 'Main carrier (US)');
        assert.deepEqual(changed.json().codecs, ['G722', 'PCMU']);
        assert.equal(changed.json().maxCalls, 30);
        assert.equal(changed.json().username, 'acct-1001', 'fields left out are kept');

        const deleted = await req('DELETE', `/api/pbx/trunks/${tls.id}`);
        assert.equal(deleted.statusCode, 200, deleted.body);
        assert.deepEqual(deleted.json(), { message: 'Trunk deleted successfully', id: tls.id });
        assert.equal((await req('GET', `/api/pbx/trunks/${tls.id}`)).statusCode, 404);
        assert.equal((await req('DELETE', `/api/pbx/trunks/${tls.id}`)).json().error.code, 'PBX_ERR_TRUNK_NOT_FOUND');
      });

      it('two trunks of a tenant cannot share a name (409)', async () => {
        await created('/api/pbx/trunks', ipTrunk('Same name', ['192.0.2.2']));
        const res = await req('POST', '/api/pbx/trunks', ipTrunk('Same name', ['192.0.2.3']));
        assert.equal(res.statusCode, 409);
        assert.equal(res.json().error.code, 'PBX_ERR_TRUNK_NAME_TAKEN');
      });

      it("a trunk's password is never returned and is stored encrypted", async () => {
        const create = await req('POST', '/api/pbx/trunks', registrationTrunk('Sealed carrier'));
        assert.equal(create.statusCode, 201, create.body);
        const id = create.json().id as string;
        const bodies = [
          create.body,
          (await req('GET', '/api/pbx/trunks')).body,
          (await req('GET', `/api/pbx/trunks/${id}`)).body,
          (await req('PATCH', `/api/pbx/trunks/${id}`, { registerExpires: 600 })).body,
        ];
        for (const body of bodies) {
          assert.ok(!body.includes(PASSWORD), 'the password is not in the answer');
          assert.ok(!/"password"/.test(body), 'no password field at all');
        }

        const [row] = await ctx.t.server.database.db.select().from(trunks).where(eq(trunks.id, id));
        assert.ok(row?.passwordSealed);
        assert.ok(!row.passwordSealed.includes(PASSWORD), 'not the clear text');
        assert.ok(!Buffer.from(row.passwordSealed, 'base64').includes(Buffer.from(PASSWORD)), 'not the clear text, once decoded either');
        const box = new SecretBox(loadOrCreateRecordingKey(ctx.t.dataDir));
        assert.equal(box.open(row.passwordSealed), PASSWORD, "it opens back to the clear text under the server's key");

        await cache().idle();
        assert.equal(cache().trunk(ctx.t.server.systemTenant.id, id)?.password, PASSWORD, "the engine's copy has it in clear");

        const kept = await req('PATCH', `/api/pbx/trunks/${id}`, { name: 'Sealed carrier 2' });
        assert.equal(kept.json().hasPassword, true, 'a change without password keeps it');
        const replaced = await req('PATCH', `/api/pbx/trunks/${id}`, { password: 'Another-Secret-99' });
        assert.equal(replaced.statusCode, 200, replaced.body);
        await cache().idle();
        assert.equal(cache().trunk(ctx.t.server.systemTenant.id, id)?.password, 'Another-Secret-99');
        const cleared = await req('PATCH', `/api/pbx/trunks/${id}`, { auth: 'ip', allowedAddresses: ['192.0.2.50'], password: null });
        assert.equal(cleared.statusCode, 200, cleared.body);
        assert.equal(cleared.json().hasPassword, false, 'null clears it');
        const [after] = await ctx.t.server.database.db.select().from(trunks).where(eq(trunks.id, id));
        assert.equal(after?.passwordSealed, null);

        const audit = await ctx.t.server.database.db.select().from(auditLog).where(eq(auditLog.targetId, id));
        assert.ok(audit.some((a) => a.action === 'trunk.create' && a.outcome === 'success'));
        assert.ok(audit.some((a) => a.action === 'trunk.update'));
        const text = JSON.stringify(audit);
        assert.ok(!text.includes(PASSWORD) && !text.includes('Another-Secret-99'), 'the audit rows never hold the password');
      });

      it('a registration trunk needs a username and a password', async () => {
        await refused('POST', '/api/pbx/trunks', registrationTrunk('No password', { password: undefined }), 'body.password');
        await refused('POST', '/api/pbx/trunks', registrationTrunk('No username', { username: null }), 'body.username');
      });

      it('a host that does not resolve, a bad CIDR, a port out of range and an unknown field are refused naming the field', async () => {
        await refused('POST', '/api/pbx/trunks', ipTrunk('Nowhere', ['192.0.2.9'], { servers: [{ host: 'no-such-host.invalid' }] }), 'body.servers.0.host');
        await refused('POST', '/api/pbx/trunks', ipTrunk('Bad host', ['192.0.2.9'], { servers: [{ host: 'bad host!' }] }), 'body.servers.0.host');
        for (const bad of ['10.0.0.0/33', '2001:db8::/129', '300.1.2.3', 'example.com', '10.0.0.0/']) {
          await refused('POST', '/api/pbx/trunks', ipTrunk('Bad CIDR', ['192.0.2.9', bad]), 'body.allowedAddresses.1');
        }
        await refused('POST', '/api/pbx/trunks', ipTrunk('Bad port', ['192.0.2.9'], { servers: [{ host: '192.0.2.9', port: 70000 }] }), 'body.servers.0.port');
        await refused('POST', '/api/pbx/trunks', ipTrunk('Bad proxy', ['192.0.2.9'], { outboundProxy: 'proxy.example.com' }), 'body.outboundProxy');
        await refused('POST', '/api/pbx/trunks', ipTrunk('Bad country', ['192.0.2.9'], { country: 'ZZ' }), 'body.country');
        await refused('POST', '/api/pbx/trunks', ipTrunk('Extra', ['192.0.2.9'], { secret: 'x' }), 'body.secret');
        const trunk = await created('/api/pbx/trunks', ipTrunk('Will change', ['192.0.2.10']));
        await refused('PATCH', `/api/pbx/trunks/${trunk.id}`, { servers: [{ host: 'no-such-host.invalid' }] }, 'body.servers.0.host');
        const list = (await req('GET', '/api/pbx/trunks')).json().trunks as Array<{ name: string }>;
        assert.ok(!list.some((t) => ['Nowhere', 'Bad CIDR', 'Bad port'].includes(t.name)), 'nothing refused was stored');
      });

      it('an ip trunk without addresses is taken: it only carries calls out', async () => {
        const trunk = await created('/api/pbx/trunks', ipTrunk('Termination only', []));
        assert.deepEqual(trunk.allowedAddresses, []);
      });

      it('an IPv6 server and allowed range are taken', async () => {
        const trunk = await created('/api/pbx/trunks', ipTrunk('IPv6 carrier', ['2001:db8:300::/48'], { servers: [{ host: '[2001:db8::10]' }] }));
        assert.equal((trunk.servers as Array<{ host: string }>)[0]?.host, '2001:db8::10');
      });
    });

    describe('access', () => {
      it('an agent gets 403 on every route; a manager may read but not write', async () => {
        const trunk = await created('/api/pbx/trunks', ipTrunk('Access carrier', ['192.0.2.20']));
        const agent = await tokenOf('AGENT');
        const manager = await tokenOf('MANAGER');
        const id = trunk.id;
        const reads: Array<[string, string]> = [
          ['GET', '/api/pbx/trunks'],
          ['GET', `/api/pbx/trunks/${id}`],
          ['GET', '/api/pbx/numbers'],
          ['GET', `/api/pbx/numbers/${id}`],
          ['GET', '/api/pbx/outbound-routes'],
          ['GET', `/api/pbx/outbound-routes/${id}`],
        ];
        const writes: Array<[string, string, unknown]> = [
          ['POST', '/api/pbx/trunks', ipTrunk('Not mine', ['192.0.2.21'])],
          ['PATCH', `/api/pbx/trunks/${id}`, { name: 'Renamed' }],
          ['DELETE', `/api/pbx/trunks/${id}`, undefined],
          ['POST', '/api/pbx/numbers', { number: '+14155550999', destination: { type: 'hangup' } }],
          ['PATCH', `/api/pbx/numbers/${id}`, { description: 'x' }],
          ['DELETE', `/api/pbx/numbers/${id}`, undefined],
          ['POST', '/api/pbx/outbound-routes', { name: 'r', patterns: ['911'], trunkIds: [id] }],
          ['PATCH', `/api/pbx/outbound-routes/${id}`, { name: 'r' }],
          ['DELETE', `/api/pbx/outbound-routes/${id}`, undefined],
          ['PATCH', '/api/pbx/dial-policy', { maxExternalCalls: 5 }],
          ['PATCH', `/api/pbx/queues/${id}/caller-id`, { callerId: null }],
        ];
        for (const [method, url] of [...reads, ['GET', '/api/pbx/dial-policy'] as [string, string]]) {
          assert.equal((await req(method, url, undefined, agent)).statusCode, 403, `agent ${method} ${url}`);
        }
        for (const [method, url, body] of writes) {
          assert.equal((await req(method, url, body, agent)).statusCode, 403, `agent ${method} ${url}`);
          assert.equal((await req(method, url, body, manager)).statusCode, 403, `manager ${method} ${url}`);
        }
        for (const [method, url] of reads) {
          assert.ok([200, 404].includes((await req(method, url, undefined, manager)).statusCode), `manager ${method} ${url}`);
        }
        assert.equal((await req('GET', `/api/pbx/trunks/${id}`, undefined, manager)).json().name, 'Access carrier');
        assert.equal((await req('GET', '/api/pbx/dial-policy', undefined, manager)).statusCode, 403, 'the dial policy is for administrators only');
      });

      it("another tenant's administrator gets 404 for our trunk, and does not see it listed", async () => {
        const trunk = await created('/api/pbx/trunks', ipTrunk('Ours only', ['192.0.2.30']));
        const other = await otherTenantAdmin(ctx.t, ctx.token, `other-${kind}`);
        for (const [method, url, body] of [
          ['GET', `/api/pbx/trunks/${trunk.id}`, undefined],
          ['PATCH', `/api/pbx/trunks/${trunk.id}`, { name: 'Stolen' }],
          ['DELETE', `/api/pbx/trunks/${trunk.id}`, undefined],
        ] as Array<[string, string, unknown]>) {
          const res = await req(method, url, body, other);
          assert.equal(res.statusCode, 404, `${method} ${url}`);
          assert.equal(res.json().error.code, 'PBX_ERR_TRUNK_NOT_FOUND');
        }
        assert.deepEqual((await req('GET', '/api/pbx/trunks', undefined, other)).json().trunks, []);
        assert.equal((await req('GET', `/api/pbx/trunks/${trunk.id}`)).json().name, 'Ours only', 'untouched');
      });
    });

    describe('phone numbers (need toE164)', () => {
      it('a number typed with spaces is stored in E.164, read, changed and deleted', async () => {
        const trunk = await created('/api/pbx/trunks', ipTrunk('DID carrier', ['192.0.2.40']));
        const number = await created('/api/pbx/numbers', { number: '+1 415 555 0100', trunkId: trunk.id, destination: { type: 'hangup' }, description: 'Front desk' });
        assert.equal(number.number, '+14155550100');
        assert.equal(number.trunkId, trunk.id);
        const national = await created('/api/pbx/numbers', { number: '(415) 555-0101', destination: { type: 'hangup' } });
        assert.equal(national.number, '+14155550101', "read in the tenant's country");
        assert.equal(national.trunkId, null);
        const list = (await req('GET', '/api/pbx/numbers')).json().numbers as Array<{ number: string }>;
        assert.deepEqual(list.map((n) => n.number).filter((n) => n.startsWith('+1415555010')), ['+14155550100', '+14155550101']);
        const changed = await req('PATCH', `/api/pbx/numbers/${number.id}`, { description: null, trunkId: null });
        assert.equal(changed.statusCode, 200, changed.body);
        assert.equal(changed.json().description, null);
        assert.equal(changed.json().trunkId, null);
        assert.equal((await req('DELETE', `/api/pbx/numbers/${national.id}`)).statusCode, 200);
        assert.equal((await req('GET', `/api/pbx/numbers/${national.id}`)).json().error.code, 'PBX_ERR_PHONE_NUMBER_NOT_FOUND');
      });

      it('a number leads to an extension or a queue of the tenant, and not to one it does not have', async () => {
        const user = await createUser(ctx.t, ctx.token, { name: 'DID Agent', email: `did.agent.${kind}@carriers.test` });
        const ext = await created('/api/pbx/numbers', { number: '+14155550110', destination: { type: 'extension', number: user.extension?.number } });
        assert.deepEqual(ext.destination, { type: 'extension', number: user.extension?.number });
        const queue = await created('/api/pbx/queues', { name: 'Sales', number: '7001' });
        await created('/api/pbx/numbers', { number: '+14155550111', destination: { type: 'queue', number: 7001 } });
        assert.ok(queue.id);
        await refused('POST', '/api/pbx/numbers', { number: '+14155550112', destination: { type: 'extension', number: 9999 } }, 'body.destination.number');
        await refused('POST', '/api/pbx/numbers', { number: '+14155550112', destination: { type: 'queue', number: 7999 } }, 'body.destination.number');
      });

      it('a malformed number, or an unknown trunk, is a 400 naming the field', async () => {
        for (const bad of ['not a number', '12', '+99 123']) {
          await refused('POST', '/api/pbx/numbers', { number: bad, destination: { type: 'hangup' } }, 'body.number');
        }
        await refused('POST', '/api/pbx/numbers', { number: '+14155550120', trunkId: '00000000-0000-4000-8000-000000000000', destination: { type: 'hangup' } }, 'body.trunkId');
      });

      it('a number another tenant has is 409, and its own tenant keeps it', async () => {
        await created('/api/pbx/numbers', { number: '+14155550130', destination: { type: 'hangup' } });
        const other = await otherTenantAdmin(ctx.t, ctx.token, `numbers-${kind}`);
        const res = await req('POST', '/api/pbx/numbers', { number: '+1 (415) 555-0130', destination: { type: 'hangup' } }, other);
        assert.equal(res.statusCode, 409, res.body);
        assert.equal(res.json().error.code, 'PBX_ERR_PHONE_NUMBER_TAKEN');
      });

      it('a caller ID must be a telephone number: a route, a user and a queue store it in E.164', async () => {
        const user = await createUser(ctx.t, ctx.token, { name: 'Caller Agent', email: `caller.agent.${kind}@carriers.test` });
        const set = await req('PATCH', `/api/users/${user.id}`, { callerId: '+1 415 555 0140' });
        assert.equal(set.statusCode, 200, set.body);
        assert.equal(set.json().caller_id, '+14155550140');
        await refused('PATCH', `/api/users/${user.id}`, { callerId: 'reception' }, 'body.callerId');
        const queue = await created('/api/pbx/queues', { name: 'Support', number: '7002' });
        const q = await req('PATCH', `/api/pbx/queues/${queue.id}/caller-id`, { callerId: '415 555 0141' });
        assert.equal(q.statusCode, 200, q.body);
        assert.deepEqual(q.json(), { queueId: queue.id, callerId: '+14155550141' });
        assert.equal((await req('GET', `/api/pbx/queues/${queue.id}/caller-id`)).json().callerId, '+14155550141');
        await refused('PATCH', `/api/pbx/queues/${queue.id}/caller-id`, { callerId: 'support' }, 'body.callerId');
        assert.equal((await req('PATCH', '/api/pbx/queues/00000000-0000-4000-8000-000000000000/caller-id', { callerId: null })).statusCode, 404);
      });
    });

    describe('outbound routes (need parsePattern)', () => {
      it('an administrator creates, lists by priority, changes and deletes routes', async () => {
        const a = await created('/api/pbx/trunks', ipTrunk('Route carrier A', ['192.0.2.60']));
        const b = await created('/api/pbx/trunks', ipTrunk('Route carrier B', ['192.0.2.61']));
        const intl = await created('/api/pbx/outbound-routes', { name: 'International', priority: 20, patterns: ['_011.'], strip: 3, prepend: '+', trunkIds: [b.id, a.id], withholdCallerId: true });
        const local = await created('/api/pbx/outbound-routes', { name: 'Local', priority: 10, patterns: ['_NXXNXXXXXX', '911'], trunkIds: [a.id] });
        assert.deepEqual(intl.trunkIds, [b.id, a.id], 'the order is kept');
        assert.equal(local.callerId, null);
        const later = await created('/api/pbx/outbound-routes', { name: 'Fallback', patterns: ['_X.'], trunkIds: [a.id] });
        assert.ok((later.priority as number) > 20, "no priority: after the tenant's last");
        const list = (await req('GET', '/api/pbx/outbound-routes')).json().routes as Array<{ name: string }>;
        assert.deepEqual(list.map((r) => r.name).filter((n) => ['International', 'Local', 'Fallback'].includes(n)), ['Local', 'International', 'Fallback']);
        const changed = await req('PATCH', `/api/pbx/outbound-routes/${local.id}`, { priority: 30, callerId: '+1 415 555 0150' });
        assert.equal(changed.statusCode, 200, changed.body);
        assert.equal(changed.json().priority, 30);
        assert.equal(changed.json().callerId, '+14155550150');
        assert.equal((await req('DELETE', `/api/pbx/outbound-routes/${later.id}`)).statusCode, 200);
        assert.equal((await req('GET', `/api/pbx/outbound-routes/${later.id}`)).json().error.code, 'PBX_ERR_ROUTE_NOT_FOUND');
      });

      it('an unparsable pattern, an unknown trunk and a bad caller ID are a 400 naming the field', async () => {
        const trunk = await created('/api/pbx/trunks', ipTrunk('Pattern carrier', ['192.0.2.70']));
        const problem = await refused('POST', '/api/pbx/outbound-routes', { name: 'Broken', patterns: ['911', '_1[2-9XX'], trunkIds: [trunk.id] }, 'body.patterns.1');
        assert.match(problem.message, /\[/, "the pattern's own complaint");
        await refused('POST', '/api/pbx/outbound-routes', { name: 'No trunk', patterns: ['911'], trunkIds: [trunk.id, '00000000-0000-4000-8000-000000000000'] }, 'body.trunkIds.1');
        await refused('POST', '/api/pbx/outbound-routes', { name: 'Bad caller', patterns: ['911'], trunkIds: [trunk.id], callerId: 'main line' }, 'body.callerId');
        const other = await otherTenantAdmin(ctx.t, ctx.token, `routes-${kind}`);
        const res = await req('POST', '/api/pbx/outbound-routes', { name: 'Theirs', patterns: ['911'], trunkIds: [trunk.id] }, other);
        assert.equal(res.statusCode, 400, "another tenant's trunk is no trunk of theirs");
      });

      it('deleting a trunk a route uses is 409 naming the route; once out of the route it goes', async () => {
        const trunk = await created('/api/pbx/trunks', ipTrunk('Busy carrier', ['192.0.2.80']));
        const spare = await created('/api/pbx/trunks', ipTrunk('Spare carrier', ['192.0.2.81']));
        const route = await created('/api/pbx/outbound-routes', { name: 'Uses busy', patterns: ['_1NXXNXXXXXX'], trunkIds: [trunk.id] });
        const res = await req('DELETE', `/api/pbx/trunks/${trunk.id}`);
        assert.equal(res.statusCode, 409, res.body);
        const error = res.json().error;
        assert.equal(error.code, 'PBX_ERR_TRUNK_IN_USE');
        assert.match(error.message, /Uses busy/);
        assert.deepEqual(error.details.routes, [{ id: route.id, name: 'Uses busy' }]);
        assert.equal((await req('PATCH', `/api/pbx/outbound-routes/${route.id}`, { trunkIds: [spare.id] })).statusCode, 200);
        assert.equal((await req('DELETE', `/api/pbx/trunks/${trunk.id}`)).statusCode, 200);
      });

      it("another tenant's administrator gets 404 for our route and number", async () => {
        const trunk = await created('/api/pbx/trunks', ipTrunk('Isolated carrier', ['192.0.2.90']));
        const route = await created('/api/pbx/outbound-routes', { name: 'Isolated', patterns: ['911'], trunkIds: [trunk.id] });
        const number = await created('/api/pbx/numbers', { number: '+14155550190', destination: { type: 'hangup' } });
        const other = await otherTenantAdmin(ctx.t, ctx.token, `isolated-${kind}`);
        assert.equal((await req('GET', `/api/pbx/outbound-routes/${route.id}`, undefined, other)).statusCode, 404);
        assert.equal((await req('DELETE', `/api/pbx/outbound-routes/${route.id}`, undefined, other)).statusCode, 404);
        assert.equal((await req('GET', `/api/pbx/numbers/${number.id}`, undefined, other)).statusCode, 404);
        assert.equal((await req('PATCH', `/api/pbx/numbers/${number.id}`, { description: 'x' }, other)).statusCode, 404);
      });
    });

    describe('the dial policy', () => {
      it('an administrator reads and changes the country, emergency numbers, cap and classes per role', async () => {
        const before = (await req('GET', '/api/pbx/dial-policy')).json();
        assert.equal(before.country, 'US');
        assert.deepEqual(before.emergencyNumbers, ['911', '112']);
        assert.equal(before.maxExternalCalls, 0);
        assert.deepEqual(before.classes.AGENT, ['emergency', 'internal', 'tollfree', 'national', 'mobile'], 'international and premium off by default');
        const res = await req('PATCH', '/api/pbx/dial-policy', { maxExternalCalls: 20, classes: { MANAGER: ['national', 'international', 'emergency'] } });
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.json().maxExternalCalls, 20);
        assert.deepEqual(res.json().classes.MANAGER, ['emergency', 'national', 'international']);
        assert.deepEqual(res.json().classes.AGENT, before.classes.AGENT, 'roles left out keep theirs');
        await refused('PATCH', '/api/pbx/dial-policy', { country: 'XX' }, 'body.country');
        await refused('PATCH', '/api/pbx/dial-policy', { classes: { AGENT: ['satellite'] } }, 'body.classes.AGENT.0');
        await refused('PATCH', '/api/pbx/dial-policy', { emergencyNumbers: [] }, 'body.emergencyNumbers');
        await req('PATCH', '/api/pbx/dial-policy', { maxExternalCalls: 0, classes: { MANAGER: before.classes.MANAGER } });
      });
    });

    describe("the engine's cache", () => {
      it('trunkByAddress answers an IP inside an allowed range, not one outside it, and a registration trunk by its server', async () => {
        const ip = await created('/api/pbx/trunks', ipTrunk('Cached ip', ['198.51.100.0/24', '2001:db8:100::/48']));
        const reg = await created('/api/pbx/trunks', registrationTrunk('Cached registration', { servers: [{ host: '203.0.113.200' }] }));
        await cache().idle();
        assert.equal(cache().trunkByAddress('198.51.100.77')?.id, ip.id);
        assert.equal(cache().trunkByAddress('::ffff:198.51.100.9')?.id, ip.id, 'an IPv4-mapped source');
        assert.equal(cache().trunkByAddress('[2001:db8:100::5]')?.id, ip.id);
        assert.equal(cache().trunkByAddress('198.51.101.1'), undefined);
        assert.equal(cache().trunkByAddress('2001:db8:200::5'), undefined);
        assert.equal(cache().trunkByAddress('203.0.113.200')?.id, reg.id);
        assert.ok(cache().trunks().some((t) => t.id === ip.id));

        let told = 0;
        const off = cache().onTrunksChanged(() => told++);
        await req('PATCH', `/api/pbx/trunks/${ip.id}`, { enabled: false });
        await cache().idle();
        off();
        assert.equal(told, 1, 'the engine is told trunks changed');
        assert.equal(cache().trunkByAddress('198.51.100.77'), undefined, 'a disabled trunk takes no calls');
        assert.ok(!cache().trunks().some((t) => t.id === ip.id));
        assert.equal(cache().trunk(ctx.t.server.systemTenant.id, ip.id)?.enabled, false);
      });

      it('phoneNumber() and outboundRoutes() follow API changes without a restart (need toE164 and parsePattern)', async () => {
        const tenantId = ctx.t.server.systemTenant.id;
        const trunk = await created('/api/pbx/trunks', ipTrunk('Cache follow', ['192.0.2.100']));
        const number = await created('/api/pbx/numbers', { number: '+14155550200', destination: { type: 'hangup' } });
        const route = await created('/api/pbx/outbound-routes', { name: 'Cache route', priority: 5, patterns: ['_NXXNXXXXXX'], trunkIds: [trunk.id] });
        await cache().idle();
        assert.equal(cache().phoneNumber('+14155550200')?.id, number.id);
        assert.ok(cache().outboundRoutes(tenantId).some((r) => r.id === route.id));

        await req('PATCH', `/api/pbx/numbers/${number.id}`, { number: '+14155550201' });
        await req('PATCH', `/api/pbx/outbound-routes/${route.id}`, { patterns: ['_1NXXNXXXXXX'], priority: 0 });
        await cache().idle();
        assert.equal(cache().phoneNumber('+14155550200'), undefined);
        assert.equal(cache().phoneNumber('+14155550201')?.id, number.id);
        assert.deepEqual(cache().outboundRoutes(tenantId)[0]?.patterns, ['_1NXXNXXXXXX'], 'lower priority first');

        await req('DELETE', `/api/pbx/numbers/${number.id}`);
        await req('DELETE', `/api/pbx/outbound-routes/${route.id}`);
        await cache().idle();
        assert.equal(cache().phoneNumber('+14155550201'), undefined);
        assert.ok(!cache().outboundRoutes(tenantId).some((r) => r.id === route.id));
      });

      it("dialPolicy gives international only to a user whose own classes allow it, with the tenant's country and emergency numbers", async () => {
        const tenantId = ctx.t.server.systemTenant.id;
        const plain = await createUser(ctx.t, ctx.token, { name: 'Plain Agent', email: `plain.${kind}@carriers.test` });
        const abroad = await createUser(ctx.t, ctx.token, { name: 'Abroad Agent', email: `abroad.${kind}@carriers.test` });
        const set = await req('PATCH', `/api/users/${abroad.id}`, { dialClasses: ['emergency', 'national', 'mobile', 'international'] });
        assert.equal(set.statusCode, 200, set.body);
        assert.deepEqual(set.json().dial_classes, ['emergency', 'national', 'mobile', 'international']);

        const plainPolicy = await cache().dialPolicy(tenantId, plain.extension?.id);
        const abroadPolicy = await cache().dialPolicy(tenantId, abroad.extension?.id);
        assert.ok(!plainPolicy.allowedClasses.includes('international'));
        assert.ok(abroadPolicy.allowedClasses.includes('international'));
        assert.equal(abroadPolicy.country, 'US');
        assert.deepEqual(abroadPolicy.emergencyNumbers, ['911', '112']);
        assert.equal(abroadPolicy.callerId, null);
        const tenantOwn = await cache().dialPolicy(tenantId, undefined);
        assert.ok(!tenantOwn.allowedClasses.includes('international'), "a call from no user gets the least trusted role's classes");

        const back = await req('PATCH', `/api/users/${abroad.id}`, { dialClasses: null });
        assert.equal(back.json().dial_classes, null);
        assert.ok(!(await cache().dialPolicy(tenantId, abroad.extension?.id)).allowedClasses.includes('international'), "back to its role's");
      });

      it('a user may not give itself dial classes or a caller ID', async () => {
        const email = `self.${kind}@carriers.test`;
        const user = await createUser(ctx.t, ctx.token, { name: 'Self Agent', email, password: 'self-password-1' });
        const token = await ctx.t.login(email, 'self-password-1');
        assert.equal((await req('PATCH', `/api/users/${user.id}`, { dialClasses: ['international'] }, token)).statusCode, 403);
        assert.equal((await req('PATCH', `/api/users/${user.id}`, { callerId: '+14155550300' }, token)).statusCode, 403);
      });
    });

    it('every carriers route is in the OpenAPI document', async () => {
      const doc = (await ctx.t.request('GET', '/docs/json')).json() as { paths: Record<string, Record<string, unknown>> };
      for (const [path, methods] of Object.entries({
        '/api/pbx/trunks': ['get', 'post'],
        '/api/pbx/trunks/{id}': ['get', 'patch', 'delete'],
        '/api/pbx/numbers': ['get', 'post'],
        '/api/pbx/numbers/{id}': ['get', 'patch', 'delete'],
        '/api/pbx/outbound-routes': ['get', 'post'],
        '/api/pbx/outbound-routes/{id}': ['get', 'patch', 'delete'],
        '/api/pbx/dial-policy': ['get', 'patch'],
        '/api/pbx/queues/{id}/caller-id': ['get', 'patch'],
      })) {
        for (const method of methods) assert.ok(doc.paths[path]?.[method], `${method.toUpperCase()} ${path}`);
      }
      const trunkSchema = JSON.stringify(doc.paths['/api/pbx/trunks/{id}']?.get);
      assert.ok(trunkSchema.includes('hasPassword'));
    });
  });
}

/** A new tenant with its own administrator (made by the system administrator); answers that administrator's token. */
async function otherTenantAdmin(t: TestServer, systemToken: string, name: string): Promise<string> {
  const email = `admin@${name}.test`;
  const res = await t.request('POST', '/api/tenants', {
    token: systemToken,
    body: { name, domain: `${name}.pbx.test`, admin: { name: 'Other Admin', email, password: 'other-admin-password' } },
  });
  if (res.statusCode !== 201) throw new Error(`tenant ${name}: ${res.statusCode} ${res.body}`);
  return t.login(email, 'other-admin-password');
}
