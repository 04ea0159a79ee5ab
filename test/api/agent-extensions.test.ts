// Seed 000's /api/pbx/agent-extensions routes (create, list, get, update, status, delete) over the same extension
// records as seed 004's /api/users, and seed 001's POST /api/pbx/agent/status.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { databaseKinds } from '../support/databases.ts';
import { createUser, useTestServer } from '../support/server.ts';

for (const kind of databaseKinds) {
  describe(`seed 000 agent extensions (${kind})`, () => {
    const ctx = useTestServer(kind);

    it('POST with a chosen number and password creates the extension; the seed 000 login then works with them', async () => {
      const u = await createUser(ctx.t, ctx.token, { name: 'John Doe', email: 'john@example.com', withExtension: false });
      const res = await ctx.t.request('POST', '/api/pbx/agent-extensions', { token: ctx.token, body: { userId: u.id, extension: '1001', sipPassword: 'test1234' } });
      assert.equal(res.statusCode, 201, res.body);
      const ext = res.json();
      assert.equal(ext.extension, '1001');
      assert.equal(ext.userId, u.id);
      assert.equal(ext.status, 'OFFLINE');
      assert.equal(ext.isActive, true);
      assert.equal(ext.ringTimeout, 20);
      assert.equal(ext.sipPassword, undefined, 'a password the client chose is not echoed');
      assert.deepEqual(ext.user, { id: u.id, email: 'john@example.com', firstName: 'John', lastName: 'Doe', role: 'AGENT' });
      const login = await ctx.t.request('POST', '/api/pbx/auth/login', { body: { extension: '1001', password: 'test1234' } });
      assert.equal(login.statusCode, 200);
      assert.equal(login.json().agentExtension.id, ext.id);
      // The same record through seed 004's route.
      const viaUsers = (await ctx.t.request('GET', `/api/users/${u.id}`, { token: ctx.token })).json();
      assert.equal(viaUsers.extension.id, ext.id);
      assert.equal(viaUsers.extension.number, 1001);
    });

    it('POST without a number takes the lowest free one and answers a generated password once', async () => {
      const u = await createUser(ctx.t, ctx.token, { name: 'Jane Roe', email: 'jane@example.com', withExtension: false });
      const res = await ctx.t.request('POST', '/api/pbx/agent-extensions', { token: ctx.token, body: { userId: u.id } });
      assert.equal(res.statusCode, 201);
      assert.equal(res.json().extension, '1000');
      assert.ok(res.json().sipPassword.length >= 16);
      const again = await ctx.t.request('GET', `/api/pbx/agent-extensions/${res.json().id}`, { token: ctx.token });
      assert.equal(again.json().sipPassword, undefined);
    });

    it('a taken number answers 409 PBX_ERR_EXTENSION_TAKEN; a second extension for a user 409 PBX_ERR_USER_HAS_EXTENSION; an unknown user 404', async () => {
      const u = await createUser(ctx.t, ctx.token, { name: 'Third Person', email: 'third@example.com', withExtension: false });
      const taken = await ctx.t.request('POST', '/api/pbx/agent-extensions', { token: ctx.token, body: { userId: u.id, extension: '1001' } });
      assert.equal(taken.statusCode, 409);
      assert.equal(taken.json().error.code, 'PBX_ERR_EXTENSION_TAKEN');
      const first = await ctx.t.request('POST', '/api/pbx/agent-extensions', { token: ctx.token, body: { userId: u.id } });
      assert.equal(first.statusCode, 201);
      const second = await ctx.t.request('POST', '/api/pbx/agent-extensions', { token: ctx.token, body: { userId: u.id } });
      assert.equal(second.statusCode, 409);
      assert.equal(second.json().error.code, 'PBX_ERR_USER_HAS_EXTENSION');
      const nobody = await ctx.t.request('POST', '/api/pbx/agent-extensions', { token: ctx.token, body: { userId: '00000000-0000-4000-8000-000000000000' } });
      assert.equal(nobody.statusCode, 404);
      assert.equal(nobody.json().error.code, 'PBX_ERR_USER_NOT_FOUND');
    });

    it('GET lists every agent extension with its user, by number', async () => {
      const res = await ctx.t.request('GET', '/api/pbx/agent-extensions', { token: ctx.token });
      assert.equal(res.statusCode, 200);
      const numbers = res.json().agentExtensions.map((e: { extension: string }) => e.extension);
      assert.deepEqual(numbers, ['1000', '1001', '1002']);
      assert.ok(res.json().agentExtensions.every((e: { user: { email: string } }) => e.user.email));
    });

    it('PUT changes the ring timeout, and a new SIP password replaces the old one', async () => {
      const list = (await ctx.t.request('GET', '/api/pbx/agent-extensions', { token: ctx.token })).json().agentExtensions;
      const ext = list.find((e: { extension: string }) => e.extension === '1001');
      const res = await ctx.t.request('PUT', `/api/pbx/agent-extensions/${ext.id}`, { token: ctx.token, body: { ringTimeout: 30, sipPassword: 'new-password-1' } });
      assert.equal(res.statusCode, 200);
      assert.equal(res.json().ringTimeout, 30);
      const from = { remoteAddress: '192.0.2.50' };
      assert.equal((await ctx.t.request('POST', '/api/pbx/auth/login', { body: { extension: '1001', password: 'test1234' }, ...from })).statusCode, 401);
      assert.equal((await ctx.t.request('POST', '/api/pbx/auth/login', { body: { extension: '1001', password: 'new-password-1' }, ...from })).statusCode, 200);
    });

    it('a deactivated extension cannot log in', async () => {
      const list = (await ctx.t.request('GET', '/api/pbx/agent-extensions', { token: ctx.token })).json().agentExtensions;
      const ext = list.find((e: { extension: string }) => e.extension === '1001');
      await ctx.t.request('PUT', `/api/pbx/agent-extensions/${ext.id}`, { token: ctx.token, body: { isActive: false } });
      const res = await ctx.t.request('POST', '/api/pbx/auth/login', { body: { extension: '1001', password: 'new-password-1' }, remoteAddress: '192.0.2.51' });
      assert.equal(res.statusCode, 401);
      await ctx.t.request('PUT', `/api/pbx/agent-extensions/${ext.id}`, { token: ctx.token, body: { isActive: true } });
    });

    it('PUT /:id/status sets AWAY with a reason from the tenant list, refuses AVAILABLE without a device and BUSY by hand', async () => {
      const list = (await ctx.t.request('GET', '/api/pbx/agent-extensions', { token: ctx.token })).json().agentExtensions;
      const ext = list[0];
      const put = (body: unknown) => ctx.t.request('PUT', `/api/pbx/agent-extensions/${ext.id}/status`, { token: ctx.token, body });
      const away = await put({ status: 'AWAY', reason: 'Lunch' });
      assert.equal(away.statusCode, 200);
      assert.equal(away.json().status, 'AWAY');
      assert.equal(away.json().statusReason, 'Lunch');
      assert.equal(away.json().registered, false);
      const unknownReason = await put({ status: 'AWAY', reason: 'Nap' });
      assert.equal(unknownReason.statusCode, 400);
      assert.deepEqual(unknownReason.json().error.details.awayReasons, ['Break', 'Lunch', 'Training', 'Meeting']);
      const noDevice = await put({ status: 'AVAILABLE' });
      assert.equal(noDevice.statusCode, 409);
      assert.equal(noDevice.json().error.code, 'PBX_ERR_AGENT_NOT_REGISTERED');
      const busy = await put({ status: 'BUSY' });
      assert.equal(busy.statusCode, 409);
      assert.equal(busy.json().error.code, 'PBX_ERR_AGENT_STATE');
      const offline = await put({ status: 'OFFLINE', reason: 'ignored' });
      assert.equal(offline.json().status, 'OFFLINE');
      assert.equal(offline.json().statusReason, null);
    });

    it("seed 001's POST /api/pbx/agent/status sets the caller's own status", async () => {
      const login = await ctx.t.request('POST', '/api/pbx/auth/login', { body: { extension: '1001', password: 'new-password-1' }, remoteAddress: '192.0.2.52' });
      const agentToken = login.json().accessToken as string;
      const res = await ctx.t.request('POST', '/api/pbx/agent/status', { token: agentToken, body: { status: 'AWAY', reason: 'Break' } });
      assert.equal(res.statusCode, 200);
      assert.equal(res.json().extension, '1001');
      assert.equal(res.json().status, 'AWAY');
      const noExtension = await ctx.t.request('POST', '/api/pbx/agent/status', { token: ctx.token, body: { status: 'AVAILABLE' } });
      assert.equal(noExtension.statusCode, 404, 'the administrator has no extension');
    });

    it('DELETE removes the extension, keeps the user, and frees the number', async () => {
      const list = (await ctx.t.request('GET', '/api/pbx/agent-extensions', { token: ctx.token })).json().agentExtensions;
      const ext = list.find((e: { extension: string }) => e.extension === '1000');
      const res = await ctx.t.request('DELETE', `/api/pbx/agent-extensions/${ext.id}`, { token: ctx.token });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), { message: 'Agent extension deleted successfully', deleted_extension_id: ext.id, freed_extension: 1000 });
      const user = (await ctx.t.request('GET', `/api/users/${ext.userId}`, { token: ctx.token })).json();
      assert.equal(user.extension, null);
      assert.equal((await ctx.t.request('GET', `/api/pbx/agent-extensions/${ext.id}`, { token: ctx.token })).statusCode, 404);
      const next = await createUser(ctx.t, ctx.token, { name: 'Next One', email: 'next@example.com' });
      assert.equal(next.extension?.number, 1000);
    });
  });
}
