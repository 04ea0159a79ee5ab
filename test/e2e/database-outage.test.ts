// A PostgreSQL server that goes away mid-traffic loses no record (issue: "nothing lost"): calls made while it is
// stopped still get their call sessions and agent activity rows once it is back, `/health/ready` says writes are
// waiting meanwhile, and a server stopped during the outage keeps what it could not write for its next start.
// The server is a real process with DATABASE_URL; the database is a real PostgreSQL server this test stops and
// starts; the phones are sipp.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { startPostgres } from '../../scripts/postgres-cluster.mjs';
import { answered, CALLER_HANGS_UP, callee, caller, type Ext, registerAt, WAIT_FOR_BYE } from '../support/calls.ts';
import { freePort, type PbxProcess, runPbx, waitForOutput } from '../support/process.ts';
import type { SippRun } from '../support/sipp.ts';
import { until } from '../support/wait.ts';

const ADMIN = { email: 'admin@pbx.test', password: 'outage-admin-pw' };

describe('a database outage mid-traffic', () => {
  it('loses no call session and no agent activity: writes wait while PostgreSQL is stopped, through a stop of the server too', async () => {
    const cluster = await startPostgres();
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-outage-'));
    const [httpPort, sipPort, phonePort] = [await freePort(), await freePort(), await freePort()];
    const env = {
      DATABASE_URL: cluster.url,
      PBX_DATA_DIR: dataDir,
      PBX_HTTP_PORT: String(httpPort),
      PBX_HTTP_HOST: '127.0.0.1',
      PBX_SIP_HOST: '127.0.0.1',
      PBX_SIP_PORT: String(sipPort),
      PBX_DOMAIN: 'pbx.test',
      PBX_ADMIN_EMAIL: ADMIN.email,
      PBX_ADMIN_PASSWORD: ADMIN.password,
      PBX_LOG_LEVEL: 'warn',
      PBX_RTPENGINE: 'off',
    };
    const base = `http://127.0.0.1:${httpPort}`;
    const sip = { server: { sipPort } };
    const stopPhones = new AbortController();
    let phone: Promise<SippRun> | undefined;
    let server: PbxProcess = runPbx(['start'], env);
    const db = new pg.Pool({ connectionString: cluster.url, max: 2 });
    db.on('error', () => {});
    const count = async (query: string, params: unknown[] = []) => Number((await db.query<{ n: string }>(query, params)).rows[0]!.n);
    const ready = async () => {
      const res = await fetch(`${base}/health/ready`);
      return { status: res.status, body: (await res.json()) as { status: string; checks: { database: string; writes: string; pendingWrites: number } } };
    };
    const call = async (from: Ext, to: Ext | number) => {
      const run = await caller(sip, from, typeof to === 'number' ? to : to.number, answered(CALLER_HANGS_UP), 200);
      assert.equal(run.code, 0, run.errors || run.output);
    };
    try {
      await waitForOutput(server, 'listening on');
      const login = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ADMIN) });
      const token = ((await login.json()) as { accessToken: string }).accessToken;
      const post = async (method: string, url: string, body: unknown) => {
        const res = await fetch(`${base}${url}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
        assert.ok(res.status < 300, `${url}: ${res.status}`);
        return res.json() as Promise<Record<string, unknown>>;
      };
      const user = async (name: string) => ((await post('POST', '/api/users', { name, email: `${name.toLowerCase()}@example.com` })) as { extension: Ext }).extension;
      const [alice, bob] = [await user('Alice'), await user('Bob')];
      phone = callee('uas-answer.xml', phonePort, { RING: '100', HANGUP_STEPS: WAIT_FOR_BYE }, { calls: 7, timeoutSeconds: 170, signal: stopPhones.signal });
      await registerAt(sip, bob, phonePort);
      const busyRows = () => count(`select count(*) as n from agent_activity_log where extension_id = $1 and to_status = 'BUSY'`, [bob.id]);

      await post('PUT', `/api/pbx/agent-extensions/${bob.id}/status`, { status: 'AVAILABLE' });
      await post('POST', '/api/pbx/queues', { name: 'Outage', number: '2001', members: [{ extensionId: bob.id }] });
      await call(alice, bob);
      await call(alice, 2001);
      await until('the first calls are written', () => count(`select count(*) as n from call_sessions where ended_at is not null`), (n) => n === 2);

      // PostgreSQL goes away; calls are made and end meanwhile, to an extension and to a queue whose number was
      // last looked up more than the directory's memory of a miss (5 s) ago.
      cluster.pause();
      await new Promise((resolve) => setTimeout(resolve, 5500));
      await call(alice, bob);
      await call(alice, 2001);
      await call(alice, bob);
      const during = await until('readiness reports the writes waiting', ready, (r) => r.status === 503 && r.body.checks.writes !== 'ok');
      assert.equal(during.body.checks.database, 'unreachable');
      assert.ok(during.body.checks.pendingWrites > 0, JSON.stringify(during.body));

      // Back: every change is written, and the server is ready again.
      cluster.resume();
      const back = await until('readiness is back', ready, (r) => r.status === 200, 30_000);
      assert.equal(back.body.checks.pendingWrites, 0);
      assert.equal(await count(`select count(*) as n from call_sessions where status = 'COMPLETED'`), 5, 'every call has its session');
      assert.equal(await busyRows(), 5, 'every call has its agent activity');

      // Gone again, and the server is stopped before it comes back: what was not written waits for the next start.
      cluster.pause();
      await call(alice, bob);
      await call(alice, bob);
      assert.equal(await server.stop(), 0, server.output());
      assert.ok(fs.readdirSync(path.join(dataDir, 'write-journal')).some((f) => f.endsWith('.spilled.jsonl')), 'the journal holds the changes');
      cluster.resume();
      server = runPbx(['start'], env);
      await waitForOutput(server, 'listening on');
      await until('readiness after the restart', ready, (r) => r.status === 200 && r.body.checks.pendingWrites === 0, 30_000);
      assert.equal(await count(`select count(*) as n from call_sessions where status = 'COMPLETED'`), 7, 'the calls made before the stop have their sessions');
      assert.equal(await busyRows(), 7);
      assert.equal(await count(`select count(*) as n from call_sessions where ended_at is null`), 0);
    } finally {
      stopPhones.abort();
      await server.stop();
      await phone?.catch(() => undefined);
      await db.end();
      cluster.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
