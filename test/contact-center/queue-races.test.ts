// A caller who hangs up just as an agent answers (issue: "nothing stuck"): the ring's answer reaches the queue a
// turn after the call has ended, and an agent put on that call stayed BUSY for good, taking no more calls. Many
// short queue calls through the relay, each hung up by its caller 30 ms after the PBX answered it (about when the
// agent, who answers at once, is being bridged): when the last call has ended no agent is left BUSY or RINGING, and
// every call has its session. Without the fix an agent was left BUSY in this run.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { agent, answered, CALLER_HANGS_UP, callee, type Ext, registerAt, WAIT_FOR_BYE } from '../support/calls.ts';
import { freePort } from '../support/process.ts';
import { useTestServer } from '../support/server.ts';
import { authField, runSipp, type SippRun } from '../support/sipp.ts';
import { until } from '../support/wait.ts';

const CALLS = 60;

describe('a queue call ended by its caller as the agent answers', () => {
  // Through the relay, as a contact center runs: the PBX answers each caller at once (music) while the ACD offers it,
  // and bridging the agent takes the relay's round trips, the moment a caller's hang-up falls into.
  const ctx = useTestServer('pglite', { rtpengine: 'auto' });
  const stop = new AbortController();
  const phones: Array<Promise<SippRun>> = [];
  const agents: Ext[] = [];

  before(async () => {
    for (let i = 0; i < 3; i++) {
      const ext = await agent(ctx.t, ctx.token, `Racer ${i}`);
      const port = await freePort();
      // Far more dialogs than calls: an offer that loses its caller is let go, and a sipp that reached its count
      // would answer nothing more.
      phones.push(callee('uas-answer.xml', port, { RING: '0', HANGUP_STEPS: WAIT_FOR_BYE }, { calls: 100 * CALLS, timeoutSeconds: 170, signal: stop.signal }));
      await registerAt(ctx.t, ext, port);
      agents.push(ext);
    }
  });

  after(async () => {
    stop.abort();
    await Promise.all(phones);
  });

  it('leaves no agent BUSY or RINGING once every call has ended, and every call has its session', async () => {
    const api = async (method: string, url: string, body?: unknown) => {
      const res = await ctx.t.request(method, url, { token: ctx.token, body });
      assert.ok(res.statusCode < 300, `${method} ${url}: ${res.statusCode} ${res.body}`);
      return res.json();
    };
    for (const a of agents) await api('PUT', `/api/pbx/agent-extensions/${a.id}/status`, { status: 'AVAILABLE' });
    await api('POST', '/api/pbx/queues', { name: 'Races', number: '2301', strategy: 'leastrecent', wrapUpTime: 0, retryDelay: 0, members: agents.map((a) => ({ extensionId: a.id })) });
    const customer = await agent(ctx.t, ctx.token, 'Hasty customer');
    let created = 0;
    ctx.t.server.bus.on('call.created', () => void created++);
    const run = await runSipp({
      scenario: 'uac-call.xml',
      target: `127.0.0.1:${ctx.t.server.sipPort}`,
      rows: [[String(customer.number), authField(String(customer.number), customer.secret), '2301']],
      vars: { domain: 'pbx.test' },
      substitute: { OUTCOME: answered(CALLER_HANGS_UP), TALK: '30' },
      calls: CALLS,
      extra: ['-r', '20', '-l', String(CALLS)],
      // A loaded machine (the suite runs two files at once) may take far longer than the 3 s the calls need.
      timeoutSeconds: 150,
    });
    const snapshot = () =>
      JSON.stringify({
        agents: agents.map((a) => ctx.t.server.contactCenter.agents.find(a.id)),
        live: ctx.t.server.contactCenter.sessions.liveSessions(ctx.t.server.systemTenant.id).map((l) => [l.status, l.endCause, l.extensionId]),
      });
    assert.equal(run.code, 0, `${run.errors || run.output.slice(-2000)}\n${snapshot()}`);
    const sessions = ctx.t.server.contactCenter.sessions;
    await until('every call has ended', () => sessions.liveSessions(ctx.t.server.systemTenant.id).length, (n) => n === 0);
    assert.equal(created, CALLS);
    const states = agents.map((a) => ctx.t.server.contactCenter.agents.find(a.id)!.status);
    assert.deepEqual(
      states.filter((s) => s === 'BUSY' || s === 'RINGING'),
      [],
      `agents after the last call: ${states.join(', ')}`,
    );
    const listed = await api('GET', '/api/pbx/calls/sessions?limit=200');
    assert.equal((listed as { sessions: unknown[] }).sessions.length, CALLS);
  });
});
