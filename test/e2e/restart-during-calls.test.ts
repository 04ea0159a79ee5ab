// A server killed during calls (SIGKILL: no chance to tidy up) and started again on the same data: no agent is
// left BUSY and no call session is left open. The call that was connected and the caller that was waiting in the
// queue are closed as FAILED with the cause `restart`, and the agent is back to AVAILABLE or OFFLINE, as its devices
// say.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { answered, CALLER_HANGS_UP, callee, caller, type Ext, registerAt, WAIT_FOR_BYE } from '../support/calls.ts';
import { freePort, runPbx, waitForOutput } from '../support/process.ts';
import type { SippRun } from '../support/sipp.ts';
import { until } from '../support/wait.ts';

const ADMIN = { email: 'admin@pbx.test', password: 'restart-admin-pw' };

describe('restart during calls', () => {
  it('after a kill and a start, no agent is BUSY and no session is open: they end FAILED with cause restart', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-restart-'));
    const [httpPort, sipPort, phonePort] = [await freePort(), await freePort(), await freePort()];
    const env = {
      PBX_DATA_DIR: dataDir,
      PBX_HTTP_PORT: String(httpPort),
      PBX_HTTP_HOST: '127.0.0.1',
      PBX_SIP_HOST: '127.0.0.1',
      PBX_SIP_PORT: String(sipPort),
      PBX_DOMAIN: 'pbx.test',
      PBX_ADMIN_EMAIL: ADMIN.email,
      PBX_ADMIN_PASSWORD: ADMIN.password,
      PBX_LOG_LEVEL: 'warn',
      // Direct media: a killed server leaves no relay of its own behind.
      PBX_RTPENGINE: 'off',
    };
    const base = `http://127.0.0.1:${httpPort}`;
    const sip = { server: { sipPort } };
    const stopPhones = new AbortController();
    const phones: Array<Promise<SippRun>> = [];
    let server = runPbx(['start'], env);
    try {
      await waitForOutput(server, 'listening on');
      const login = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ADMIN) });
      const token = ((await login.json()) as { accessToken: string }).accessToken;
      const api = async (method: string, url: string, body?: unknown) => {
        const res = await fetch(`${base}${url}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
        const json = (await res.json()) as Record<string, unknown>;
        assert.ok(res.status < 300, `${method} ${url}: ${res.status} ${JSON.stringify(json)}`);
        return json;
      };
      const user = async (name: string) => ((await api('POST', '/api/users', { name, email: `${name.toLowerCase()}@example.com` })) as unknown as { extension: Ext }).extension;
      const [customer, agent] = [await user('Customer'), await user('Agent')];
      phones.push(callee('uas-answer.xml', phonePort, { RING: '100', HANGUP_STEPS: WAIT_FOR_BYE }, { timeoutSeconds: 120, signal: stopPhones.signal }));
      await registerAt(sip, agent, phonePort);
      await api('PUT', `/api/pbx/agent-extensions/${agent.id}/status`, { status: 'AVAILABLE' });
      await api('POST', '/api/pbx/queues', { name: 'Restart', number: '2001', members: [{ extensionId: agent.id }] });

      // One caller talks with the agent, a second one waits in the queue.
      const talking = caller(sip, customer, 2001, answered(CALLER_HANGS_UP), 120_000);
      await until('the agent is BUSY', async () => ((await api('GET', '/api/pbx/manager/agents')).agents as unknown as Array<{ id: string; status: string }>).find((a) => a.id === agent.id)?.status, (s) => s === 'BUSY');
      const waiting = caller(sip, customer, 2001, answered(CALLER_HANGS_UP), 120_000);
      const open = await until(
        'one session connected and one queued',
        async () => ((await api('GET', '/api/pbx/calls/sessions')).sessions as unknown as Array<{ status: string }>).map((s) => s.status).sort(),
        (s) => s.join() === 'CONNECTED,QUEUED',
      );
      assert.deepEqual(open, ['CONNECTED', 'QUEUED']);

      server.child.kill('SIGKILL');
      await server.exited;
      // The callers' sipp would wait for their calls for minutes: they are stopped with the phones.
      stopPhones.abort();
      server = runPbx(['start'], env);
      await waitForOutput(server, 'listening on');
      const relogin = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ADMIN) });
      const token2 = ((await relogin.json()) as { accessToken: string }).accessToken;
      const get = async (url: string) => (await fetch(`${base}${url}`, { headers: { authorization: `Bearer ${token2}` } })).json() as Promise<Record<string, unknown>>;
      const sessions = (await get('/api/pbx/calls/sessions')).sessions as Array<{ status: string; endCause: string | null; endedAt: string | null }>;
      assert.equal(sessions.length, 2);
      for (const s of sessions) {
        assert.ok(s.endedAt, 'no session is left open');
        assert.equal(s.status, 'FAILED');
        assert.equal(s.endCause, 'restart');
      }
      const agents = (await get('/api/pbx/manager/agents')).agents as Array<{ id: string; status: string; statusReason: string | null; registered: boolean }>;
      const after = agents.find((a) => a.id === agent.id);
      // The registrar writes bindings behind memory, so one made seconds before a crash may not be back: then the
      // agent is OFFLINE. Either way its state agrees with its devices, and it is never left BUSY.
      assert.equal(after?.status, after?.registered ? 'AVAILABLE' : 'OFFLINE', `the agent's state follows its devices: ${JSON.stringify(after)}`);
      assert.equal(after?.statusReason, 'Server restart');
      void talking.catch(() => undefined);
      void waiting.catch(() => undefined);
    } finally {
      stopPhones.abort();
      await server.stop();
      await Promise.allSettled(phones);
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
