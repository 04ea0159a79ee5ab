// The role and tenant matrix: for every route, which of ADMIN, MANAGER, SUPERVISOR and AGENT may call it ("an agent
// sees and changes only itself; managers and supervisors read everything of their tenant; admins provision"), and
// that no role of one tenant reaches another tenant's data.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { databaseKinds } from '../support/databases.ts';
import { createUser, startTestServer, type TestServer } from '../support/server.ts';

type Actor = 'admin' | 'manager' | 'supervisor' | 'agent' | 'self';
interface Person {
  id: string;
  token: string;
  extensionId: string | null;
}

for (const kind of databaseKinds) {
  describe(`roles and tenants (${kind})`, () => {
    let t: TestServer;
    const people = {} as Record<'admin' | 'manager' | 'supervisor' | 'agent' | 'target', Person>;
    let other: { tenantId: string; admin: Person; agent: Person };
    let spare = 0;

    async function person(role: string, name: string): Promise<Person> {
      const admin = await t.adminToken();
      const email = `${name}@example.com`;
      const u = await createUser(t, admin, { name, email, role, password: `${name}-password` });
      return { id: u.id, token: await t.login(email, `${name}-password`), extensionId: u.extension?.id ?? null };
    }

    /** A fresh user to act on, so that destructive rows do not depend on one another. */
    async function victim(): Promise<Person> {
      return person('AGENT', `spare${spare++}`);
    }

    before(async () => {
      t = await startTestServer(kind);
      people.admin = { id: '', token: await t.adminToken(), extensionId: null };
      people.manager = await person('MANAGER', 'manager');
      people.supervisor = await person('SUPERVISOR', 'supervisor');
      people.agent = await person('AGENT', 'agent');
      people.target = await person('AGENT', 'target');
      const res = await t.request('POST', '/api/tenants', {
        token: people.admin.token,
        body: { name: 'Other Co', domain: 'other.test', admin: { name: 'Other Admin', email: 'boss@other.test', password: 'other-admin-pw' } },
      });
      assert.equal(res.statusCode, 201, res.body);
      const otherAdminToken = await t.login('boss@other.test', 'other-admin-pw');
      const h = await createUser(t, otherAdminToken, { name: 'Other Agent', email: 'agent@other.test', password: 'other-agent-pw' });
      other = {
        tenantId: res.json().tenant.id,
        admin: { id: res.json().admin.id, token: otherAdminToken, extensionId: null },
        agent: { id: h.id, token: await t.login('agent@other.test', 'other-agent-pw'), extensionId: h.extension?.id ?? null },
      };
    });
    after(() => t.stop());

    const tokenOf = (actor: Actor) => (actor === 'self' ? people.target.token : people[actor].token);

    // Each row: a request built against fresh targets, and the status each actor gets.
    const matrix: Array<{
      name: string;
      request: () => Promise<{ method: string; url: string; body?: unknown }>;
      expect: Partial<Record<Actor, number>>;
    }> = [
      { name: 'GET /api/users', request: async () => ({ method: 'GET', url: '/api/users' }), expect: { admin: 200, manager: 200, supervisor: 200, agent: 200 } },
      {
        name: 'POST /api/users',
        request: async () => ({ method: 'POST', url: '/api/users', body: { name: 'New', email: `new${spare++}@example.com` } }),
        expect: { admin: 201, manager: 403, supervisor: 403, agent: 403 },
      },
      {
        name: 'GET /api/users/:id (another user)',
        request: async () => ({ method: 'GET', url: `/api/users/${people.target.id}` }),
        expect: { admin: 200, manager: 200, supervisor: 200, agent: 403, self: 200 },
      },
      {
        name: 'PATCH /api/users/:id {name}',
        request: async () => ({ method: 'PATCH', url: `/api/users/${people.target.id}`, body: { name: 'Renamed Target' } }),
        expect: { admin: 200, manager: 403, supervisor: 403, agent: 403, self: 200 },
      },
      {
        name: 'PATCH /api/users/:id {role} (self-promotion)',
        request: async () => ({ method: 'PATCH', url: `/api/users/${people.target.id}`, body: { role: 'ADMIN' } }),
        expect: { manager: 403, supervisor: 403, agent: 403, self: 403 },
      },
      {
        name: 'DELETE /api/users/:id',
        request: async () => ({ method: 'DELETE', url: `/api/users/${(await victim()).id}` }),
        expect: { admin: 200, manager: 403, supervisor: 403, agent: 403 },
      },
      {
        name: 'POST /api/users/:id/extension/reset-secret',
        request: async () => ({ method: 'POST', url: `/api/users/${people.target.id}/extension/reset-secret` }),
        expect: { admin: 200, manager: 403, supervisor: 403, agent: 403, self: 200 },
      },
      {
        name: 'GET /api/pbx/agent-extensions',
        request: async () => ({ method: 'GET', url: '/api/pbx/agent-extensions' }),
        expect: { admin: 200, manager: 200, supervisor: 200, agent: 200 },
      },
      {
        name: 'GET /api/pbx/agent-extensions/:id (another agent)',
        request: async () => ({ method: 'GET', url: `/api/pbx/agent-extensions/${people.target.extensionId}` }),
        expect: { admin: 200, manager: 200, supervisor: 200, agent: 404, self: 200 },
      },
      {
        name: 'POST /api/pbx/agent-extensions',
        request: async () => {
          const u = await createUser(t, people.admin.token, { name: 'Bare', email: `bare${spare++}@example.com`, withExtension: false });
          return { method: 'POST', url: '/api/pbx/agent-extensions', body: { userId: u.id } };
        },
        expect: { admin: 201, manager: 403, supervisor: 403, agent: 403 },
      },
      {
        name: 'PUT /api/pbx/agent-extensions/:id',
        request: async () => ({ method: 'PUT', url: `/api/pbx/agent-extensions/${people.target.extensionId}`, body: { ringTimeout: 25 } }),
        expect: { admin: 200, manager: 403, supervisor: 403, agent: 403, self: 403 },
      },
      {
        name: 'PUT /api/pbx/agent-extensions/:id/status',
        request: async () => ({ method: 'PUT', url: `/api/pbx/agent-extensions/${people.target.extensionId}/status`, body: { status: 'AWAY', reason: 'Lunch' } }),
        expect: { admin: 200, manager: 200, supervisor: 200, agent: 404, self: 200 },
      },
      {
        name: 'DELETE /api/pbx/agent-extensions/:id',
        request: async () => ({ method: 'DELETE', url: `/api/pbx/agent-extensions/${(await victim()).extensionId}` }),
        expect: { admin: 200, manager: 403, supervisor: 403, agent: 403 },
      },
      { name: 'GET /api/audit', request: async () => ({ method: 'GET', url: '/api/audit' }), expect: { admin: 200, manager: 403, supervisor: 403, agent: 403 } },
      { name: 'GET /api/tenants', request: async () => ({ method: 'GET', url: '/api/tenants' }), expect: { admin: 200, manager: 403, supervisor: 403, agent: 403 } },
      {
        name: 'POST /api/tenants',
        request: async () => ({ method: 'POST', url: '/api/tenants', body: { name: 'T', domain: `t${spare++}.test` } }),
        expect: { admin: 201, manager: 403, supervisor: 403, agent: 403 },
      },
      { name: 'GET /api/tenants/current', request: async () => ({ method: 'GET', url: '/api/tenants/current' }), expect: { admin: 200, manager: 200, supervisor: 200, agent: 200 } },
    ];

    for (const row of matrix) {
      it(`${row.name}: ${Object.entries(row.expect).map(([a, s]) => `${a} ${s}`).join(', ')}`, async () => {
        for (const [actor, status] of Object.entries(row.expect) as Array<[Actor, number]>) {
          const req = await row.request();
          const res = await t.request(req.method, req.url, { token: tokenOf(actor), body: req.body });
          assert.equal(res.statusCode, status, `${actor}: ${res.body}`);
          if (status === 403) assert.equal(res.json().error.code, 'PBX_ERR_FORBIDDEN');
        }
      });
    }

    it('an agent lists only itself, among users and agent extensions', async () => {
      const users = (await t.request('GET', '/api/users', { token: people.agent.token })).json().users;
      assert.deepEqual(users.map((u: { id: string }) => u.id), [people.agent.id]);
      const exts = (await t.request('GET', '/api/pbx/agent-extensions', { token: people.agent.token })).json().agentExtensions;
      assert.deepEqual(exts.map((e: { id: string }) => e.id), [people.agent.extensionId]);
    });

    it('a tenant administrator of another tenant cannot manage tenants', async () => {
      assert.equal((await t.request('GET', '/api/tenants', { token: other.admin.token })).statusCode, 403);
    });

    it("no role reaches another tenant's users, extensions or audit trail", async () => {
      const foreign = [
        { method: 'GET', url: `/api/users/${people.target.id}` },
        { method: 'PATCH', url: `/api/users/${people.target.id}`, body: { name: 'Hijacked' } },
        { method: 'DELETE', url: `/api/users/${people.target.id}` },
        { method: 'POST', url: `/api/users/${people.target.id}/extension/reset-secret` },
        { method: 'GET', url: `/api/pbx/agent-extensions/${people.target.extensionId}` },
        { method: 'PUT', url: `/api/pbx/agent-extensions/${people.target.extensionId}`, body: { isActive: false } },
        { method: 'PUT', url: `/api/pbx/agent-extensions/${people.target.extensionId}/status`, body: { status: 'OFFLINE' } },
        { method: 'DELETE', url: `/api/pbx/agent-extensions/${people.target.extensionId}` },
        { method: 'POST', url: '/api/pbx/agent-extensions', body: { userId: people.target.id } },
      ];
      for (const token of [other.admin.token, other.agent.token]) {
        for (const req of foreign) {
          const res = await t.request(req.method, req.url, { token, body: req.body });
          assert.ok([403, 404].includes(res.statusCode), `${req.method} ${req.url}: ${res.statusCode} ${res.body}`);
          if (token === other.admin.token) assert.equal(res.statusCode, 404, `${req.method} ${req.url} must not reveal the row exists`);
        }
      }
      // And the other way round: the system tenant's administrator does not see the other tenant's agent.
      assert.equal((await t.request('GET', `/api/users/${other.agent.id}`, { token: people.admin.token })).statusCode, 404);
      const target = (await t.request('GET', `/api/users/${people.target.id}`, { token: people.admin.token })).json();
      assert.notEqual(target.name, 'Hijacked');

      const lists = await Promise.all([
        t.request('GET', '/api/users', { token: other.admin.token }),
        t.request('GET', '/api/pbx/agent-extensions', { token: other.admin.token }),
        t.request('GET', '/api/audit?limit=500', { token: other.admin.token }),
      ]);
      const [users, exts, audit] = lists.map((r) => r.json());
      assert.deepEqual(new Set(users.users.map((u: { tenant_id: string }) => u.tenant_id)), new Set([other.tenantId]));
      assert.ok(exts.agentExtensions.every((e: { tenantId: string }) => e.tenantId === other.tenantId));
      assert.ok(audit.entries.length > 0 && audit.entries.every((e: { tenantId: string }) => e.tenantId === other.tenantId));
    });

    it("extension numbers are per tenant: both tenants' first agents may hold 1000", async () => {
      const res = (await t.request('GET', `/api/users/${other.agent.id}`, { token: other.admin.token })).json();
      assert.equal(res.extension.number, 1000);
    });
  });
}
