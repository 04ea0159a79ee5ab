// Every answer of the web server tells the browser what the app may do: a strict Content-Security-Policy (no inline
// script, nothing from elsewhere), no framing, no referrer, no sniffing; Strict-Transport-Security (RFC 6797) only
// over HTTPS. Swagger UI at /docs gets inline styles, and still no inline script.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { useTestServer } from '../support/server.ts';

type Headers = Record<string, string | string[] | number | undefined>;

/** `default-src 'self'; img-src 'self' data:` → { 'default-src': ["'self'"], 'img-src': ["'self'", 'data:'] }. */
function policy(headers: Headers): Record<string, string[]> {
  const value = headers['content-security-policy'];
  assert.equal(typeof value, 'string', 'a Content-Security-Policy header');
  return Object.fromEntries(
    String(value).split(';').map((d) => d.trim().split(/\s+/)).filter((d) => d[0]).map(([name, ...sources]) => [name, sources]),
  );
}

function assertProtected(headers: Headers, what: string): Record<string, string[]> {
  const csp = policy(headers);
  assert.deepEqual(csp['default-src'], ["'self'"], what);
  assert.deepEqual(csp['script-src'], ["'self'"], `${what}: scripts from this origin only, none inline`);
  assert.deepEqual(csp['connect-src'], ["'self'"], what);
  assert.deepEqual(csp['object-src'], ["'none'"], what);
  assert.deepEqual(csp['base-uri'], ["'none'"], what);
  assert.deepEqual(csp['frame-ancestors'], ["'none'"], what);
  assert.equal(headers['x-frame-options'], 'DENY', what);
  assert.equal(headers['x-content-type-options'], 'nosniff', what);
  assert.equal(headers['referrer-policy'], 'no-referrer', what);
  return csp;
}

describe('security headers over HTTP', () => {
  const ctx = useTestServer('pglite');

  it('the page, the API, its errors and the health check carry a strict CSP, no framing, no referrer, nosniff, and no HSTS', async () => {
    const answers = {
      'the app page': await ctx.t.request('GET', '/pbx/login'),
      'the root page': await ctx.t.request('GET', '/'),
      'an API answer': await ctx.t.request('GET', '/api/users', { token: ctx.token }),
      'a 401': await ctx.t.request('GET', '/api/users'),
      'a 400': await ctx.t.request('POST', '/api/users', { token: ctx.token, body: {} }),
      'a 404': await ctx.t.request('GET', '/nowhere'),
      'the health check': await ctx.t.request('GET', '/health'),
      // Without a trusted proxy, a client's own X-Forwarded-Proto does not make plain HTTP secure.
      'a spoofed https': await ctx.t.request('GET', '/health', { headers: { 'x-forwarded-proto': 'https' } }),
    };
    for (const [what, res] of Object.entries(answers)) {
      const csp = assertProtected(res.headers, what);
      assert.deepEqual(csp['style-src'], ["'self'"], `${what}: styles from this origin only, none inline`);
      assert.equal(res.headers['strict-transport-security'], undefined, `${what}: no HSTS over HTTP`);
    }
  });

  it("the built app's assets carry it too", async (t) => {
    const page = await ctx.t.request('GET', '/');
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(page.body)?.[1];
    if (!asset) return t.skip('the web app is not built');
    const res = await ctx.t.request('GET', asset);
    assert.equal(res.statusCode, 200);
    assertProtected(res.headers, asset);
  });

  it('Swagger UI at /docs may use inline styles, still not inline scripts, and cannot be framed', async () => {
    for (const url of ['/docs', '/docs/static/index.html', '/docs/json']) {
      const res = await ctx.t.request('GET', url);
      assert.ok(res.statusCode < 400, `${url}: ${res.statusCode}`);
      const csp = assertProtected(res.headers, url);
      assert.deepEqual(csp['style-src'], ["'self'", "'unsafe-inline'"], url);
    }
  });
});

const certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-hsts-'));
execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(certDir, 'key.pem'), '-out', path.join(certDir, 'cert.pem'), '-days', '1', '-subj', '/CN=pbx.test'], { stdio: 'ignore' });
after(() => fs.rmSync(certDir, { recursive: true, force: true }));

describe('security headers over HTTPS', () => {
  const ctx = useTestServer('pglite', { httpTlsCert: path.join(certDir, 'cert.pem'), httpTlsKey: path.join(certDir, 'key.pem') });

  it('answers over HTTPS carry Strict-Transport-Security for a year, and the same CSP', async () => {
    const headers = await new Promise<Headers>((resolve, reject) => {
      https.get(`${ctx.t.server.url}/pbx/login`, { rejectUnauthorized: false }, (res) => {
        res.resume();
        resolve(res.headers);
      }).on('error', reject);
    });
    assert.equal(headers['strict-transport-security'], 'max-age=31536000');
    assertProtected(headers, 'the page over HTTPS');
  });
});
