/**
 * Sustained calls per second into a queue, with sipp callers and 100 auto-answering sipp agents:
 *
 *   1. The reference, in the same run: the same calls straight to the agents' extensions (round robin over the 100),
 *      through the same B2BUA, with no queue. It shows what the SIP side costs alone.
 *   2. The same calls to a queue (`leastrecent`, 100 members, no wrap-up): each goes through the ACD, rings the
 *      chosen agent, and is bridged when it answers. Every call is a session and every step a queue event.
 *
 * A call is lost if sipp counts it failed, or if the contact center counts it abandoned or missed. Each call talks
 * BENCH_TALK_MS (1,000 by default), a fixed pause written into the caller's scenario (sipp 3.6.1 ignored a `-set`
 * hold), and hangs up; the mean talk time the sessions measured is printed, to show the calls lasted. Direct media
 * (the agents are sipp, which plays none), so a 200 to the caller means an agent answered.
 *
 *   npx tsx bench/queue-bench.ts                       # 3,000 calls at 50 per second, twice (about two and a half minutes)
 *   BENCH_SHORT=1 npx tsx bench/queue-bench.ts         # a check that it works: 300 calls at 50 per second, twice
 *   BENCH_CALLS=6000 BENCH_CALL_RATE=100 npx tsx bench/queue-bench.ts
 *
 * Needs sipp (Debian's sip-tester). Everything runs on loopback; every process it starts is stopped by its pid.
 */
import os from 'node:os';
import { freePort, runPbx, waitForOutput } from '../test/support/process.ts';
import { api, benchServerEnv, csv, heldCallerScenario, rssMiB, SHORT, sipp, type SippResult, sippAgents, stopEverything } from './support.ts';

const AGENTS = 100;
const CALLS = Number(process.env.BENCH_CALLS ?? (SHORT ? 300 : 3000));
const CALL_RATE = Number(process.env.BENCH_CALL_RATE ?? 50);
const TALK_MS = Number(process.env.BENCH_TALK_MS ?? 1000);
const QUEUE_NUMBER = '2001';

async function main(): Promise<void> {
  const [httpPort, sipPort, uasPort] = [await freePort(), await freePort(), await freePort()];
  const base = `http://127.0.0.1:${httpPort}`;
  const server = runPbx(['start'], {
    ...benchServerEnv(httpPort, sipPort),
    PBX_RTPENGINE: 'off',
  });
  const stopAll: Array<() => unknown> = [() => server.stop()];
  try {
    await waitForOutput(server, 'listening on');
    const pid = server.child.pid as number;
    const token = (await api(base, undefined, 'POST', '/api/auth/login', { email: 'bench@example.com', password: 'bench-admin-password' })).accessToken as string;
    console.log(`# creating ${AGENTS} agents and a caller`);
    const { agents, caller } = await sippAgents(base, token, sipPort, uasPort, { count: AGENTS, name: 'Bench', seconds: 600, stopAll });
    const queue = await api(base, token, 'POST', '/api/pbx/queues', {
      name: 'Bench',
      number: QUEUE_NUMBER,
      strategy: 'leastrecent',
      wrapUpTime: 0,
      retryDelay: 0,
      members: agents.map((a) => ({ extensionId: a.id })),
    });
    const rssBefore = rssMiB(pid);

    const auth = `[authentication username=${caller.number} password=${caller.secret}]`;
    const scenario = heldCallerScenario(TALK_MS);
    const load = async (name: string, dialed: string[]): Promise<SippResult> => {
      const rows = csv(`${name}.csv`, dialed.map((d) => [String(caller.number), auth, d]));
      console.log(`# ${CALLS} calls at ${CALL_RATE} per second, ${name}`);
      return sipp([`127.0.0.1:${sipPort}`, '-sf', scenario, '-inf', rows, '-set', 'domain', 'pbx.bench', '-i', '127.0.0.1', '-p', String(await freePort()), '-m', String(CALLS), '-r', String(CALL_RATE), '-l', '1000'], Math.ceil(CALLS / CALL_RATE) + 60);
    };
    const started = new Date().toISOString();
    const direct = await load('straight to the extensions', agents.map((a) => String(a.number)));
    const since = new Date().toISOString();
    const queued = await load(`into the queue ${QUEUE_NUMBER}`, [QUEUE_NUMBER]);
    // The last sessions are written behind: give them a moment.
    await new Promise((r) => setTimeout(r, 2000));
    const rssAfter = rssMiB(pid);
    const metrics = await api(base, token, 'GET', `/api/pbx/manager/metrics?queueId=${queue.id as string}&startDate=${encodeURIComponent(since)}`);
    const directMetrics = await api(base, token, 'GET', `/api/pbx/manager/metrics?startDate=${encodeURIComponent(started)}&endDate=${encodeURIComponent(since)}`);
    // Talk time of the answered calls, answer to hang-up, as the sessions measured it (the API gives hundredths of a second).
    const talkMs = (m: Record<string, unknown>) => Math.round((m.avgCallDuration as number) * 1000);

    const rate = (r: SippResult) => r.successful / r.seconds;
    const offered = CALLS / CALL_RATE;
    console.log('');
    console.log(`${AGENTS} agents (one sipp answering for all), calls of ${TALK_MS} ms; ${os.cpus().length} cores`);
    console.log('| measure | straight to extensions (reference) | into the queue | ratio |');
    console.log('| --- | --- | --- | --- |');
    console.log(`| calls completed of ${CALLS} offered at ${CALL_RATE}/s | ${direct.successful} (${direct.failed} failed) | ${queued.successful} (${queued.failed} failed) | |`);
    console.log(`| sustained calls/s (completed / time from first INVITE to last BYE answered, ${offered.toFixed(0)} s offered) | ${rate(direct).toFixed(1)} | ${rate(queued).toFixed(1)} | ${(rate(queued) / rate(direct)).toFixed(2)} |`);
    console.log(`| queue: answered / abandoned / missed (sessions) | | ${metrics.answeredCalls as number} / ${metrics.abandonedCalls as number} / ${metrics.missedCalls as number} | |`);
    const asa = metrics.avgWaitTime as number;
    console.log(`| queue: mean wait (ASA; the API gives hundredths of a second) | | ${asa === 0 ? 'under 10' : Math.round(asa * 1000)} ms | |`);
    console.log(`| mean talk time of the answered calls (sessions; the scenario holds ${TALK_MS} ms) | ${talkMs(directMetrics)} ms (${directMetrics.answeredCalls as number} answered) | ${talkMs(metrics)} ms | |`);
    console.log(`| RSS before / after | ${rssBefore} / ${rssAfter} MiB | | |`);
    for (const [name, m] of [['straight to the extensions', directMetrics], ['into the queue', metrics]] as const) {
      if (talkMs(m) < 0.9 * TALK_MS) console.log(`\nWARNING: the calls ${name} talked ${talkMs(m)} ms on average, not the ${TALK_MS} ms the scenario holds them: the figures are not of calls that lasted.`);
    }
  } finally {
    await stopEverything(stopAll);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
