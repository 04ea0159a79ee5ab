// The server as people run it: `npm start` on embedded defaults answers /health and /docs over real HTTP, prints
// the first administrator's password once, stops cleanly on SIGTERM, and a restart finds all data, on PGlite and
// on a PostgreSQL server. The `pbx` commands migrate, admin create and doctor; a bad setting stops the start.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { createPostgresDatabase } from '../support/databases.ts';
import { freePort, runPbx, runPbxToEnd, waitForOutput } from '../support/process.ts';

// SIP on a free loopback port, so that servers of parallel tests never contend for 5060.
const SIP = { PBX_SIP_HOST: '127.0.0.1', PBX_SIP_PORT: '0' };

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-e2e-'));
  tempDirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

async function json(url: string, init?: RequestInit): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function loginOverHttp(base: string, email: string, password: string): Promise<string> {
  const res = await json(`${base}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.accessToken as string;
}

describe('npm start on embedded defaults', () => {
  it('answers /health and /docs, prints the first password once, stops on SIGTERM, and a restart keeps the data', async () => {
    const dataDir = tempDir();
    const port = await freePort();
    const env = { PBX_DATA_DIR: dataDir, PBX_HTTP_PORT: String(port), PBX_HTTP_HOST: '127.0.0.1', PBX_LOG_LEVEL: 'warn', ...SIP };
    const base = `http://127.0.0.1:${port}`;

    const first = runPbx([], env, { viaNpm: true });
    let userId: string;
    let password: string;
    try {
      const out = await waitForOutput(first, 'listening on');
      password = /Password \(shown once, change it after logging in\): (\S+)/.exec(out)?.[1] as string;
      assert.ok(password, out);
      assert.match(out, /First administrator created: admin@pbx\.local/);

      const health = await json(`${base}/health`);
      assert.deepEqual(health, { status: 200, body: { status: 'healthy', service: 'Switchboard', version: '0.1.0' } });
      const ready = await json(`${base}/health/ready`);
      assert.deepEqual(ready.body, { status: 'ready', checks: { database: 'ok', writes: 'ok', pendingWrites: 0, deadLetters: 0 } });
      const docs = await fetch(`${base}/docs`, { redirect: 'follow' });
      assert.equal(docs.status, 200);
      assert.match(await docs.text(), /swagger/i);
      const spec = await json(`${base}/docs/json`);
      const paths = Object.keys(spec.body.paths as object);
      for (const p of ['/api/users', '/api/pbx/auth/login', '/api/pbx/agent-extensions/{id}/status', '/api/audit', '/health']) {
        assert.ok(paths.includes(p), `OpenAPI lacks ${p}`);
      }

      const token = await loginOverHttp(base, 'admin@pbx.local', password);
      const created = await json(`${base}/api/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ name: 'Kept Across Restarts', email: 'kept@example.com' }),
      });
      assert.equal(created.status, 201);
      userId = created.body.id as string;
      assert.ok(fs.existsSync(path.join(dataDir, 'jwt-secret')));
      assert.equal(fs.statSync(path.join(dataDir, 'jwt-secret')).mode & 0o077, 0, 'the signing secret is readable by its owner only');
    } finally {
      // npm itself dies of the signal; the server's clean exit shows in the released database lock.
      await first.stop();
    }
    assert.ok(!fs.existsSync(path.join(dataDir, 'pglite.lock')), 'the server closed its database and released the lock');

    const second = runPbx(['start'], env);
    try {
      const out = await waitForOutput(second, 'listening on');
      assert.doesNotMatch(out, /Password/, 'the password is printed on the first start only');
      const token = await loginOverHttp(base, 'admin@pbx.local', password);
      const users = await json(`${base}/api/users/${userId}`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(users.status, 200);
      assert.equal(users.body.email, 'kept@example.com');
    } finally {
      assert.equal(await second.stop(), 0);
    }
  });

  it('a second server on the same data directory refuses to start, naming the process that holds it', async () => {
    const dataDir = tempDir();
    const env = { PBX_DATA_DIR: dataDir, PBX_HTTP_HOST: '127.0.0.1', PBX_LOG_LEVEL: 'warn', PBX_ADMIN_PASSWORD: 'first-admin-pw', ...SIP };
    const first = runPbx(['start', '--http-port', String(await freePort())], env);
    try {
      await waitForOutput(first, 'listening on');
      const second = await runPbxToEnd(['start', '--http-port', String(await freePort())], env);
      assert.equal(second.code, 1);
      assert.match(second.output, new RegExp(`in use by process ${first.child.pid}`));
    } finally {
      await first.stop();
    }
  });
});

describe('DATABASE_URL: a PostgreSQL server', () => {
  it('starts, migrates, keeps data across a restart', async () => {
    const db = await createPostgresDatabase();
    const port = await freePort();
    const env = {
      DATABASE_URL: db.url,
      PBX_DATA_DIR: tempDir(),
      PBX_HTTP_PORT: String(port),
      PBX_HTTP_HOST: '127.0.0.1',
      PBX_LOG_LEVEL: 'warn',
      PBX_ADMIN_EMAIL: 'root@example.com',
      PBX_ADMIN_PASSWORD: 'root-password-1',
      PBX_JWT_SECRET: 'x'.repeat(40),
      ...SIP,
    };
    const base = `http://127.0.0.1:${port}`;
    try {
      for (const round of [1, 2]) {
        const p = runPbx(['start'], env);
        try {
          const out = await waitForOutput(p, 'listening on');
          assert.doesNotMatch(out, /Password/, 'a configured password is never printed');
          const token = await loginOverHttp(base, 'root@example.com', 'root-password-1');
          if (round === 1) {
            const created = await json(`${base}/api/users`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
              body: JSON.stringify({ name: 'On Postgres', email: 'pg@example.com' }),
            });
            assert.equal(created.status, 201);
          } else {
            const list = await json(`${base}/api/users`, { headers: { authorization: `Bearer ${token}` } });
            assert.ok((list.body.users as Array<{ email: string }>).some((u) => u.email === 'pg@example.com'));
          }
        } finally {
          assert.equal(await p.stop(), 0);
        }
      }
    } finally {
      await db.drop();
    }
  });
});

describe('the pbx command', () => {
  it('a bad setting stops the start with a message naming the variable (exit 2)', async () => {
    const r = await runPbxToEnd(['start'], { PBX_HTTP_PORT: 'eighty', PBX_DATA_DIR: tempDir() });
    assert.equal(r.code, 2);
    assert.match(r.output, /PBX_HTTP_PORT: must be a whole number/);
    const flag = await runPbxToEnd(['start', '--extension-range', '9-1'], { PBX_DATA_DIR: tempDir() });
    assert.equal(flag.code, 2);
    assert.match(flag.output, /PBX_EXTENSION_RANGE/);
    const tls = await runPbxToEnd(['start'], { PBX_DATA_DIR: tempDir(), ...SIP, PBX_HTTP_PORT: '0', PBX_SIP_TLS_CERT: '/nonexistent/cert.pem', PBX_SIP_TLS_KEY: '/nonexistent/key.pem' });
    assert.equal(tls.code, 1);
    assert.match(tls.output, /PBX_SIP_TLS_CERT: cannot read \/nonexistent\/cert\.pem \(ENOENT\)/);
  });

  it('pbx migrate, then pbx admin create, then that administrator logs in to the started server', async () => {
    const dataDir = tempDir();
    const env = { PBX_DATA_DIR: dataDir, PBX_LOG_LEVEL: 'warn', PBX_HTTP_HOST: '127.0.0.1', ...SIP };
    const migrated = await runPbxToEnd(['migrate'], env);
    assert.equal(migrated.code, 0, migrated.output);
    assert.match(migrated.output, /Migrations applied \(pglite/);
    const created = await runPbxToEnd(['admin', 'create', '--email', 'ops@example.com', '--password', 'ops-password-1'], env);
    assert.equal(created.code, 0, created.output);
    assert.match(created.output, /Administrator ops@example\.com created/);
    const again = await runPbxToEnd(['admin', 'create', '--email', 'ops@example.com', '--password', 'ops-password-1'], env);
    assert.equal(again.code, 2);
    assert.match(again.output, /already in use/);
    const missing = await runPbxToEnd(['admin', 'create', '--email', 'x@example.com'], env);
    assert.equal(missing.code, 2);

    const port = await freePort();
    const p = runPbx(['start', '--http-port', String(port)], env);
    try {
      const out = await waitForOutput(p, 'listening on');
      assert.doesNotMatch(out, /First administrator/, 'an administrator exists already');
      await loginOverHttp(`http://127.0.0.1:${port}`, 'ops@example.com', 'ops-password-1');
    } finally {
      await p.stop();
    }
  });

  it('pbx doctor prints the database, the HTTP port and which media a start would use', async () => {
    const r = await runPbxToEnd(['doctor', '--http-port', String(await freePort())], { PBX_DATA_DIR: tempDir(), PBX_HTTP_HOST: '127.0.0.1' });
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /^OK +database +embedded PGlite at /m);
    assert.match(r.output, /^OK +HTTP port +127\.0\.0\.1:\d+ is free/m);
    assert.match(r.output, /^(OK|WARN) +media +/m);
    const off = await runPbxToEnd(['doctor', '--http-port', String(await freePort())], { PBX_DATA_DIR: tempDir(), PBX_HTTP_HOST: '127.0.0.1', PBX_RTPENGINE: 'off' });
    assert.match(off.output, /^INFO +media +PBX_RTPENGINE=off: calls will use direct media/m);
    const port = await freePort();
    const absent = await runPbxToEnd(['doctor', '--http-port', String(await freePort())], { PBX_DATA_DIR: tempDir(), PBX_HTTP_HOST: '127.0.0.1', PBX_RTPENGINE: `127.0.0.1:${port}` });
    assert.equal(absent.code, 1, absent.output);
    assert.match(absent.output, new RegExp(`^FAIL +media +rtpengine at 127\\.0\\.0\\.1:${port} does not answer ping`, 'm'));
  });

  it('pbx help lists the commands and every flag', async () => {
    const r = await runPbxToEnd(['help'], {});
    assert.equal(r.code, 0);
    for (const word of ['start', 'migrate', 'admin create', 'doctor', '--http-port', '--database-url', 'PBX_EXTENSION_RANGE']) {
      assert.ok(r.output.includes(word), word);
    }
  });
});
