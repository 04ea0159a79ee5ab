// Tenants (a default one after the first start; a system administrator creates and lists more) and the audit
// trail (every change made through the API writes a row: who, tenant, action, target, outcome, time).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { databaseKinds } from '../support/databases.ts';
import { createUser, useTestServer } from '../support/server.ts';

for (const kind of databaseKinds) {
  describe(`tenants (${kind})`, () => {
    const ctx = useTestServer(kind);

    it('a default tenant exists after the first start, with the configured domain and range', async () => {
      const res = await ctx.t.request('GET', '/api/tenants', { token: ctx.token });
      assert.equal(res.statusCode, 200);
      const [tenant, ...rest] = res.json().tenants;
      assert.equal(rest.length, 0);
      assert.equal(tenant.domain, 'pbx.test');
      assert.equal(tenant.isSystem, true);
      assert.equal(tenant.extensionRange, '1000-1999');
    });

    it('a system administrator creates a tenant with its own domain, range and first administrator', async () => {
      const res = await ctx.t.request('POST', '/api/tenants', {
        token: ctx.token,
        body: { name: 'Acme', domain: 'Acme.Example.com', extensionRange: '2000-2099', admin: { name: 'Acme Admin', email: 'admin@acme.test', password: 'acme-admin-pw' } },
      });
      assert.equal(res.statusCode, 201, res.body);
      const { tenant, admin } = res.json();
      assert.equal(tenant.domain, 'acme.example.com');
      assert.equal(tenant.extensionRange, '2000-2099');
      assert.equal(tenant.isSystem, false);
      assert.equal(admin.role, 'ADMIN');
      assert.equal(admin.tenant_id, tenant.id);
      const acmeToken = await ctx.t.login('admin@acme.test', 'acme-admin-pw');
      const u = await createUser(ctx.t, acmeToken, { name: 'Acme Agent', email: 'agent@acme.test' });
      assert.equal(u.extension?.number, 2000, "numbers come from the tenant's own range");
      const current = (await ctx.t.request('GET', '/api/tenants/current', { token: acmeToken })).json();
      assert.equal(current.tenant.id, tenant.id);
    });

    it('a domain already in use answers 409 PBX_ERR_DOMAIN_TAKEN; a taken admin email 409 and no tenant is made', async () => {
      const dup = await ctx.t.request('POST', '/api/tenants', { token: ctx.token, body: { name: 'Copy', domain: 'acme.example.com' } });
      assert.equal(dup.statusCode, 409);
      assert.equal(dup.json().error.code, 'PBX_ERR_DOMAIN_TAKEN');
      const email = await ctx.t.request('POST', '/api/tenants', {
        token: ctx.token,
        body: { name: 'Other', domain: 'other.example.com', admin: { name: 'X', email: 'admin@acme.test', password: 'whatever-pw' } },
      });
      assert.equal(email.statusCode, 409);
      assert.equal(email.json().error.code, 'PBX_ERR_EMAIL_TAKEN');
      const list = (await ctx.t.request('GET', '/api/tenants', { token: ctx.token })).json().tenants;
      assert.ok(!list.some((x: { domain: string }) => x.domain === 'other.example.com'));
    });
  });

  describe(`audit trail (${kind})`, () => {
    const ctx = useTestServer(kind);

    it('every change writes a row with who, tenant, action, target, outcome and time, newest first', async () => {
      const u = await createUser(ctx.t, ctx.token, { name: 'Audited One', email: 'audited@example.com' });
      await ctx.t.request('PATCH', `/api/users/${u.id}`, { token: ctx.token, body: { name: 'Audited Two' } });
      await ctx.t.request('POST', '/api/users', { token: ctx.token, body: { name: 'Dup', email: 'audited@example.com' } });
      await ctx.t.request('DELETE', `/api/users/${u.id}`, { token: ctx.token });
      const res = await ctx.t.request('GET', '/api/audit?limit=4', { token: ctx.token });
      assert.equal(res.statusCode, 200);
      const { entries, total, limit, offset } = res.json();
      assert.equal(limit, 4);
      assert.equal(offset, 0);
      assert.ok(total >= 5, 'the four changes and the login');
      assert.deepEqual(entries.map((e: { action: string; outcome: string }) => `${e.action}:${e.outcome}`), [
        'user.delete:success',
        'user.create:failure',
        'user.update:success',
        'user.create:success',
      ]);
      const [deleted, failed, , created] = entries;
      assert.equal(created.targetType, 'user');
      assert.equal(created.targetId, u.id);
      assert.equal(created.tenantId, ctx.t.server.systemTenant.id);
      assert.equal(created.actorLabel, 'admin@pbx.test');
      assert.equal(created.statusCode, 201);
      assert.equal(failed.errorCode, 'PBX_ERR_EMAIL_TAKEN');
      assert.equal(failed.statusCode, 409);
      assert.equal(deleted.details.freedExtension, u.extension?.number);
      for (const e of entries) {
        assert.ok(e.actorId && e.requestId && e.ip);
        assert.ok(!Number.isNaN(Date.parse(e.createdAt)));
      }
    });

    it('pages move through the trail without overlap', async () => {
      const first = (await ctx.t.request('GET', '/api/audit?limit=2&offset=0', { token: ctx.token })).json().entries;
      const second = (await ctx.t.request('GET', '/api/audit?limit=2&offset=2', { token: ctx.token })).json().entries;
      assert.equal(first.length, 2);
      assert.equal(second.length, 2);
      const ids = new Set([...first, ...second].map((e: { id: string }) => e.id));
      assert.equal(ids.size, 4);
    });

    it('a refused change is audited too: an agent trying to create a user', async () => {
      const agent = await createUser(ctx.t, ctx.token, { name: 'Nosy Agent', email: 'nosy@example.com', password: 'nosy-agent-pw' });
      const agentToken = await ctx.t.login('nosy@example.com', 'nosy-agent-pw');
      const res = await ctx.t.request('POST', '/api/users', { token: agentToken, body: { name: 'X', email: 'x@example.com' } });
      assert.equal(res.statusCode, 403);
      const entries = (await ctx.t.request('GET', '/api/audit?action=user.create&limit=1', { token: ctx.token })).json().entries;
      assert.equal(entries[0].actorId, agent.id);
      assert.equal(entries[0].outcome, 'failure');
      assert.equal(entries[0].errorCode, 'PBX_ERR_FORBIDDEN');
    });

    it('no secret ever reaches the audit trail', async () => {
      const u = await createUser(ctx.t, ctx.token, { name: 'Secretive', email: 'secretive@example.com', password: 'my-own-password' });
      const all = (await ctx.t.request('GET', '/api/audit?limit=500', { token: ctx.token })).body;
      assert.ok(!all.includes(u.extension?.secret as string));
      assert.ok(!all.includes('my-own-password'));
    });
  });
}
