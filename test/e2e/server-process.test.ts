// The server as people run it: `npm start` on embedded defaults answers /health and /docs over real HTTP, prints
// the first administrator's password once, stops cleanly on SIGTERM, and a restart finds all data, on PGlite and
// on a PostgreSQL server. The `pbx` commands are in pbx-command.test.ts.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { createPostgresDatabase } from '../support/databases.ts';
import { freePort, loginOverHttp, json, runPbx, runPbxToEnd, SIP, tempDirs, waitForOutput } from '../support/process.ts';

const { tempDir, removeAll } = tempDirs();
after(removeAll);

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
