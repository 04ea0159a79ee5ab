/**
 * Calls per second across the building's walls, with sipp as the carrier and as the agents' phones, and a real
 * Asterisk 22 doing the same work in the same run as the reference:
 *
 *   1. A carrier calls a DID: a sipp carrier at another loopback address (127.0.0.2, an IP trunk's allowed address)
 *      sends calls without credentials to one of the tenant's numbers, which leads to a queue (`leastrecent`, no
 *      wrap-up) of AGENTS sipp phones that answer at once. Each call is held BENCH_TALK_MS by the carrier and hung
 *      up. Direct media (sipp plays none), so a 200 to the carrier means an agent answered. Asterisk: the same
 *      carrier calls a PJSIP endpoint identified by the same address, whose dialplan sends the DID to Queue() with
 *      the same strategy and as many PJSIP members, each a static contact at a sipp that answers at once.
 *   2. Click-to-call out: `POST /api/pbx/calls/dial` as each agent in turn (its own token), to a number outside that
 *      an outbound route sends through the trunk to a sipp carrier that answers at once, holds BENCH_TALK_MS and
 *      hangs up. The agent's phone rings first and answers at once. Click-to-call needs the relay (the PBX is the
 *      agent's first party and plays it ringback), so this server runs rtpengine. Asterisk: AMI Originate (async)
 *      of the agent's PJSIP endpoint into a context that Dial()s the same number through the carrier endpoint.
 *
 * Each scenario runs fixed steps: BENCH_RATES calls per second (25, 50, 75, 100), each for BENCH_STEP_SECONDS (20),
 * first against Switchboard, then against Asterisk, before the next rate. A call sent is completed (answered, held
 * and hung up: sipp counts it successful), refused with a clear status (a final status other than 200 to the
 * carrier's INVITE, from sipp's error log; the API's or AMI's refusal of a click-to-call), or lost (no answer: a
 * timeout, retransmissions given up; a click-to-call that never completed at the carrier, or was cut short there).
 * The server's sessions for the step are counted too (answered, abandoned, missed; none left open, no agent left
 * busy), and Asterisk's queue counters (completed, abandoned) and channels. The sustained rate is calls completed
 * over the time from the first call offered to the last one hung up, less the talk time of that last call. The CPU
 * time each system's processes used in the step (from /proc: the server and the rtpengine it runs; Asterisk) is
 * printed per call completed: on a shared machine it moves less than the rates do.
 *
 *   npx tsx bench/carrier-bench.ts                            # 25, 50, 75, 100 calls/s for 20 s each, both scenarios
 *   BENCH_ASTERISK=DIR_OR_TARBALL npx tsx bench/carrier-bench.ts   # and Asterisk 22 as the reference in the same run
 *   BENCH_SHORT=1 npx tsx bench/carrier-bench.ts              # a check that it works: 50 calls/s for 4 s, 100 agents
 *   BENCH_SCENARIOS=did BENCH_RATES=100,150 npx tsx bench/carrier-bench.ts
 *   BENCH_DATABASE=postgres npx tsx bench/carrier-bench.ts    # Switchboard on a throwaway PostgreSQL server, not PGlite
 *   BENCH_CPU_PROFILE=DIR npx tsx bench/carrier-bench.ts      # and CPU profiles of each server (in DIR/did, DIR/dial)
 *   BENCH_NODE_ARGS="--max-semi-space-size=16" npx tsx bench/carrier-bench.ts   # node flags for the servers
 *
 * BENCH_ASTERISK is the Asterisk 22 build's tarball (it is unpacked into the scratch directory) or the folder it
 * unpacks to; without it the absolute figures are printed alone. Needs sipp (sip-tester) and rtpengine
 * (rtpengine-daemon), and for BENCH_DATABASE=postgres PostgreSQL's server binaries (postgresql). Everything runs on loopback; every process it starts is stopped by its own pid.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startPostgres } from '../scripts/postgres-cluster.mjs';
import { freePort, type PbxProcess, runPbx, waitForOutput } from '../test/support/process.ts';
import { api, benchServerEnv, csv, here, loggedErrors, SHORT, sipp, sippAgents, sippStats, stopEverything, withFixedPause, work } from './support.ts';

const RATES = (process.env.BENCH_RATES ?? (SHORT ? '50' : '25,50,75,100')).split(',').map(Number);
const STEP_SECONDS = Number(process.env.BENCH_STEP_SECONDS ?? (SHORT ? 4 : 20));
const TALK_MS = Number(process.env.BENCH_TALK_MS ?? 1000);
const AGENTS = Number(process.env.BENCH_AGENTS ?? (SHORT ? 100 : 250));
const SCENARIOS = new Set((process.env.BENCH_SCENARIOS ?? 'did,dial').split(','));
const ASTERISK = process.env.BENCH_ASTERISK;
/** `pglite` (the default install) or `postgres`: a throwaway PostgreSQL server for each Switchboard server. */
const DATABASE = process.env.BENCH_DATABASE === 'postgres' ? 'postgres' : 'pglite';
/** A folder for a V8 CPU profile of each server's whole run (open it in Chrome's DevTools). */
const PROFILE_DIR = process.env.BENCH_CPU_PROFILE;

/** The carrier's address: another loopback address than the phones', so the PBX knows it by its address alone. */
const CARRIER_IP = '127.0.0.2';
const DID = '+14155550100';
const CALLER_OUTSIDE = '+12125550199';
/** The number the agents click to call: a national number the outbound route sends to the carrier as +15551234567. */
const NUMBER_OUTSIDE = '15551234567';
const QUEUE_NUMBER = 2001;
const AGENT_PASSWORD = 'bench-agent-password-1';
/** How long a step may take to drain: every call offered is over, or nothing moved for this long. */
const DRAIN_MS = TALK_MS + 15_000;

const carrierCallerScenario = withFixedPause(path.join(here, 'sipp/carrier-uac.xml'), TALK_MS);
const carrierCalleeScenario = withFixedPause(path.join(here, 'sipp/carrier-uas.xml'), TALK_MS);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const load = () => os.loadavg()[0]?.toFixed(2) ?? '?';

/** One step of one scenario against one system. */
interface Step {
  rate: number;
  sent: number;
  answered: number;
  /** Refused with a clear status (another final status to the carrier's INVITE; the API's or AMI's refusal), by cause. */
  refused: Map<string, number>;
  /** Neither completed nor refused with a status, by cause. */
  lost: Map<string, number>;
  /** Calls completed over (first offered to last hung up, less the last call's talk), per second. */
  sustained: number;
  /** What the system itself counted: its sessions, or Asterisk's counters. */
  counted: string;
  /** CPU time the system's processes spent in the step, per call completed. */
  cpu: string;
  loadBefore: string;
  loadAfter: string;
}

/** The processes of a system whose CPU time is counted, by name: the server and the rtpengine it runs, Asterisk. */
type Processes = () => Record<string, number[]>;

/** CPU seconds (user + system) a process has used, from /proc; 0 once it is gone. */
function cpuSeconds(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime and stime, in clock ticks of 1/100 s
  } catch {
    return 0;
  }
}

/** `pid` and its descendants, by /proc's children lists (the server runs rtpengine under setpriv). */
function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      out.push(...fs.readFileSync(`/proc/${out[i]}/task/${out[i]}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
    } catch {
      // gone
    }
  }
  return out;
}

function commandOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Measures the CPU the processes use from now until `done` is called: milliseconds per call, by process name. */
function cpuMeter(processes: Processes): (calls: number) => string {
  const start = Object.fromEntries(Object.entries(processes()).map(([name, pids]) => [name, pids.reduce((a, p) => a + cpuSeconds(p), 0)]));
  return (calls) =>
    Object.entries(processes())
      .map(([name, pids]) => `${name} ${calls > 0 ? (((pids.reduce((a, p) => a + cpuSeconds(p), 0) - (start[name] ?? 0)) * 1000) / calls).toFixed(1) : '-'}`)
      .join(' + ') + ' ms';
}

const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
const add = (m: Map<string, number>, key: string, n = 1) => n > 0 && m.set(key, (m.get(key) ?? 0) + n);

/** The time (epoch ms) of each `done [timestamp]` line a scenario logged: each call's end. */
function completions(logFile: string): number[] {
  if (!fs.existsSync(logFile)) return [];
  const out: number[] = [];
  for (const m of fs.readFileSync(logFile, 'utf8').matchAll(/^done .*\s(\d+\.\d+)$/gm)) out.push(Number(m[1]) * 1000);
  return out;
}

function sustainedRate(answered: number, started: number, ends: number[]): number {
  const last = Math.max(...ends);
  if (answered === 0 || !Number.isFinite(last)) return 0;
  return answered / Math.max(0.001, (last - started - TALK_MS) / 1000);
}

/**
 * The calls sipp aborted on an unexpected message since `since` (epoch ms), from its error log (`-trace_err`), by
 * what came: `503` for a final status, else the request's method, with what the scenario expected then.
 */
function sippAborts(errorFile: string, since = 0): Map<string, number> {
  const out = new Map<string, number>();
  if (!fs.existsSync(errorFile)) return out;
  const text = fs.readFileSync(errorFile, 'utf8');
  for (const m of text.matchAll(/(\d+\.\d+): Aborting call on unexpected message[^:]*: while expecting '([^']*)'[^,]*, received '([^\r\n']*)/g)) {
    if (Number(m[1]) * 1000 < since) continue;
    const status = /^SIP\/2\.0 (\d{3})/.exec(m[3] ?? '')?.[1];
    add(out, status ?? `${(m[3] ?? '').split(' ')[0]} while expecting ${m[2]}`);
  }
  return out;
}

/**
 * A sipp run's calls: sent, completed, and the others by cause. As the caller, a final status is a refusal with a
 * clear status; anything else unexpected, a timeout or retransmissions given up, a loss. As the callee, every
 * failure is a loss (the PBX cut the call short, or never finished it).
 */
function sippOutcome(role: 'caller' | 'callee', stats: Record<string, number>, before: Record<string, number>, aborts: Map<string, number>) {
  const d = (k: string) => (stats[k] ?? 0) - (before[k] ?? 0);
  const sent = d('TotalCallCreated');
  const answered = d('SuccessfulCall');
  const failed = d('FailedCall');
  const refused = new Map<string, number>();
  const lost = new Map<string, number>();
  for (const [what, n] of aborts) {
    if (role === 'caller' && /^\d{3}$/.test(what)) add(refused, `${what} to the INVITE`, n);
    else add(lost, `${role === 'callee' ? 'cut short at the carrier: ' : ''}${/^\d{3}$/.test(what) ? `${what} while expecting another` : what}`, n);
  }
  add(lost, 'no answer (sipp timed out the call)', d('FailedTimeoutOnRecv') + d('FailedTimeoutOnSend'));
  add(lost, 'retransmissions given up', d('FailedMaxUDPRetrans'));
  add(lost, 'other failures sipp counted', failed - total(refused) - total(lost));
  if (role === 'caller') add(lost, 'still unanswered when sipp ended', sent - answered - failed);
  return { sent, answered, failed, refused, lost };
}

/** A sipp carrier at 127.0.0.2 calling the DID at `target` (host:port): `rate` calls a second for the step. */
async function carrierCalls(name: string, target: string, rate: number, processes: Processes): Promise<{ step: Omit<Step, 'counted'>; output: string }> {
  const count = Math.round(rate * STEP_SECONDS);
  const stf = path.join(work, `${name}-${rate}-stats.csv`);
  const log = path.join(work, `${name}-${rate}-calls.log`);
  const errors = path.join(work, `${name}-${rate}-errors.log`);
  const rows = csv(`${name}-${rate}.csv`, [[CALLER_OUTSIDE, DID]]);
  const loadBefore = load();
  const cpu = cpuMeter(processes);
  const started = Date.now();
  const run = await sipp(
    [target, '-sf', carrierCallerScenario, '-inf', rows, '-set', 'domain', target, '-i', CARRIER_IP, '-p', String(await freePort()), '-m', String(count), '-r', String(rate), '-l', String(rate * 30),
      '-trace_stat', '-stf', stf, '-fd', '1', '-trace_logs', '-log_file', log, '-trace_err', '-error_file', errors],
    STEP_SECONDS + 60,
  );
  const o = sippOutcome('caller', sippStats(stf), {}, sippAborts(errors));
  return {
    step: { rate, sent: o.sent, answered: o.answered, refused: o.refused, lost: o.lost, sustained: sustainedRate(o.answered, started, completions(log)), cpu: cpu(o.answered), loadBefore, loadAfter: load() },
    output: run.output,
  };
}

/** A sipp carrier at 127.0.0.2 taking calls out: answers, holds, hangs up, and logs each call's end. */
function carrierCallee(name: string, port: number, seconds: number, stopAll: Array<() => unknown>) {
  const stf = path.join(work, `${name}-carrier-stats.csv`);
  const log = path.join(work, `${name}-carrier-calls.log`);
  const errors = path.join(work, `${name}-carrier-errors.log`);
  const run = sipp(['-sf', carrierCalleeScenario, '-i', CARRIER_IP, '-p', String(port), '-trace_stat', '-stf', stf, '-fd', '1', '-trace_logs', '-log_file', log, '-trace_err', '-error_file', errors], seconds);
  stopAll.push(() => run.stop());
  return { stats: () => sippStats(stf), ends: () => completions(log), aborts: (since: number) => sippAborts(errors, since), run };
}

/** What placing a click-to-call answered: accepted (undefined), refused with a status, or no answer at all. */
type Placed = undefined | { refused: string } | { lost: string };

/**
 * Offers `rate` click-to-calls a second for the step through `place` (one agent after another), waits for them to
 * end at the carrier, and counts them: completed at the carrier, refused (by the API or AMI at once, by the carrier,
 * or later with a status: `refusedLater` counts those since the step began), lost (the API never answered, or the
 * call never completed at the carrier).
 */
async function clickToCalls(rate: number, carrier: ReturnType<typeof carrierCallee>, place: () => Promise<Placed>, refusedLater: () => Map<string, number>, processes: Processes): Promise<Omit<Step, 'counted'> & { latencies: number[] }> {
  const count = Math.round(rate * STEP_SECONDS);
  await sleep(1500); // the carrier's statistics file is written every second
  const before = carrier.stats();
  const loadBefore = load();
  const cpu = cpuMeter(processes);
  const started = Date.now();
  const refused = new Map<string, number>();
  const unanswered = new Map<string, number>();
  const latencies: number[] = [];
  const placed: Array<Promise<void>> = [];
  for (let i = 0; i < count; i++) {
    const due = started + (i * 1000) / rate;
    if (due > Date.now()) await sleep(due - Date.now());
    const sent = performance.now();
    placed.push(place().then((outcome) => {
      latencies.push(performance.now() - sent);
      if (outcome && 'refused' in outcome) add(refused, outcome.refused);
      if (outcome && 'lost' in outcome) add(unanswered, outcome.lost);
    }));
  }
  await Promise.all(placed);
  const accepted = count - total(refused) - total(unanswered);
  // Every accepted call ends at the carrier (hung up, or failed there) or before it (refusedLater), or nothing moves.
  let seen = -1;
  let still = Date.now();
  for (;;) {
    await sleep(250);
    const o = sippOutcome('callee', carrier.stats(), before, new Map());
    const done = o.answered + o.failed + total(refusedLater());
    if (done >= accepted) break;
    if (done !== seen) [seen, still] = [done, Date.now()];
    else if (Date.now() - still > DRAIN_MS) break;
  }
  const cpuPerCall = cpu(sippOutcome('callee', carrier.stats(), before, new Map()).answered);
  await sleep(1500);
  const o = sippOutcome('callee', carrier.stats(), before, carrier.aborts(started));
  const later = refusedLater();
  for (const [cause, n] of later) add(refused, cause, n);
  const lost = o.lost;
  for (const [cause, n] of unanswered) add(lost, cause, n);
  add(lost, 'accepted, never completed at the carrier', accepted - o.answered - total(o.lost) - total(later));
  const ends = carrier.ends().filter((t) => t >= started);
  return { rate, sent: count, answered: o.answered, refused, lost, sustained: sustainedRate(o.answered, started, ends), cpu: cpuPerCall, loadBefore, loadAfter: load(), latencies };
}

// --- Switchboard ---

interface Switchboard {
  base: string;
  token: string;
  sipPort: number;
  server: PbxProcess;
  processes: Processes;
}

async function startSwitchboard(name: string, media: 'direct' | 'relay', stopAll: Array<() => unknown>): Promise<Switchboard> {
  const [httpPort, sipPort] = [await freePort(), await freePort()];
  const base = `http://127.0.0.1:${httpPort}`;
  const cluster = DATABASE === 'postgres' ? await startPostgres() : undefined;
  if (cluster) stopAll.push(() => cluster.stop());
  const server = runPbx(['start'], {
    ...(cluster ? { DATABASE_URL: cluster.url } : {}),
    ...benchServerEnv(httpPort, sipPort),
    PBX_DATA_DIR: path.join(work, `data-${name}`),
    PBX_RTPENGINE: media === 'relay' ? 'auto' : 'off',
  }, { nodeArgs: [...(PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', path.join(PROFILE_DIR, name)] : []), ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)] });
  stopAll.push(() => server.stop());
  await waitForOutput(server, 'listening on');
  const token = (await api(base, undefined, 'POST', '/api/auth/login', { email: 'bench@example.com', password: 'bench-admin-password' })).accessToken as string;
  const pid = server.child.pid as number;
  const processes = () => {
    const byName: Record<string, number[]> = { server: [pid] };
    for (const p of processTree(pid).slice(1)) if (commandOf(p) === 'rtpengine') (byName.rtpengine ??= []).push(p);
    return byName;
  };
  return { base, token, sipPort, server, processes };
}

/** An IP trunk to the sipp carrier: its calls are taken from 127.0.0.2 without digest, and calls out go to it. */
async function carrierTrunk(sb: Switchboard, carrierPort: number): Promise<string> {
  const trunk = await api(sb.base, sb.token, 'POST', '/api/pbx/trunks', { name: 'Bench Carrier', auth: 'ip', servers: [{ host: CARRIER_IP, port: carrierPort }], allowedAddresses: [CARRIER_IP], keepaliveSeconds: 0 });
  return trunk.id as string;
}

/** The sessions of a period, as the contact center counts them, and what is still up or busy at its end. */
async function sessionsOf(sb: Switchboard, from: number, queueId?: string): Promise<{ total: number; answered: number; abandoned: number; missed: number; waitMs: number; open: number; busyAgents: number }> {
  const q = `startDate=${encodeURIComponent(new Date(from).toISOString())}&endDate=${encodeURIComponent(new Date().toISOString())}${queueId ? `&queueId=${queueId}` : ''}`;
  const m = await api(sb.base, sb.token, 'GET', `/api/pbx/manager/metrics?${q}`);
  const now = await api(sb.base, sb.token, 'GET', '/api/pbx/reporting/realtime');
  const byStatus = (now.agents as { byStatus: Record<string, number> }).byStatus;
  return {
    total: m.totalCalls as number,
    answered: m.answeredCalls as number,
    abandoned: m.abandonedCalls as number,
    missed: m.missedCalls as number,
    waitMs: Math.round((m.avgWaitTime as number) * 1000),
    open: (now.calls as { active: number }).active,
    busyAgents: (byStatus.BUSY ?? 0) + (byStatus.RINGING ?? 0),
  };
}

// --- Asterisk ---

/** A minimal AMI client: one action at a time is enough here; `Output:` lines of a Command are gathered. */
class Ami {
  private buffer = '';
  private seq = 0;
  private readonly waiting = new Map<string, (message: Record<string, string>) => void>();
  readonly originated = { success: 0, failure: new Map<string, number>() };

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => this.read(d));
  }

  static async connect(port: number, username: string, secret: string): Promise<Ami> {
    for (let attempt = 0; ; attempt++) {
      try {
        const socket = await new Promise<net.Socket>((resolve, reject) => {
          const s = net.connect(port, '127.0.0.1', () => resolve(s));
          s.once('error', reject);
        });
        const ami = new Ami(socket);
        const login = await ami.send({ Action: 'Login', Username: username, Secret: secret });
        if (login.Response !== 'Success') throw new Error(`AMI login: ${JSON.stringify(login)}`);
        return ami;
      } catch (err) {
        if (attempt > 100) throw err;
        await sleep(200);
      }
    }
  }

  private read(data: string): void {
    this.buffer += data;
    for (let end = this.buffer.indexOf('\r\n\r\n'); end >= 0; end = this.buffer.indexOf('\r\n\r\n')) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 4);
      const message: Record<string, string> = {};
      for (const line of block.split('\r\n')) {
        const colon = line.indexOf(':');
        if (colon < 0) continue;
        const [key, value] = [line.slice(0, colon), line.slice(colon + 1).trim()];
        message[key] = key === 'Output' && message.Output !== undefined ? `${message.Output}\n${value}` : value;
      }
      if (message.Event === 'OriginateResponse') {
        if (message.Response === 'Success') this.originated.success++;
        else add(this.originated.failure, `OriginateResponse ${message.Response ?? '?'} (${message.Reason ?? '?'})`);
      } else if (message.ActionID && !message.Event) {
        this.waiting.get(message.ActionID)?.(message);
        this.waiting.delete(message.ActionID);
      }
    }
  }

  send(action: Record<string, string>): Promise<Record<string, string>> {
    const id = String(++this.seq);
    const text = Object.entries({ ...action, ActionID: id }).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n';
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.socket.write(text);
    });
  }

  async command(command: string): Promise<string> {
    return (await this.send({ Action: 'Command', Command: command })).Output ?? '';
  }

  close(): void {
    this.socket.destroy();
  }
}

interface Asterisk {
  sipPort: number;
  ami: Ami;
  child: ChildProcess;
  processes: Processes;
}

/** Where the build's `sbin/asterisk` is: BENCH_ASTERISK is its tarball (unpacked here) or the folder it unpacks to. */
async function asteriskPrefix(given: string): Promise<string> {
  let dir = given;
  if (/\.tar\.gz$|\.tgz$/.test(given)) {
    dir = path.join(work, 'asterisk-build');
    fs.mkdirSync(dir, { recursive: true });
    await promisify(execFile)('tar', ['-xzf', given, '-C', dir]);
  }
  for (const prefix of [dir, path.join(dir, 'asterisk')]) if (fs.existsSync(path.join(prefix, 'sbin/asterisk'))) return path.resolve(prefix);
  throw new Error(`BENCH_ASTERISK=${given}: no sbin/asterisk in it`);
}

/**
 * A real Asterisk configured for both scenarios: the carrier (endpoint `carrier`, identified by 127.0.0.2, calls
 * out to `carrierPort` there), AGENTS endpoints each with a static contact at the sipp at `agentsPort`, a queue with
 * them all, the DID into the queue and a context for AMI's click-to-call. Media anchored (direct_media=no), its
 * default; calls are refused by nothing but Asterisk's own limits.
 */
async function startAsterisk(prefix: string, agentsPort: number, carrierPort: number, stopAll: Array<() => unknown>): Promise<Asterisk> {
  const state = path.join(work, 'asterisk-state');
  const etc = path.join(state, 'etc');
  for (const d of ['etc', 'var/lib/asterisk', 'var/spool/asterisk', 'var/run/asterisk', 'var/log/asterisk']) fs.mkdirSync(path.join(state, d), { recursive: true });
  const [sipPort, amiPort] = [await freePort(), await freePort()];
  const agents = Array.from({ length: AGENTS }, (_, i) => `agent${i + 1}`);
  const files: Record<string, string> = {
    'asterisk.conf': `[directories]
astetcdir => ${etc}
astmoddir => ${prefix}/lib/asterisk/modules
astvarlibdir => ${state}/var/lib/asterisk
astdbdir => ${state}/var/lib/asterisk
astkeydir => ${state}/var/lib/asterisk
astdatadir => ${prefix}/var/lib/asterisk
astagidir => ${prefix}/var/lib/asterisk/agi-bin
astspooldir => ${state}/var/spool/asterisk
astrundir => ${state}/var/run/asterisk
astlogdir => ${state}/var/log/asterisk
astsbindir => ${prefix}/sbin

[options]
verbose = 0
debug = 0
`,
    'modules.conf': `[modules]
autoload = yes
${['res_srtp.so', 'chan_mobile.so', 'res_hep.so', 'res_hep_pjsip.so', 'res_hep_rtcp.so', 'res_config_sqlite3.so', 'cdr_sqlite3_custom.so', 'cel_sqlite3_custom.so', 'res_prometheus.so', 'res_statsd.so', 'chan_audiosocket.so', 'res_audiosocket.so', 'app_audiosocket.so'].map((m) => `noload = ${m}`).join('\n')}
`,
    'logger.conf': `[general]
[logfiles]
messages.log => error,warning
`,
    'http.conf': `[general]
enabled = no
`,
    'rtp.conf': `[general]
rtpstart = 40000
rtpend = 44999
`,
    'manager.conf': `[general]
enabled = yes
port = ${amiPort}
bindaddr = 127.0.0.1

[bench]
secret = bench-ami-secret
read = call,command,system,agent
write = call,command,originate,system
eventfilter = Event: OriginateResponse
permit = 127.0.0.1/255.255.255.255
`,
    'pjsip.conf': `[transport-udp]
type = transport
protocol = udp
bind = 127.0.0.1:${sipPort}

[carrier]
type = endpoint
context = from-carrier
disallow = all
allow = ulaw
direct_media = no
aors = carrier

[carrier]
type = aor
contact = sip:${CARRIER_IP}:${carrierPort}

[carrier]
type = identify
endpoint = carrier
match = ${CARRIER_IP}

[agent](!)
type = endpoint
context = agents
disallow = all
allow = ulaw
direct_media = no

${agents.map((a) => `[${a}](agent)\naors = ${a}\n\n[${a}]\ntype = aor\ncontact = sip:${a}@127.0.0.1:${agentsPort}\n`).join('\n')}`,
    'extensions.conf': `[general]
static = yes
writeprotect = yes

[from-carrier]
exten => ${DID},1,Queue(bench,r)
 same => n,Hangup()

[click-to-call]
exten => _1NXXXXXXXXX,1,Dial(PJSIP/+\${EXTEN}@carrier,30)
 same => n,Hangup()

[agents]
`,
    'queues.conf': `[general]
shared_lastcall = no

[bench]
strategy = leastrecent
timeout = 15
retry = 1
wrapuptime = 0
ringinuse = no
autofill = yes
announce-frequency = 0
periodic-announce-frequency = 0
${agents.map((a) => `member => PJSIP/${a}`).join('\n')}
`,
  };
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(etc, name), text);
  const child = spawn(path.join(prefix, 'sbin/asterisk'), ['-C', path.join(etc, 'asterisk.conf'), '-f', '-n'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-5000)));
  stopAll.push(async () => {
    if (child.exitCode !== null) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await new Promise((r) => child.once('exit', r));
    clearTimeout(killer);
  });
  const ami = await Ami.connect(amiPort, 'bench', 'bench-ami-secret').catch((err: unknown) => {
    throw new Error(`Asterisk did not start (${String(err)}):\n${log}`);
  });
  stopAll.push(() => ami.close());
  await ami.command('core waitfullybooted');
  return { sipPort, ami, child, processes: () => ({ asterisk: [child.pid as number] }) };
}

/** The queue's counters as Asterisk shows them: `C:` completed, `A:` abandoned. */
async function asteriskQueue(ami: Ami): Promise<{ completed: number; abandoned: number }> {
  const text = await ami.command('queue show bench');
  return { completed: Number(/C:(\d+)/.exec(text)?.[1] ?? NaN), abandoned: Number(/A:(\d+)/.exec(text)?.[1] ?? NaN) };
}

async function asteriskChannels(ami: Ami): Promise<number> {
  return Number(/(\d+) active channels?/.exec(await ami.command('core show channels count'))?.[1] ?? NaN);
}

// --- the report ---

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

function causes(m: Map<string, number>): string {
  return total(m) === 0 ? '0' : `${total(m)} (${[...m].map(([k, n]) => `${n} ${k}`).join('; ')})`;
}

function printTable(title: string, ours: Step[], theirs: Step[]): void {
  console.log('');
  console.log(title);
  const ref = theirs.length > 0;
  console.log(`| offered calls/s × ${STEP_SECONDS} s | Switchboard: sent / completed / refused with a status / lost | its own count | CPU per call completed | sustained calls/s | ${ref ? 'Asterisk: sent / completed / refused with a status / lost | its own count | CPU per call completed | sustained calls/s | ratio | ' : ''}load 1 min before → after |`);
  console.log(`| --- | --- | --- | --- | --- | ${ref ? '--- | --- | --- | --- | --- | ' : ''}--- |`);
  for (const s of ours) {
    const a = theirs.find((t) => t.rate === s.rate);
    const them = a ? `${a.sent} / ${a.answered} / ${causes(a.refused)} / ${causes(a.lost)} | ${a.counted} | ${a.cpu} | ${a.sustained.toFixed(1)} | ${(s.sustained / a.sustained).toFixed(2)} | ` : ref ? '| | | | | ' : '';
    console.log(`| ${s.rate} | ${s.sent} / ${s.answered} / ${causes(s.refused)} / ${causes(s.lost)} | ${s.counted} | ${s.cpu} | ${s.sustained.toFixed(1)} | ${them}${s.loadBefore} → ${s.loadAfter}${a ? ` (Asterisk ${a.loadBefore} → ${a.loadAfter})` : ''} |`);
  }
}

async function main(): Promise<void> {
  const stopAll: Array<() => unknown> = [];
  const didSteps: Step[] = [];
  const didAsterisk: Step[] = [];
  const dialSteps: Step[] = [];
  const dialAsterisk: Step[] = [];
  const notes: string[] = [];
  const stepsTotal = RATES.length * (STEP_SECONDS + 30) * 2 + 600;
  try {
    console.log(`# ${os.cpus().length} cores, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; Switchboard on ${DATABASE === 'postgres' ? 'PostgreSQL' : 'PGlite'}; rates ${RATES.join(', ')} calls/s for ${STEP_SECONDS} s each, calls held ${TALK_MS} ms, ${AGENTS} agents`);
    let asterisk: Asterisk | undefined;
    const astCarrierPort = await freePort();
    const astCarrier = ASTERISK && SCENARIOS.has('dial') ? carrierCallee('asterisk', astCarrierPort, stepsTotal, stopAll) : undefined;
    if (ASTERISK) {
      const astAgentsPort = await freePort();
      stopAll.push(sipp(['-sf', path.join(here, 'sipp/call-uas.xml'), '-i', '127.0.0.1', '-p', String(astAgentsPort)], stepsTotal).stop);
      console.log('# starting Asterisk');
      asterisk = await startAsterisk(await asteriskPrefix(ASTERISK), astAgentsPort, astCarrierPort, stopAll);
      console.log(`# ${(await asterisk.ami.command('core show version')).split('\n')[0]}`);
    } else {
      notes.push('No BENCH_ASTERISK: no reference in this run, absolute figures only.');
    }

    if (SCENARIOS.has('did')) {
      const sb = await startSwitchboard('did', 'direct', stopAll);
      console.log(`# DID into a queue: ${AGENTS} agents, a trunk for ${CARRIER_IP}, ${DID} to queue ${QUEUE_NUMBER}`);
      const { agents } = await sippAgents(sb.base, sb.token, sb.sipPort, await freePort(), { count: AGENTS, name: 'Did', seconds: stepsTotal, stopAll });
      await carrierTrunk(sb, await freePort());
      const queue = await api(sb.base, sb.token, 'POST', '/api/pbx/queues', { name: 'Bench', number: String(QUEUE_NUMBER), strategy: 'leastrecent', ringTimeout: 15, wrapUpTime: 0, retryDelay: 0, members: agents.map((a) => ({ extensionId: a.id })) });
      await api(sb.base, sb.token, 'POST', '/api/pbx/numbers', { number: DID, destination: { type: 'queue', number: QUEUE_NUMBER } });
      for (const rate of RATES) {
        console.log(`# DID: ${rate} calls/s for ${STEP_SECONDS} s, Switchboard (load ${load()})`);
        const from = Date.now();
        const { step, output } = await carrierCalls('did', `127.0.0.1:${sb.sipPort}`, rate, sb.processes);
        await sleep(2000); // sessions are written behind
        const s = await sessionsOf(sb, from, queue.id as string);
        didSteps.push({ ...step, counted: `${s.total} sessions: ${s.answered} answered, ${s.abandoned} abandoned, ${s.missed} missed, mean wait ${s.waitMs} ms; ${s.open} open, ${s.busyAgents} agents busy after` });
        if (total(step.lost) > 0 || step.answered !== s.answered) notes.push(`DID at ${rate}/s, Switchboard: sipp said\n${output.slice(-1500)}`);
        if (asterisk) {
          console.log(`# DID: ${rate} calls/s for ${STEP_SECONDS} s, Asterisk (load ${load()})`);
          const q0 = await asteriskQueue(asterisk.ami);
          const { step: a, output: aOut } = await carrierCalls('did-asterisk', `127.0.0.1:${asterisk.sipPort}`, rate, asterisk.processes);
          await sleep(2000);
          const q1 = await asteriskQueue(asterisk.ami);
          didAsterisk.push({ ...a, counted: `queue: ${q1.completed - q0.completed} completed, ${q1.abandoned - q0.abandoned} abandoned; ${await asteriskChannels(asterisk.ami)} channels after` });
          if (total(a.lost) > 0) notes.push(`DID at ${rate}/s, Asterisk: sipp said\n${aOut.slice(-1500)}`);
        }
      }
      const errors = loggedErrors(sb.server.output());
      if (errors.length > 0) notes.push(`The DID server logged errors:\n${errors.slice(0, 8).join('\n')}`);
      await sb.server.stop();
    }

    if (SCENARIOS.has('dial')) {
      const sb = await startSwitchboard('dial', 'relay', stopAll);
      const carrierPort = await freePort();
      const carrier = carrierCallee('switchboard', carrierPort, stepsTotal, stopAll);
      console.log(`# click-to-call out: ${AGENTS} agents logging in, a trunk to ${CARRIER_IP}:${carrierPort}, an outbound route for _1NXXXXXXXXX`);
      const { agents } = await sippAgents(sb.base, sb.token, sb.sipPort, await freePort(), { count: AGENTS, name: 'Dial', seconds: stepsTotal, stopAll, password: AGENT_PASSWORD });
      const trunk = await carrierTrunk(sb, carrierPort);
      await api(sb.base, sb.token, 'POST', '/api/pbx/outbound-routes', { name: 'Bench national', patterns: ['_1NXXXXXXXXX'], trunkIds: [trunk], callerId: DID });
      const tokens: string[] = [];
      for (let i = 0; i < agents.length; i += 10) {
        const batch = await Promise.all(agents.slice(i, i + 10).map((a) => api(sb.base, undefined, 'POST', '/api/auth/login', { email: a.email, password: AGENT_PASSWORD })));
        tokens.push(...batch.map((b) => b.accessToken as string));
      }
      let next = 0;
      const dial = async (): Promise<Placed> => {
        const token = tokens[next++ % tokens.length] as string;
        try {
          const res = await fetch(`${sb.base}/api/pbx/calls/dial`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ phoneNumber: NUMBER_OUTSIDE }) });
          const body = (await res.json()) as { error?: { code?: string } };
          return res.status === 200 ? undefined : { refused: `${res.status} ${body.error?.code ?? ''}`.trim() };
        } catch (err) {
          const cause = (err as { cause?: { code?: string; message?: string } }).cause;
          return { lost: `no answer from the API (${cause?.code ?? cause?.message ?? String(err)})` };
        }
      };
      let astNext = 0;
      const originate = async (): Promise<Placed> => {
        const a = (astNext++ % AGENTS) + 1;
        const res = await (asterisk as Asterisk).ami.send({ Action: 'Originate', Channel: `PJSIP/agent${a}`, Context: 'click-to-call', Exten: NUMBER_OUTSIDE, Priority: '1', CallerID: `"Agent ${a}" <${a}>`, Timeout: '30000', Async: 'true' });
        return res.Response === 'Success' ? undefined : { refused: `AMI ${res.Response ?? '?'} (${res.Message ?? ''})` };
      };
      for (const rate of RATES) {
        console.log(`# click-to-call: ${rate} calls/s for ${STEP_SECONDS} s, Switchboard (load ${load()})`);
        const from = Date.now();
        const step = await clickToCalls(rate, carrier, dial, () => new Map(), sb.processes);
        await sleep(1000);
        const s = await sessionsOf(sb, from);
        dialSteps.push({ ...step, counted: `${s.total} sessions: ${s.answered} answered; ${s.open} open, ${s.busyAgents} agents busy after; POST p50 / p99 ${percentile(step.latencies, 50).toFixed(0)} / ${percentile(step.latencies, 99).toFixed(0)} ms` });
        if (asterisk && astCarrier) {
          console.log(`# click-to-call: ${rate} calls/s for ${STEP_SECONDS} s, Asterisk (load ${load()})`);
          const { ami } = asterisk;
          const f0 = new Map(ami.originated.failure);
          const s0 = ami.originated.success;
          // An originate whose agent's leg failed is refused with a status (AMI's OriginateResponse), not lost.
          const failedSince = () => new Map([...ami.originated.failure].map(([k, n]) => [k, n - (f0.get(k) ?? 0)] as const).filter(([, n]) => n > 0));
          const a = await clickToCalls(rate, astCarrier, originate, failedSince, asterisk.processes);
          dialAsterisk.push({ ...a, counted: `AMI: ${ami.originated.success - s0} originated (agent answered), ${total(failedSince())} failed; ${await asteriskChannels(ami)} channels after` });
        }
      }
      const errors = loggedErrors(sb.server.output());
      if (errors.length > 0) notes.push(`The click-to-call server logged errors:\n${errors.slice(0, 8).join('\n')}`);
      await sb.server.stop();
    }

    if (didSteps.length > 0) printTable(`Carrier → DID → queue of ${AGENTS} sipp agents (Switchboard on ${DATABASE}, direct media), calls held ${TALK_MS} ms${didAsterisk.length ? '; reference: Asterisk 22, Queue() with the same members' : ''}`, didSteps, didAsterisk);
    if (dialSteps.length > 0) printTable(`Click-to-call out through the carrier (Switchboard on ${DATABASE}, through the relay), calls held ${TALK_MS} ms by the carrier${dialAsterisk.length ? '; reference: Asterisk 22, AMI Originate + Dial()' : ''}`, dialSteps, dialAsterisk);
    for (const note of notes) console.log(`\n${note}`);
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
