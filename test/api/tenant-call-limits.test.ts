// The tenant's longest call (the "a maximum call duration per tenant"): four hours by default, set by an
// administrator of the tenant through PUT /api/tenants/current/call-limits (0: no limit), refused to anyone else and
// outside its bounds, written to the audit trail, and kept in the database (PostgreSQL and the embedded one).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { databaseKinds } from '../support/databases.ts';
import { createUser, useTestServer } from '../support/server.ts';

for (const kind of databaseKinds) {
  describe(`a tenant's call limits (${kind})`, () => {
    const ctx = useTestServer(kind);
    const put = (token: string, body: unknown) => ctx.t.request('PUT', '/api/tenants/current/call-limits', { token, body });

    it('four hours by default; an administrator sets it, and the tenant reads it back', async () => {
      const before = (await ctx.t.request('GET', '/api/tenants/current', { token: ctx.token })).json().tenant;
      assert.equal(before.maxCallSeconds, 14_400);
      const res = await put(ctx.token, { maxCallSeconds: 3600 });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().tenant.maxCallSeconds, 3600);
      const after = (await ctx.t.request('GET', '/api/tenants/current', { token: ctx.token })).json().tenant;
      assert.equal(after.maxCallSeconds, 3600);
      assert.equal((await put(ctx.token, { maxCallSeconds: 0 })).json().tenant.maxCallSeconds, 0, '0: no limit');
      const audit = (await ctx.t.request('GET', '/api/audit?action=tenant.call-limits&limit=1', { token: ctx.token })).json().entries;
      assert.equal(audit[0]?.outcome, 'success');
    });

    it('an agent or a manager may not set it (403), and a value outside 0 to 7 days, or an unknown field, is refused (400)', async () => {
      for (const role of ['AGENT', 'MANAGER']) {
        const email = `${role.toLowerCase()}-limits@example.com`;
        await createUser(ctx.t, ctx.token, { name: role, email, role, password: 'limits-password-1', withExtension: false });
        const token = await ctx.t.login(email, 'limits-password-1');
        assert.equal((await put(token, { maxCallSeconds: 60 })).statusCode, 403, role);
      }
      for (const body of [{ maxCallSeconds: -1 }, { maxCallSeconds: 7 * 86_400 + 1 }, { maxCallSeconds: 1.5 }, { maxCallSeconds: 60, extra: true }, {}]) {
        assert.equal((await put(ctx.token, body)).statusCode, 400, JSON.stringify(body));
      }
    });
  });
}
