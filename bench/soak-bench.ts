/**
 * A soak: calls at a steady rate into a queue for ten minutes, every call's media through the relay, with the two
 * failures a contact center must live through in the middle of it:
 *
 *   - at a third of the run, PostgreSQL is stopped for BENCH_SOAK_OUTAGE seconds (30 by default) and started again;
 *   - at two thirds, the server's rtpengine is killed (SIGKILL), and the server's supervisor starts a new one.
 *
 * Then it counts what a contact center would: calls offered and completed (sipp), call sessions written (in
 * PostgreSQL, once `/health/ready` says nothing waits), sessions left open, agents left BUSY or RINGING, and the
 * server's resident memory at the start and the end. Nothing lost means one session per call offered; nothing
 * stuck means no open session and no busy agent.
 *
 *   npx tsx bench/soak-bench.ts                                     # 10 minutes at 10 calls/s
 *   BENCH_SOAK_SECONDS=120 BENCH_SOAK_RATE=5 npx tsx bench/soak-bench.ts
 *   BENCH_SOAK_OUTAGE=0 BENCH_SOAK_KILL_RELAY=0 npx tsx bench/soak-bench.ts  # the same load with neither failure
 *
 * Needs sipp (sip-tester), rtpengine (rtpengine-daemon) and PostgreSQL's server binaries (postgresql). Everything
 * runs on loopback; every process it starts is stopped by its own pid.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startPostgres } from '../scripts/postgres-cluster.mjs';
import { freePort, runPbx, waitForOutput } from '../test/support/process.ts';
import { api, benchServerEnv, csv, here, loggedErrors, rssMiB, sipp, sippAgents, stopEverything } from './support.ts';

const SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? 600);
const RATE = Number(process.env.BENCH_SOAK_RATE ?? 10);
const OUTAGE = Number(process.env.BENCH_SOAK_OUTAGE ?? 30);
const KILL_RELAY = process.env.BENCH_SOAK_KILL_RELAY !== '0';
const TALK_MS = Number(process.env.BENCH_TALK_MS ?? 3000);
const AGENTS = Number(process.env.BENCH_AGENTS ?? 60);
const QUEUE_NUMBER = '2001';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const stamp = () => new Date().toISOString().slice(11, 19);

/** The pids of `pid`'s descendants, by /proc's children lists. */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const walk = (p: number) => {
    let children: number[] = [];
    try {
      children = fs
        .readFileSync(`/proc/${p}/task/${p}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number);
    } catch {
      // gone
    }
    for (const c of children) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

function commandOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

async function main(): Promise<void> {
  const cluster = await startPostgres();
  const [httpPort, sipPort, uasPort] = [await freePort(), await freePort(), await freePort()];
  const base = `http://127.0.0.1:${httpPort}`;
  const server = runPbx(['start'], { ...benchServerEnv(httpPort, sipPort), DATABASE_URL: cluster.url, PBX_RTPENGINE: 'auto' });
  const stopAll: Array<() => unknown> = [() => cluster.stop(), () => server.stop()];
  const db = new pg.Pool({ connectionString: cluster.url, max: 2 });
  db.on('error', () => {});
  stopAll.push(() => db.end());
  try {
    await waitForOutput(server, 'listening on');
    const pid = server.child.pid as number;
    const token = (await api(base, undefined, 'POST', '/api/auth/login', { email: 'bench@example.com', password: 'bench-admin-password' })).accessToken as string;
    console.log(`# ${stamp()} creating ${AGENTS} agents and a caller`);
    const { agents, caller } = await sippAgents(base, token, sipPort, uasPort, { count: AGENTS, name: 'Soak', seconds: SECONDS + 300, stopAll });
    await api(base, token, 'POST', '/api/pbx/queues', { name: 'Soak', number: QUEUE_NUMBER, strategy: 'leastrecent', wrapUpTime: 0, retryDelay: 0, members: agents.map((a) => ({ extensionId: a.id })) });
    const rssStart = rssMiB(pid);
    const sessionsBefore = Number((await db.query<{ n: string }>('select count(*) as n from call_sessions')).rows[0]!.n);

    const total = SECONDS * RATE;
    const rows = csv('calls.csv', [[String(caller.number), `[authentication username=${caller.number} password=${caller.secret}]`, QUEUE_NUMBER]]);
    console.log(`# ${stamp()} ${total} calls at ${RATE}/s for ${SECONDS} s, ${TALK_MS} ms each, through the relay; RSS ${rssStart} MiB`);
    const load = sipp(
      [`127.0.0.1:${sipPort}`, '-sf', path.join(here, 'sipp/call-uac.xml'), '-inf', rows, '-set', 'domain', 'pbx.bench', '-set', 'hold', String(TALK_MS), '-i', '127.0.0.1', '-p', String(await freePort()), '-m', String(total), '-r', String(RATE), '-l', String(RATE * 30)],
      SECONDS + 240,
    );
    stopAll.push(() => load.stop());
    const events: string[] = [];
    const outage = (async () => {
      await sleep((SECONDS / 3) * 1000);
      if (OUTAGE <= 0) {
        await sleep((SECONDS / 3) * 1000);
      } else {
        cluster.pause();
        events.push(`${stamp()} PostgreSQL stopped`);
        console.log(`# ${events.at(-1)}`);
        await sleep(OUTAGE * 1000);
        const ready = await fetch(`${base}/health/ready`)
          .then((r) => r.json() as Promise<{ checks: unknown }>)
          .catch((err: unknown) => ({ checks: `no answer (${String(err)}); the server's last words:\n${server.output().slice(-3000)}` }));
        events.push(`${stamp()} readiness during the outage: ${JSON.stringify(ready.checks)}`);
        cluster.resume();
        events.push(`${stamp()} PostgreSQL started again`);
        console.log(`# ${events.at(-2)}\n# ${events.at(-1)}`);
        await sleep((SECONDS / 3 - OUTAGE) * 1000);
      }
      if (!KILL_RELAY) return;
      const relay = descendants(pid).find((p) => commandOf(p) === 'rtpengine');
      if (relay) {
        process.kill(relay, 'SIGKILL');
        events.push(`${stamp()} rtpengine (pid ${relay}) killed`);
      } else {
        events.push(`${stamp()} no rtpengine found under the server`);
      }
      console.log(`# ${events.at(-1)}`);
    })();
    const result = await load;
    await outage;
    console.log(`# ${stamp()} load done: ${result.successful} completed, ${result.failed} failed`);
    // Every change written: readiness says nothing waits.
    const deadline = Date.now() + 120_000;
    let ready: { status: string; checks: { pendingWrites: number; deadLetters: number } } | undefined;
    while (Date.now() < deadline) {
      ready = (await fetch(`${base}/health/ready`).then((r) => r.json())) as typeof ready;
      if (ready?.status === 'ready') break;
      await sleep(1000);
    }
    await sleep(3000);
    const rssEnd = rssMiB(pid);
    const q = async (sql: string) => (await db.query<{ k: string; n: string }>(sql)).rows;
    const written = Number((await q('select count(*) as n from call_sessions'))[0]!.n) - sessionsBefore;
    const open = Number((await q('select count(*) as n from call_sessions where ended_at is null'))[0]!.n);
    const byStatus = (await q('select status as k, count(*) as n from call_sessions group by status order by status')).map((r) => `${r.k} ${r.n}`).join(', ');
    const causes = (await q(`select coalesce(end_cause, '-') as k, count(*) as n from call_sessions group by end_cause order by count(*) desc`)).map((r) => `${r.k} ${r.n}`).join(', ');
    const agentStates = (await api(base, token, 'GET', '/api/pbx/manager/agents')).agents as Array<{ status: string }>;
    const stuck = agentStates.filter((a) => a.status === 'BUSY' || a.status === 'RINGING').length;
    if (process.env.BENCH_SOAK_DEBUG) {
      console.log(JSON.stringify((await db.query(`select status, count(*) n, round(avg(extract(epoch from queued_at - created_at))::numeric, 3) as to_queue, round(avg(extract(epoch from offered_at - queued_at))::numeric, 3) as to_offer, round(avg(extract(epoch from answered_at - offered_at))::numeric, 3) as to_answer, round(avg(extract(epoch from ended_at - created_at))::numeric, 3) as total from call_sessions group by status`)).rows));
      for (const a of agentStates.filter((x) => x.status === 'BUSY' || x.status === 'RINGING') as Array<{ status: string; extension: string }>) {
        const log = (await db.query(`select l.from_status, l.to_status, l.call_id, l.created_at from agent_activity_log l join extensions e on e.id = l.extension_id where e.number = $1 order by l.created_at desc limit 4`, [a.extension])).rows;
        console.log(a.extension, a.status, JSON.stringify(log));
        const callId = log[0]?.call_id as string | undefined;
        if (callId) console.log(JSON.stringify((await db.query(`select status, end_cause, extension_id, queued_at, offered_at, answered_at, ended_at from call_sessions where call_id = $1`, [callId])).rows));
      }
    }
    const offered = result.successful + result.failed;

    console.log('');
    console.log(`Soak: ${SECONDS} s at ${RATE} calls/s into a queue of ${AGENTS} sipp agents, ${TALK_MS} ms calls through rtpengine, PostgreSQL; ${os.cpus().length} cores`);
    for (const e of events) console.log(`- ${e}`);
    console.log('');
    console.log('| measure | figure |');
    console.log('| --- | --- |');
    console.log(`| calls offered (sipp) | ${offered} |`);
    console.log(`| calls completed / failed (sipp) | ${result.successful} / ${result.failed} |`);
    console.log(`| call sessions written | ${written} (lost: ${Math.max(0, offered - written)}) |`);
    console.log(`| sessions by status | ${byStatus} |`);
    console.log(`| sessions by end cause | ${causes} |`);
    console.log(`| sessions left open | ${open} |`);
    console.log(`| agents left BUSY or RINGING | ${stuck} of ${AGENTS} |`);
    console.log(`| readiness at the end | ${ready?.status} (pending ${ready?.checks.pendingWrites}, dead letters ${ready?.checks.deadLetters}) |`);
    console.log(`| RSS start / end | ${rssStart} / ${rssEnd} MiB |`);
    const errors = loggedErrors(server.output());
    if (errors.length > 0) console.log(`\nThe server logged errors:\n${errors.slice(0, 12).join('\n')}`);
  } catch (err) {
    console.error(`The server's last words:\n${server.output().slice(-4000)}`);
    throw err;
  } finally {
    await stopEverything(stopAll);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
