// Queues with real calls (seed 000's queues, app_queue's strategies): sipp callers dial a queue's number and sipp
// agents registered as extensions answer. The order in which agents are offered calls follows each strategy; an
// offer nobody answers goes to the next choice (and can pause the agent); wrap-up holds an agent back for its time;
// a caller who hangs up while waiting is abandoned; too long a wait takes the fallback. Queue events and call
// sessions record it all.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DomainEvents } from '../../src/events/index.ts';
import { agent, answered, CALLER_CANCELS, CALLER_HANGS_UP, callee, caller, callerRefused, type Ext, registerAt, WAIT_FOR_BYE } from '../support/calls.ts';
import { freePort } from '../support/process.ts';
import { useTestServer } from '../support/server.ts';
import type { SippRun } from '../support/sipp.ts';
import { until } from '../support/wait.ts';

describe('queues with sipp callers and sipp agents (app_queue strategies)', () => {
  const ctx = useTestServer('pglite');
  const stop = new AbortController();
  const phones: Array<Promise<SippRun>> = [];
  const agents: Record<string, Ext> = {};
  let customer: Ext;
  const queueEvents: Array<DomainEvents['queue.event']> = [];
  const states: Array<DomainEvents['agent.status.changed']> = [];
  const name = (extensionId: string | null) => Object.entries(agents).find(([, e]) => e.id === extensionId)?.[0] ?? '?';

  before(async () => {
    ctx.t.server.bus.on('queue.event', (e) => void queueEvents.push(e));
    ctx.t.server.bus.on('agent.status.changed', (e) => void states.push(e));
    customer = await agent(ctx.t, ctx.token, 'Customer');
    for (const [key, scenario] of [['a', 'uas-answer.xml'], ['b', 'uas-answer.xml'], ['c', 'uas-answer.xml'], ['d', 'uas-ring-until-cancel.xml']] as const) {
      agents[key] = await agent(ctx.t, ctx.token, `Agent ${key}`);
      const port = await freePort();
      phones.push(callee(scenario, port, { RING: '100', HANGUP_STEPS: WAIT_FOR_BYE }, { calls: 100, timeoutSeconds: 170, signal: stop.signal }));
      await registerAt(ctx.t, agents[key], port);
    }
  });

  after(async () => {
    stop.abort();
    await Promise.all(phones);
  });

  const api = async (method: string, url: string, body?: unknown) => {
    const res = await ctx.t.request(method, url, { token: ctx.token, body });
    assert.ok(res.statusCode < 300, `${method} ${url}: ${res.statusCode} ${res.body}`);
    return res.json();
  };
  const status = (key: string) => ctx.t.server.contactCenter.agents.find(agents[key]!.id)!.status;
  const available = async (...keys: string[]) => {
    for (const key of keys) {
      if (status(key) !== 'AVAILABLE') await api('PUT', `/api/pbx/agent-extensions/${agents[key]!.id}/status`, { status: 'AVAILABLE' });
    }
  };
  const idle = (keys: string[]) => until('agents idle', () => keys.map(status), (s) => s.every((x) => x === 'AVAILABLE'));
  /** Places `n` calls one after the other and answers who took each. */
  const callsTakenBy = async (queueNumber: number, n: number, keys: string[]) => {
    const taken: string[] = [];
    for (let i = 0; i < n; i++) {
      await idle(keys);
      const seen = queueEvents.length;
      const run = await caller(ctx.t, customer, queueNumber, answered(CALLER_HANGS_UP), 200);
      assert.equal(run.code, 0, run.errors || run.output);
      const connect = await until('CONNECT', () => queueEvents.slice(seen).find((e) => e.event === 'CONNECT'), (e) => e !== undefined);
      taken.push(name(connect!.extensionId));
      await until('COMPLETE', () => queueEvents.slice(seen).some((e) => e.event.startsWith('COMPLETE')), (x) => x);
    }
    return taken;
  };

  let queueId: string;

  it('an agent with no registered device cannot be made AVAILABLE (409 PBX_ERR_AGENT_NOT_REGISTERED)', async () => {
    const lonely = await agent(ctx.t, ctx.token, 'No Phone');
    const res = await ctx.t.request('PUT', `/api/pbx/agent-extensions/${lonely.id}/status`, { token: ctx.token, body: { status: 'AVAILABLE' } });
    assert.equal(res.statusCode, 409);
    assert.equal(res.json().error.code, 'PBX_ERR_AGENT_NOT_REGISTERED');
  });

  it('rrmemory offers calls round robin, starting after the agent offered last', async () => {
    await available('a', 'b', 'c');
    const q = await api('POST', '/api/pbx/queues', {
      name: 'Sales',
      number: '2001',
      strategy: 'rrmemory',
      wrapUpTime: 0,
      retryDelay: 0,
      members: ['a', 'b', 'c'].map((k) => ({ extensionId: agents[k]!.id })),
    });
    queueId = q.id;
    assert.equal(q.number, '2001');
    assert.deepEqual(q.members.map((m: { extension: string }) => m.extension), ['a', 'b', 'c'].map((k) => String(agents[k]!.number)));
    assert.deepEqual(await callsTakenBy(2001, 4, ['a', 'b', 'c']), ['a', 'b', 'c', 'a']);
  });

  it('linear always offers the first member first', async () => {
    await api('PUT', `/api/pbx/queues/${queueId}`, { strategy: 'linear' });
    assert.deepEqual(await callsTakenBy(2001, 3, ['a', 'b', 'c']), ['a', 'a', 'a']);
  });

  it('leastrecent offers the agent whose last call of the queue ended longest ago; fewestcalls the one with fewest', async () => {
    // So far b ended its call first, then c; a took the last ones.
    await api('PUT', `/api/pbx/queues/${queueId}`, { strategy: 'leastrecent' });
    assert.deepEqual(await callsTakenBy(2001, 3, ['a', 'b', 'c']), ['b', 'c', 'a']);
    // Calls taken: a 6, b 2, c 2.
    await api('PUT', `/api/pbx/queues/${queueId}`, { strategy: 'fewestcalls' });
    assert.deepEqual(await callsTakenBy(2001, 3, ['a', 'b', 'c']), ['b', 'c', 'b']);
  });

  it('ringall rings every available member at once; the first to answer takes the call', async () => {
    await api('PUT', `/api/pbx/queues/${queueId}`, { strategy: 'ringall' });
    const offers: Array<DomainEvents['queue.offered']> = [];
    const off = ctx.t.server.bus.on('queue.offered', (e) => void offers.push(e));
    const [taker] = await callsTakenBy(2001, 1, ['a', 'b', 'c']);
    off();
    assert.ok(['a', 'b', 'c'].includes(taker!));
    assert.equal(offers[0]?.extensionIds.length, 3);
    await idle(['a', 'b', 'c']);
  });

  it('random and wrandom offer calls to members only', async () => {
    for (const strategy of ['random', 'wrandom']) {
      await api('PUT', `/api/pbx/queues/${queueId}`, { strategy });
      for (const taker of await callsTakenBy(2001, 2, ['a', 'b', 'c'])) assert.ok(['a', 'b', 'c'].includes(taker), strategy);
    }
  });

  it('an offer not answered in time goes to the next choice (RINGNOANSWER), and auto-pause pauses the agent who let it ring', async () => {
    await available('d');
    await api('POST', '/api/pbx/queues', {
      name: 'Support',
      number: '2002',
      strategy: 'linear',
      ringTimeout: 2,
      retryDelay: 0,
      wrapUpTime: 0,
      autoPauseAfter: 1,
      members: [{ extensionId: agents.d!.id }, { extensionId: agents.a!.id }],
    });
    const seen = queueEvents.length;
    const sessionStates: string[] = [];
    const off = ctx.t.server.bus.on('session.updated', (e) => void sessionStates.push(e.status));
    assert.deepEqual(await callsTakenBy(2002, 1, ['a']), ['a']);
    off();
    const mine = queueEvents.slice(seen).map((e) => `${e.event} ${name(e.extensionId)}`);
    assert.deepEqual(mine.filter((e) => !e.startsWith('ENTERQUEUE')).slice(0, 3), ['RINGNOANSWER d', 'PAUSE d', 'CONNECT a']);
    // The session rings d, waits in the queue again, rings a, and is answered.
    assert.deepEqual(sessionStates.slice(0, 5), ['QUEUED', 'RINGING', 'QUEUED', 'RINGING', 'CONNECTED']);
    assert.equal(status('d'), 'AWAY');
    assert.equal(ctx.t.server.contactCenter.agents.find(agents.d!.id)!.reason, 'Auto-pause');
  });

  it('wrap-up holds the agent back for the queue wrap-up time, then it is AVAILABLE again', async () => {
    await api('PUT', `/api/pbx/queues/${queueId}`, { strategy: 'linear', wrapUpTime: 2 });
    const seen = states.length;
    assert.deepEqual(await callsTakenBy(2001, 1, ['a', 'b', 'c']), ['a']);
    await until('wrap-up over', () => status('a'), (s) => s === 'AVAILABLE', 10_000);
    const path = states.slice(seen).filter((s) => s.extensionId === agents.a!.id).map((s) => s.to);
    assert.deepEqual(path, ['RINGING', 'BUSY', 'WRAP_UP', 'AVAILABLE']);
    const wrap = states.slice(seen).filter((s) => s.extensionId === agents.a!.id);
    const inWrapUp = wrap[3]!.at.getTime() - wrap[2]!.at.getTime();
    assert.ok(inWrapUp >= 1900, `in wrap-up for ${inWrapUp} ms`);
    await api('PUT', `/api/pbx/queues/${queueId}`, { wrapUpTime: 0 });
  });

  it('a caller who hangs up while waiting is ABANDON in the queue log and ABANDONED in its session', async () => {
    const q = await api('POST', '/api/pbx/queues', { name: 'Empty', number: '2003', members: [] });
    const seen = queueEvents.length;
    const run = await caller(ctx.t, customer, 2003, CALLER_CANCELS);
    assert.equal(run.code, 0, run.errors || run.output);
    const abandon = await until('ABANDON', () => queueEvents.slice(seen).find((e) => e.event === 'ABANDON'), (e) => e !== undefined);
    assert.equal(abandon!.queueId, q.id);
    await until('session written', async () => (await api('GET', `/api/pbx/calls/sessions/${abandon!.callId}`)).status, (s) => s === 'ABANDONED');
  });

  it('too long a wait takes the fallback: here another queue, where an agent answers', async () => {
    await api('POST', '/api/pbx/queues', { name: 'Overflow', number: '2004', maxWait: 1, fallback: { type: 'queue', target: '2001' }, members: [] });
    const seen = queueEvents.length;
    const run = await caller(ctx.t, customer, 2004, answered(CALLER_HANGS_UP), 200);
    assert.equal(run.code, 0, run.errors || run.output);
    const events = queueEvents.slice(seen).map((e) => e.event);
    assert.deepEqual(events.slice(0, 4), ['ENTERQUEUE', 'EXITWITHTIMEOUT', 'ENTERQUEUE', 'CONNECT']);
  });

  it('too long a wait with a hang-up fallback gives the caller 480, and the session is MISSED', async () => {
    await api('POST', '/api/pbx/queues', { name: 'Closed', number: '2005', maxWait: 1, members: [] });
    const seen = queueEvents.length;
    const run = await caller(ctx.t, customer, 2005, callerRefused(480));
    assert.equal(run.code, 0, run.errors || run.output);
    const exit = queueEvents.slice(seen).find((e) => e.event === 'EXITWITHTIMEOUT');
    assert.ok(exit);
    await until('session written', async () => (await api('GET', `/api/pbx/calls/sessions/${exit.callId}`)).status, (s) => s === 'MISSED');
  });

  it('call sessions list the queue calls with their agent, wait and talk time; the live status shows the members', async () => {
    const list = await api('GET', `/api/pbx/calls/sessions?queueId=${queueId}&status=COMPLETED&limit=100`);
    assert.ok(list.total >= 15, `total ${list.total}`);
    for (const s of list.sessions) {
      assert.equal(s.direction, 'inbound');
      assert.ok(s.agentId);
      assert.ok(s.talkTime > 0 && s.waitTime >= 0);
      assert.ok(s.answeredAt && s.endedAt);
    }
    const live = await api('GET', `/api/pbx/queues/${queueId}/status`);
    assert.equal(live.waiting, 0);
    assert.equal(live.members.length, 3);
    const managerQueues = await api('GET', '/api/pbx/manager/queues');
    assert.ok(managerQueues.queues.some((q: { id: string; agents: number }) => q.id === queueId && q.agents === 3));
    const managerAgents = await api('GET', '/api/pbx/manager/agents');
    assert.ok(managerAgents.agents.find((a: { id: string }) => a.id === agents.d!.id).statusReason === 'Auto-pause');
  });
  it('a scripted hour of real calls: the metrics match the values computed by hand (service level, abandon rate, ASA)', async () => {
    // One agent, a 2 s service-level threshold. Call 1 is answered at once and talks 3 s; call 2 comes meanwhile
    // and waits about 3 s (over the threshold); call 3 comes meanwhile too and hangs up while waiting.
    // By hand: 3 calls, 2 answered, 1 abandoned; SL = 1/2 = 50 %; with abandoned 1/3 = 33.33 %; abandon rate 33.33 %.
    await available('a');
    const q = await api('POST', '/api/pbx/queues', { name: 'Scripted', number: '2010', strategy: 'linear', serviceLevel: 2, wrapUpTime: 0, retryDelay: 0, members: [{ extensionId: agents.a!.id }] });
    await idle(['a']);
    const seen = queueEvents.length;
    const first = caller(ctx.t, customer, 2010, answered(CALLER_HANGS_UP), 3000);
    await until('call 1 connected', () => queueEvents.slice(seen).some((e) => e.event === 'CONNECT'), (x) => x);
    const second = caller(ctx.t, customer, 2010, answered(CALLER_HANGS_UP), 300);
    const third = caller(ctx.t, customer, 2010, CALLER_CANCELS);
    for (const run of await Promise.all([first, second, third])) assert.equal(run.code, 0, run.errors || run.output);
    const ended = () => api('GET', `/api/pbx/calls/sessions?queueId=${q.id}`);
    const { sessions } = await until('sessions closed', ended, (l) => l.total === 3 && l.sessions.every((s: { endedAt: string | null }) => s.endedAt));
    const answeredWaits = sessions.filter((s: { answeredAt: string | null }) => s.answeredAt).map((s: { waitTime: number }) => s.waitTime).sort((x: number, y: number) => x - y);
    assert.ok(answeredWaits[0] < 2 && answeredWaits[1] > 2, `waits ${answeredWaits.join(', ')}: one within the threshold, one over`);

    const m = await api('GET', `/api/pbx/manager/metrics?queueId=${q.id}`);
    assert.deepEqual(
      [m.totalCalls, m.answeredCalls, m.abandonedCalls, m.answeredWithinThreshold, m.serviceLevel, m.serviceLevelWithAbandoned, m.abandonRate],
      [3, 2, 1, 1, 50, 33.33, 33.33],
    );
    const asa = Math.round(((answeredWaits[0] + answeredWaits[1]) / 2) * 100) / 100;
    assert.ok(Math.abs(m.avgWaitTime - asa) <= 0.01, `ASA ${m.avgWaitTime}, by hand ${asa}`);
    const byQueue = await api('GET', `/api/pbx/reporting/queue/${q.id}/metrics`);
    assert.equal(byQueue.serviceLevel, 50);
    assert.equal(byQueue.queue.serviceLevelThreshold, 2);
    const realtime = await api('GET', '/api/pbx/reporting/realtime');
    assert.equal(realtime.queues.find((x: { id: string }) => x.id === q.id).serviceLevel, 50);
    const perf = await api('GET', `/api/pbx/manager/reports/agent-performance?agentId=${agents.a!.id}`);
    assert.equal(perf.agent.id, agents.a!.id);
    assert.ok(perf.callsHandled >= 2 && perf.availability > 0, JSON.stringify(perf));
    // A period that starts after the agent's last change: its state then comes from the change before the period.
    await idle(['a']);
    const since = new Date(Date.now() - 1000).toISOString();
    const recent = await api('GET', `/api/pbx/reporting/agent/${agents.a!.id}/metrics?startDate=${encodeURIComponent(since)}`);
    assert.equal(recent.timeInStatus.OFFLINE, 0, JSON.stringify(recent.timeInStatus));
    const loggedIn = ['AVAILABLE', 'RINGING', 'BUSY', 'WRAP_UP'].reduce((sum, k) => sum + recent.timeInStatus[k], 0);
    assert.ok(loggedIn >= 0.9, `the whole window is spent logged in: ${JSON.stringify(recent.timeInStatus)}`);
    const team = await api('GET', '/api/pbx/reporting/team/metrics');
    assert.ok(team.agents.some((x: { agent: { id: string }; callsHandled: number }) => x.agent.id === agents.a!.id && x.callsHandled === perf.callsHandled));
  });
});
