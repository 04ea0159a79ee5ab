// Every route validates its input by schema: bad input answers 400 {error: {code: "PBX_ERR_VALIDATION", message,
// details}} naming the field; hostile bodies get their own clear codes; a 500 never shows a stack or SQL.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, useTestServer } from '../support/server.ts';

describe('validation and errors at the HTTP door', () => {
  const ctx = useTestServer('pglite');

  const cases: Array<{ name: string; method: string; url: string; body?: unknown; field: string; message: string }> = [
    { name: 'a missing required field', method: 'POST', url: '/api/users', body: { email: 'a@example.com' }, field: 'body.name', message: 'is required' },
    { name: 'a malformed email', method: 'POST', url: '/api/users', body: { name: 'A', email: 'not-an-email' }, field: 'body.email', message: 'must match format "email"' },
    { name: 'an unknown field', method: 'POST', url: '/api/users', body: { name: 'A', email: 'a@example.com', isAdmin: true }, field: 'body.isAdmin', message: 'is not allowed' },
    { name: 'a number where text belongs (no coercion in bodies)', method: 'POST', url: '/api/users', body: { name: 123, email: 'a@example.com' }, field: 'body.name', message: 'must be string' },
    { name: 'a blank name', method: 'POST', url: '/api/users', body: { name: '   ', email: 'a@example.com' }, field: 'body.name', message: 'must match pattern "\\S"' },
    { name: 'an unknown role', method: 'POST', url: '/api/users', body: { name: 'A', email: 'a@example.com', role: 'ROOT' }, field: 'body.role', message: 'must be equal to constant' },
    { name: 'a short password', method: 'POST', url: '/api/users', body: { name: 'A', email: 'a@example.com', password: 'short' }, field: 'body.password', message: 'must NOT have fewer than 8 characters' },
    { name: 'a path id that is not a UUID', method: 'GET', url: '/api/users/42', field: 'params.id', message: 'must match format "uuid"' },
    { name: 'an empty change', method: 'PATCH', url: '/api/users/00000000-0000-4000-8000-000000000000', body: {}, field: 'body', message: 'must NOT have fewer than 1 properties' },
    { name: 'a query limit that is not a number', method: 'GET', url: '/api/audit?limit=lots', field: 'querystring.limit', message: 'must be integer' },
    { name: 'a query limit out of range', method: 'GET', url: '/api/audit?limit=100000', field: 'querystring.limit', message: 'must be <= 500' },
    { name: 'an extension that is not digits', method: 'POST', url: '/api/pbx/auth/login', body: { extension: '10a1', password: 'x' }, field: 'body.extension', message: 'must match pattern "^[0-9]{2,9}$"' },
    { name: 'a login without password', method: 'POST', url: '/api/auth/login', body: { email: 'a@example.com' }, field: 'body.password', message: 'is required' },
    { name: 'a status outside the settable ones', method: 'POST', url: '/api/pbx/agent/status', body: { status: 'RINGING' }, field: 'body.status', message: 'must be equal to constant' },
    { name: 'a tenant domain with spaces', method: 'POST', url: '/api/tenants', body: { name: 'X', domain: 'bad domain' }, field: 'body.domain', message: 'must match pattern' },
    { name: 'a reversed extension range', method: 'POST', url: '/api/tenants', body: { name: 'X', domain: 'x.test', extensionRange: '2000-1000' }, field: 'body.extensionRange', message: 'must start at or below its end' },
  ];

  for (const c of cases) {
    it(`${c.name} answers 400 PBX_ERR_VALIDATION naming ${c.field}`, async () => {
      const res = await ctx.t.request(c.method, c.url, { token: ctx.token, body: c.body });
      assert.equal(res.statusCode, 400, res.body);
      const { error } = res.json();
      assert.equal(error.code, 'PBX_ERR_VALIDATION');
      assert.ok(error.message.startsWith(`${c.field} `), error.message);
      assert.ok(error.message.includes(c.message), error.message);
      assert.ok(Array.isArray(error.details) && error.details.some((d: { field: string }) => d.field === c.field), JSON.stringify(error.details));
    });
  }

  it('every problem of a body is reported at once', async () => {
    const res = await ctx.t.request('POST', '/api/users', { token: ctx.token, body: { email: 'bad', role: 'ROOT' } });
    const fields = res.json().error.details.map((d: { field: string }) => d.field).sort();
    assert.deepEqual(fields, ['body.email', 'body.name', 'body.role']);
  });

  it('a body that is not JSON answers 400 PBX_ERR_MALFORMED_BODY', async () => {
    const res = await ctx.t.request('POST', '/api/users', { token: ctx.token, body: '{"name": "A", "email": ', headers: { 'content-type': 'application/json' } });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().error.code, 'PBX_ERR_MALFORMED_BODY');
  });

  it('a body with __proto__ is refused, and nothing is polluted', async () => {
    const res = await ctx.t.request('POST', '/api/users', {
      token: ctx.token,
      body: '{"name": "A", "email": "p@example.com", "__proto__": {"role": "ADMIN"}}',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().error.code, 'PBX_ERR_MALFORMED_BODY');
    assert.equal(({} as { role?: string }).role, undefined);
  });

  it('a body over 1 MiB answers 413 PBX_ERR_PAYLOAD_TOO_LARGE', async () => {
    const res = await ctx.t.request('POST', '/api/users', { token: ctx.token, body: JSON.stringify({ name: 'x'.repeat(1_100_000), email: 'big@example.com' }), headers: { 'content-type': 'application/json' } });
    assert.equal(res.statusCode, 413);
    assert.equal(res.json().error.code, 'PBX_ERR_PAYLOAD_TOO_LARGE');
  });

  it('a body that is not JSON by content type answers 415 PBX_ERR_UNSUPPORTED_MEDIA_TYPE', async () => {
    const res = await ctx.t.request('POST', '/api/users', { token: ctx.token, body: 'name=A', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(res.statusCode, 415);
    assert.equal(res.json().error.code, 'PBX_ERR_UNSUPPORTED_MEDIA_TYPE');
  });

  it('an unknown route answers 404 PBX_ERR_NOT_FOUND; under /api only once authenticated', async () => {
    const res = await ctx.t.request('GET', '/nowhere');
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().error.code, 'PBX_ERR_NOT_FOUND');
    assert.equal((await ctx.t.request('GET', '/api/nowhere')).statusCode, 401);
    assert.equal((await ctx.t.request('GET', '/api/nowhere', { token: ctx.token })).statusCode, 404);
  });

  it('every answer carries a request id, and a sane one from the client is kept', async () => {
    const res = await ctx.t.request('GET', '/health', { headers: { 'x-request-id': 'client-abc-123' } });
    assert.equal(res.headers['x-request-id'], 'client-abc-123');
    const hostile = await ctx.t.request('GET', '/health', { headers: { 'x-request-id': 'a'.repeat(500) } });
    assert.match(String(hostile.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });
});

describe('a 500 never shows a stack or SQL', () => {
  it('with the database gone, /api answers 500 PBX_ERR_INTERNAL and readiness 503, and the process stays up', async () => {
    const t = await startTestServer('pglite');
    try {
      const token = await t.adminToken();
      await t.server.database.close();
      const res = await t.request('GET', '/api/users', { token });
      assert.equal(res.statusCode, 500);
      assert.deepEqual(res.json(), { error: { code: 'PBX_ERR_INTERNAL', message: 'Internal server error' } });
      const ready = await t.request('GET', '/health/ready');
      assert.equal(ready.statusCode, 503);
      assert.equal(ready.json().status, 'unavailable');
      assert.equal((await t.request('GET', '/health')).statusCode, 200, 'liveness still answers');
    } finally {
      await t.stop();
    }
  });
});

// JSON may carry U+0000 ("\u0000") in any string; PostgreSQL's text and jsonb refuse it, which used to surface as
// a 500. It is refused at the door with a 400 naming the field, on both storage back ends.
for (const kind of databaseKinds) {
  describe(`a NUL character (U+0000) in any text is refused with 400 PBX_ERR_VALIDATION (${kind})`, () => {
    const ctx = useTestServer(kind);
    const raw = (method: string, url: string, json: string) =>
      ctx.t.request(method, url, { token: ctx.token, body: json, headers: { 'content-type': 'application/json' } });
    const assertRefused = (res: { statusCode: number; body: string; json(): { error: { code: string; message: string; details: Array<{ field: string }> } } }, field: string) => {
      assert.equal(res.statusCode, 400, res.body);
      const { error } = res.json();
      assert.equal(error.code, 'PBX_ERR_VALIDATION');
      assert.equal(error.message, `${field} must not contain the NUL character (U+0000)`);
      assert.ok(error.details.some((d) => d.field === field), JSON.stringify(error.details));
    };

    it('in a body field: POST /api/users {"name":"a\\u0000b"}', async () => {
      assertRefused(await raw('POST', '/api/users', '{"name":"a\\u0000b","email":"nul@example.com"}'), 'body.name');
      const users = await ctx.t.request('GET', '/api/users', { token: ctx.token });
      assert.equal(users.statusCode, 200);
      assert.ok(!users.body.includes('nul@example.com'), 'nothing was created');
    });

    it('deep in a body: an item of an array', async () => {
      assertRefused(await raw('PUT', '/api/pbx/agent/away-reasons', '{"awayReasons":["Lunch","Tea\\u0000"]}'), 'body.awayReasons.1');
    });

    it("in a field's name", async () => {
      assertRefused(await raw('POST', '/api/users', '{"name":"A","email":"key@example.com","x\\u0000":1}'), 'body.x\\u0000');
    });

    it('on a public route: the login domain', async () => {
      const res = await ctx.t.request('POST', '/api/pbx/auth/login', { body: { extension: '1000', password: 'whatever', domain: 'pbx\u0000.test' }, remoteAddress: '192.0.2.250' });
      assertRefused(res, 'body.domain');
    });

    it('in a query string: GET /api/audit?action=a%00b', async () => {
      assertRefused(await ctx.t.request('GET', '/api/audit?action=a%00b', { token: ctx.token }), 'querystring.action');
    });

    it('in a path parameter, and the refusal still reaches the audit trail', async () => {
      assertRefused(await ctx.t.request('DELETE', '/api/users/a%00b', { token: ctx.token }), 'params.id');
      const audit = await ctx.t.request('GET', '/api/audit?action=user.delete', { token: ctx.token });
      const row = audit.json().entries.find((e: { statusCode: number }) => e.statusCode === 400);
      assert.ok(row, audit.body);
      assert.equal(row.targetId, 'a\\u0000b', 'the NUL is written out, not lost with the row');
    });
  });
}
