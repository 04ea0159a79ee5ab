/**
 * What the benchmarks share: a scratch directory, sipp runs read for their final statistics, sipp input files, the
 * server's resident memory, and the REST API.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/support/process.ts';

export const here = path.dirname(fileURLToPath(import.meta.url));
export const work = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-bench-'));

export interface SippResult {
  successful: number;
  failed: number;
  seconds: number;
  output: string;
}

/** Runs sipp to its end (or its timeout) and reads the final statistics it prints. */
export function sipp(args: string[], timeoutSeconds: number): Promise<SippResult> & { pid: number | undefined; stop(): void } {
  const started = process.hrtime.bigint();
  const child = spawn('sipp', [...args, '-nostdin', '-timeout', `${timeoutSeconds}s`], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
  child.stderr.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
  const killer = setTimeout(() => child.kill('SIGKILL'), (timeoutSeconds + 15) * 1000);
  const done = new Promise<SippResult>((resolve) =>
    child.on('exit', () => {
      clearTimeout(killer);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const last = (label: string) => {
        const lines = output.split('\n').filter((l) => l.includes(label));
        const m = /(\d+)\s*$/.exec(lines.at(-1)?.trim() ?? '');
        return m ? Number(m[1]) : 0;
      };
      resolve({ successful: last('Successful call'), failed: last('Failed call'), seconds, output });
    }),
  ) as Promise<SippResult> & { pid: number | undefined; stop(): void };
  done.pid = child.pid;
  done.stop = () => child.kill('SIGTERM');
  return done;
}

/** `BENCH_SHORT=1`: a bench's smaller defaults, for a check that it works (a variable set explicitly still wins). */
export const SHORT = process.env.BENCH_SHORT === '1';

/** The caller that holds each call after the answer for a fixed pause (sipp 3.6.1 ignored a `-set` hold). */
export const heldCaller = path.join(here, 'sipp/call-uac-held.xml');

/** The fixed pause of a scenario, in milliseconds: what each of its calls is held. */
export function fixedPauseOf(scenario: string): number {
  const pauses = [...fs.readFileSync(scenario, 'utf8').matchAll(/<pause milliseconds="(\d+)"/g)];
  if (pauses.length !== 1) throw new Error(`${scenario}: expected one fixed <pause milliseconds>, found ${pauses.length}`);
  return Number(pauses[0]?.[1]);
}

/** A copy of the held caller, in the scratch directory, whose fixed pause is `holdMs` instead. */
export function heldCallerScenario(holdMs: number): string {
  return withFixedPause(heldCaller, holdMs);
}

/** A copy of `scenario` (one fixed pause), in the scratch directory, whose pause is `holdMs` instead. */
export function withFixedPause(scenario: string, holdMs: number): string {
  const text = fs.readFileSync(scenario, 'utf8');
  const pause = `<pause milliseconds="${fixedPauseOf(scenario)}" />`;
  if (!text.includes(pause)) throw new Error(`${scenario}: no ${pause}`);
  const file = path.join(work, `${path.basename(scenario, '.xml')}-${Math.round(holdMs)}.xml`);
  fs.writeFileSync(file, text.replace(pause, `<pause milliseconds="${Math.round(holdMs)}" />`));
  return file;
}

/**
 * sipp's cumulative counters, from the last line of the statistics file it writes with `-trace_stat -stf FILE -fd 1`
 * (every second, and once more as it ends): `SuccessfulCall`, `FailedCall`, `TotalCallCreated`, `CurrentCall`, and
 * each cause of failure (`FailedUnexpectedMessage`: another final status than the scenario's; `FailedMaxUDPRetrans`,
 * `FailedTimeoutOnRecv`: no answer). Empty until sipp has written its first line.
 */
export function sippStats(file: string): Record<string, number> {
  if (!fs.existsSync(file)) return {};
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  const header = lines[0]?.split(';') ?? [];
  const last = lines.length > 1 ? (lines.at(-1)?.split(';') ?? []) : [];
  const out: Record<string, number> = {};
  header.forEach((name, i) => {
    const m = /^(\w+)(?:\(C\))?$/.exec(name);
    if (m?.[1] && !name.endsWith('(P)')) out[m[1]] = Number(last[i] ?? 0);
  });
  return out;
}

/** Calls in progress on the server now, from its sessions: all of them, and those answered (established). */
export async function liveCalls(base: string, token: string): Promise<{ active: number; connected: number }> {
  const calls = (await api(base, token, 'GET', '/api/pbx/reporting/realtime')).calls as { active: number; connected: number };
  return { active: calls.active, connected: calls.connected };
}

export function csv(name: string, rows: string[][]): string {
  const file = path.join(work, name);
  fs.writeFileSync(file, ['SEQUENTIAL', ...rows.map((r) => r.join(';'))].join('\n') + '\n');
  return file;
}

export function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

export async function api(base: string, token: string | undefined, method: string, url: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(base + url, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}


/** The errors a server logged (pino JSON lines at level 50 and above), counted by message and first reason. */
export function loggedErrors(output: string): string[] {
  const counts = new Map<string, number>();
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
      if ((entry.level ?? 0) < 50) continue;
      const key = `${entry.msg ?? '?'}: ${entry.err?.message ?? ''}`.slice(0, 200);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    } catch {
      // not a log line
    }
  }
  return [...counts].sort((a, b) => b[1] - a[1]).map(([key, n]) => `${n} × ${key}`);
}

/** Stops what a bench started, the last started first, each by its own handle, and removes the scratch directory. */
export async function stopEverything(stops: Array<() => unknown>): Promise<void> {
  for (const stop of [...stops].reverse()) {
    try {
      await stop();
    } catch {
      // already stopped
    }
  }
  fs.rmSync(work, { recursive: true, force: true });
}

/** The settings of a server a bench starts: loopback, its data in the scratch directory, an administrator to log in. */
export function benchServerEnv(httpPort: number, sipPort: number): Record<string, string> {
  return {
    PBX_DATA_DIR: path.join(work, 'data'),
    PBX_HTTP_HOST: '127.0.0.1',
    PBX_HTTP_PORT: String(httpPort),
    PBX_SIP_HOST: '127.0.0.1',
    PBX_SIP_PORT: String(sipPort),
    PBX_DOMAIN: 'pbx.bench',
    PBX_ADMIN_EMAIL: 'bench@example.com',
    PBX_ADMIN_PASSWORD: 'bench-admin-password',
    PBX_LOG_LEVEL: 'warn',
  };
}

export type BenchExt = { id: string; number: number; secret: string; email?: string };

/**
 * Agents answered by one sipp (at `uasPort`, for `seconds`), each registered with a Contact at that port and made
 * AVAILABLE, and one more extension to call from: created through the API as `name N` / `prefixN@example.com`
 * (with `password`, when given, to log in as them).
 */
export async function sippAgents(
  base: string,
  token: string,
  sipPort: number,
  uasPort: number,
  options: { count: number; name: string; seconds: number; stopAll: Array<() => unknown>; password?: string },
): Promise<{ agents: BenchExt[]; caller: BenchExt }> {
  const { count, name } = options;
  const prefix = name.toLowerCase().replace(/\W/g, '');
  const people: BenchExt[] = [];
  const password = options.password === undefined ? {} : { password: options.password };
  for (let i = 0; i <= count; i += 20) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(20, count + 1 - i) }, (_, j) => api(base, token, 'POST', '/api/users', { name: `${name} ${i + j}`, email: `${prefix}${i + j}@example.com`, role: 'AGENT', ...password })),
    );
    for (const u of batch) people.push({ ...(u.extension as BenchExt), email: u.email as string });
  }
  const caller = people.pop() as BenchExt;
  const uas = sipp(['-sf', path.join(here, 'sipp/call-uas.xml'), '-i', '127.0.0.1', '-p', String(uasPort)], options.seconds);
  options.stopAll.push(() => uas.stop());
  const contactScenario = path.join(work, 'register-contact.xml');
  fs.writeFileSync(contactScenario, fs.readFileSync(path.join(here, 'sipp/register-load.xml'), 'utf8').replaceAll('[local_ip]:[local_port]>', `127.0.0.1:${uasPort}>`));
  const rows = csv('agents.csv', people.map((a) => [String(a.number), `[authentication username=${a.number} password=${a.secret}]`]));
  const registered = await sipp([`127.0.0.1:${sipPort}`, '-sf', contactScenario, '-inf', rows, '-set', 'domain', 'pbx.bench', '-i', '127.0.0.1', '-p', String(await freePort()), '-m', String(count), '-r', '200'], 30);
  if (registered.successful !== count) throw new Error(`only ${registered.successful} agents registered:\n${registered.output.slice(-2000)}`);
  for (const a of people) await api(base, token, 'PUT', `/api/pbx/agent-extensions/${a.id}/status`, { status: 'AVAILABLE' });
  return { agents: people, caller };
}
