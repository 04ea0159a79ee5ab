// The browser softphone's short-lived SIP passwords: the registrar accepts them beside the permanent secret for
// one to two windows, for that extension only; a reset secret or another server secret ends them at once. The
// end-to-end proof (a browser registering with one) is in test/web/web-app.test.ts; here the API's side.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { digestHashes, ha1, SoftphoneCredentials } from '../../src/directory/index.ts';
import { createUser, useTestServer } from '../support/server.ts';
import { authField, runSipp } from '../support/sipp.ts';

const WINDOW = 3600_000;

function subject(secret = 'permanent-secret') {
  return { extensionId: 'ext-1', number: 1000, ...digestHashes('1000', 'pbx.test', secret) };
}

describe('softphone credentials', () => {
  it('a password is good in its window and the next, and not after', () => {
    let now = 10 * WINDOW + 5;
    const issuer = new SoftphoneCredentials('server secret', WINDOW, () => now);
    const issued = issuer.issue(subject());
    assert.equal(issued.username, '1000');
    assert.equal(issued.expiresAt.getTime(), 12 * WINDOW);
    const mine = ha1('SHA-256', '1000', 'pbx.test', issued.password);
    assert.ok(issuer.ha1s(subject(), 'SHA-256').includes(mine));
    assert.ok(issuer.ha1s(subject(), 'MD5').includes(ha1('MD5', '1000', 'pbx.test', issued.password)));
    now = 11 * WINDOW + 1;
    assert.ok(issuer.ha1s(subject(), 'SHA-256').includes(mine), 'still good in the next window');
    now = 12 * WINDOW;
    assert.ok(!issuer.ha1s(subject(), 'SHA-256').includes(mine), 'expired after two windows');
  });

  it('a new permanent secret, another extension or another server secret do not accept it', () => {
    const issuer = new SoftphoneCredentials('server secret', WINDOW, () => 5 * WINDOW);
    const mine = ha1('SHA-256', '1000', 'pbx.test', issuer.issue(subject()).password);
    assert.ok(!issuer.ha1s(subject('reset secret'), 'SHA-256').includes(mine));
    assert.ok(!issuer.ha1s({ ...subject(), extensionId: 'ext-2' }, 'SHA-256').includes(mine));
    assert.ok(!new SoftphoneCredentials('other secret', WINDOW, () => 5 * WINDOW).ha1s(subject(), 'SHA-256').includes(mine));
  });

  describe('POST /api/pbx/softphone/credentials', () => {
    const ctx = useTestServer('pglite');

    it("answers the logged-in user's own extension, never its permanent secret, and is not cached", async () => {
      const u = await createUser(ctx.t, ctx.token, { name: 'Web Agent', email: 'web.agent@example.com', password: 'agent password' });
      const token = await ctx.t.login('web.agent@example.com', 'agent password');
      const res = await ctx.t.request('POST', '/api/pbx/softphone/credentials', { token });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers['cache-control'], 'no-store');
      const body = res.json() as { extension: string; username: string; password: string; domain: string; websocketPath: string; expiresAt: string };
      assert.equal(body.extension, String(u.extension?.number));
      assert.equal(body.username, body.extension);
      assert.equal(body.domain, 'pbx.test');
      assert.equal(body.websocketPath, '/sip');
      assert.notEqual(body.password, u.extension?.secret);
      assert.ok(Date.parse(body.expiresAt) > Date.now());
    });

    it('the registrar accepts the short-lived password (sipp REGISTER with digest), and still refuses a wrong one', async () => {
      const u = await createUser(ctx.t, ctx.token, { name: 'Sipp Agent', email: 'sipp.agent@example.com', password: 'sipp password' });
      const token = await ctx.t.login('sipp.agent@example.com', 'sipp password');
      const { password } = (await ctx.t.request('POST', '/api/pbx/softphone/credentials', { token })).json() as { password: string };
      const number = String(u.extension?.number);
      for (const [secret, expect] of [[password, '200'], [`${password}x`, '403']] as const) {
        const run = await runSipp({
          scenario: 'register.xml',
          target: `127.0.0.1:${ctx.t.server.sipPort}`,
          rows: [[number, authField(number, secret)]],
          vars: { domain: 'pbx.test', expires: '300' },
          substitute: { EXPECT: expect, CONTACT: '127.0.0.1:5999' },
        });
        assert.equal(run.code, 0, run.errors || run.output);
      }
      assert.equal(ctx.t.server.telephony.location.lookup(u.extension?.id ?? '').length, 1);
    });

    it('a user without an extension gets 404, and nobody without a token gets anything', async () => {
      await createUser(ctx.t, ctx.token, { name: 'No Phone', email: 'no.phone@example.com', password: 'nophone password', withExtension: false });
      const token = await ctx.t.login('no.phone@example.com', 'nophone password');
      const res = await ctx.t.request('POST', '/api/pbx/softphone/credentials', { token });
      assert.equal(res.statusCode, 404);
      assert.equal(res.json().error.code, 'PBX_ERR_EXTENSION_NOT_FOUND');
      assert.equal((await ctx.t.request('POST', '/api/pbx/softphone/credentials')).statusCode, 401);
    });
  });
});
