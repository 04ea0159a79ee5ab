// Seed 004 "Testing the MVP", steps 1, 2, 3, 6 and 7, with the same shapes, against PGlite and PostgreSQL; and
// extension allocation: lowest free first, no duplicates under concurrency, a clear error when the range is full.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { extensions } from '../../src/db/index.ts';
import { ha1 } from '../../src/directory/index.ts';
import { databaseKinds } from '../support/databases.ts';
import { createUser, type TestServer, useTestServer } from '../support/server.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

for (const kind of databaseKinds) {
  describe(`seed 004 users and extensions (${kind})`, () => {
    const ctx = useTestServer(kind, { extensionRange: { start: 1000, end: 1059 } });

    let john: { id: string; extension: { number: number; secret: string } };

    it('step 1: GET /health answers healthy with the service name and version', async () => {
      const res = await fetch(`${ctx.t.server.url}/health`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { status: 'healthy', service: 'Switchboard', version: '0.1.0' });
    });

    it('step 2: the first user gets extension 1000 and a secret of at least 16 characters', async () => {
      const res = await ctx.t.request('POST', '/api/users', { token: ctx.token, body: { name: 'John Doe', email: 'john.doe@example.com' } });
      assert.equal(res.statusCode, 201);
      const body = res.json();
      assert.match(body.id, UUID);
      assert.equal(body.tenant_id, ctx.t.server.systemTenant.id);
      assert.equal(body.name, 'John Doe');
      assert.equal(body.email, 'john.doe@example.com');
      assert.equal(body.role, 'AGENT', 'role defaults to AGENT');
      assert.ok(!Number.isNaN(Date.parse(body.created_at)));
      assert.match(body.extension.id, UUID);
      assert.equal(body.extension.number, 1000);
      assert.ok(body.extension.secret.length >= 16);
      assert.ok(!Number.isNaN(Date.parse(body.extension.created_at)));
      john = body;
    });

    it('step 2: the second user gets extension 1001', async () => {
      const res = await ctx.t.request('POST', '/api/users', { token: ctx.token, body: { name: 'Jane Smith', email: 'jane.smith@example.com' } });
      assert.equal(res.statusCode, 201);
      assert.equal(res.json().extension.number, 1001);
    });

    it('the SIP secret is stored only as MD5 and SHA-256 HA1 hashes, never in clear', async () => {
      const rows = await ctx.t.server.database.db.select().from(extensions);
      const row = rows.find((r) => r.number === 1000);
      assert.ok(row);
      const realm = ctx.t.server.systemTenant.domain;
      assert.equal(row.ha1Md5, ha1('MD5', '1000', realm, john.extension.secret));
      assert.equal(row.ha1Sha256, ha1('SHA-256', '1000', realm, john.extension.secret));
      assert.ok(!JSON.stringify(rows).includes(john.extension.secret));
    });

    it('step 3: GET /api/users lists the users with their extensions and without secrets', async () => {
      const res = await ctx.t.request('GET', '/api/users', { token: ctx.token });
      assert.equal(res.statusCode, 200);
      const { users } = res.json();
      const byEmail = new Map(users.map((u: { email: string }) => [u.email, u]));
      assert.equal((byEmail.get('john.doe@example.com') as { extension: { number: number } }).extension.number, 1000);
      assert.equal((byEmail.get('jane.smith@example.com') as { extension: { number: number } }).extension.number, 1001);
      assert.ok(!res.body.includes(john.extension.secret));
      assert.ok(!res.body.includes('secret'));
      assert.ok(!res.body.includes('ha1'));
    });

    it('step 7: a duplicate email answers 409 PBX_ERR_EMAIL_TAKEN, whatever its case', async () => {
      const res = await ctx.t.request('POST', '/api/users', { token: ctx.token, body: { name: 'Duplicate', email: 'John.Doe@Example.com' } });
      assert.equal(res.statusCode, 409);
      assert.deepEqual(res.json(), {
        error: { code: 'PBX_ERR_EMAIL_TAKEN', message: "Email 'john.doe@example.com' is already in use" },
      });
      const list = (await ctx.t.request('GET', '/api/users', { token: ctx.token })).json();
      assert.equal(list.users.filter((u: { email: string }) => u.email === 'john.doe@example.com').length, 1, 'nothing half-made is left');
    });

    it('step 6: DELETE answers the freed extension, and the number is given out again', async () => {
      const res = await ctx.t.request('DELETE', `/api/users/${john.id}`, { token: ctx.token });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), { message: 'User deleted successfully', deleted_user_id: john.id, freed_extension: 1000 });
      assert.equal((await ctx.t.request('GET', `/api/users/${john.id}`, { token: ctx.token })).statusCode, 404);
      const again = await createUser(ctx.t, ctx.token, { name: 'Jim Beam', email: 'jim@example.com' });
      assert.equal(again.extension?.number, 1000, 'the lowest free number is 1000 again');
    });

    it('50 concurrent creations never give two users the same number', async () => {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          ctx.t.request('POST', '/api/users', { token: ctx.token, body: { name: `Agent ${i}`, email: `agent${i}@example.com` } }),
        ),
      );
      const numbers = results.map((r) => {
        assert.equal(r.statusCode, 201, r.body);
        return r.json().extension.number as number;
      });
      assert.equal(new Set(numbers).size, 50);
      // 1000 and 1001 were taken before: the 50 new ones are exactly 1002..1051.
      assert.deepEqual([...numbers].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => 1002 + i));
    });

    it('an exhausted range answers 409 PBX_ERR_EXTENSION_RANGE_EXHAUSTED and creates no user', async () => {
      for (let i = 0; i < 8; i++) await createUser(ctx.t, ctx.token, { name: `Filler ${i}`, email: `filler${i}@example.com` });
      const res = await ctx.t.request('POST', '/api/users', { token: ctx.token, body: { name: 'One Too Many', email: 'late@example.com' } });
      assert.equal(res.statusCode, 409);
      assert.equal(res.json().error.code, 'PBX_ERR_EXTENSION_RANGE_EXHAUSTED');
      const list = (await ctx.t.request('GET', '/api/users', { token: ctx.token })).json();
      assert.ok(!list.users.some((u: { email: string }) => u.email === 'late@example.com'));
    });

    it('PATCH changes a user and GET shows it; a user without extension can be created', async () => {
      const u = await createUser(ctx.t, ctx.token, { name: 'No Phone', email: 'nophone@example.com', role: 'MANAGER', withExtension: false });
      assert.equal(u.extension, null);
      const res = await ctx.t.request('PATCH', `/api/users/${u.id}`, { token: ctx.token, body: { name: 'Has Name', role: 'SUPERVISOR' } });
      assert.equal(res.statusCode, 200);
      const got = (await ctx.t.request('GET', `/api/users/${u.id}`, { token: ctx.token })).json();
      assert.equal(got.name, 'Has Name');
      assert.equal(got.role, 'SUPERVISOR');
      assert.equal(got.extension, null);
    });

    it("a secret reset answers a new secret once; the old one stops working for the PBX login", async () => {
      const v = await createUserWithRoom(ctx.t, ctx.token);
      const old = v.extension.secret;
      const res = await ctx.t.request('POST', `/api/users/${v.id}/extension/reset-secret`, { token: ctx.token });
      assert.equal(res.statusCode, 200);
      const fresh = res.json().extension.secret as string;
      assert.ok(fresh.length >= 16 && fresh !== old);
      const oldLogin = await ctx.t.request('POST', '/api/pbx/auth/login', { body: { extension: String(v.extension.number), password: old } });
      assert.equal(oldLogin.statusCode, 401);
      const newLogin = await ctx.t.request('POST', '/api/pbx/auth/login', { body: { extension: String(v.extension.number), password: fresh } });
      assert.equal(newLogin.statusCode, 200);
    });
  });
}

/** Deletes the newest filler to make room in the small test range, then creates a user in it. */
async function createUserWithRoom(t: TestServer, token: string) {
  const list = (await t.request('GET', '/api/users', { token })).json();
  const filler = list.users.find((u: { email: string }) => u.email.startsWith('filler'));
  await t.request('DELETE', `/api/users/${filler.id}`, { token });
  const u = await createUser(t, token, { name: 'Vera Reset', email: 'vera@example.com' });
  return u as typeof u & { extension: { number: number; secret: string } };
}
