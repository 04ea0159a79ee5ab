/**
 * Runs sipp (Debian's sip-tester) against a server: one scenario from test/sipp/, with an injection file and
 * variables, bounded in time, stopped by its own pid. Answers its exit code and what it logged.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, projectRoot } from './process.ts';

export interface SippRun {
  code: number | null;
  output: string;
  /** What the scenario's <log> actions wrote. */
  log: string;
  /** sipp's error log: unexpected messages and the like. */
  errors: string;
}

export async function runSipp(options: {
  scenario: string;
  /** host:port to send to; absent for a scenario that waits for calls. */
  target?: string;
  /** The port sipp listens and sends on; a free one by default. */
  localPort?: number;
  /** The loopback address sipp sends from (127.0.0.1 by default; 127.0.0.2 is another host to the server). */
  localIp?: string;
  transport?: 'u1' | 't1';
  rows?: string[][];
  vars?: Record<string, string>;
  /** `@NAME@` in the scenario becomes the value (sipp wants some things, such as response codes, literal). */
  substitute?: Record<string, string>;
  calls?: number;
  timeoutSeconds?: number;
  extra?: string[];
  /** Stops sipp (by its own pid) when aborted: for a callee that serves a whole suite. */
  signal?: AbortSignal;
  /**
   * Where the scenario's <log> actions write, for a test that reads them while sipp runs (sipp flushes each line);
   * a file in the run's own folder by default. The caller removes it.
   */
  logFile?: string;
}): Promise<SippRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-sipp-'));
  try {
    let scenario = fs.readFileSync(path.join(projectRoot, 'test/sipp', options.scenario), 'utf8');
    // Substitutions may hold placeholders of their own: repeat until nothing changes.
    for (let pass = 0; pass < 4; pass++) {
      const before = scenario;
      for (const [name, value] of Object.entries(options.substitute ?? {})) scenario = scenario.replaceAll(`@${name}@`, value);
      if (scenario === before) break;
    }
    fs.writeFileSync(path.join(dir, options.scenario), scenario);
    const args = [
      ...(options.target ? [options.target] : []),
      '-sf', path.join(dir, options.scenario),
      '-t', options.transport ?? 'u1',
      '-i', options.localIp ?? '127.0.0.1',
      // sipp prints [local_port] as 5060 when asked for port 0: give each run a real free port of its own.
      '-p', String(options.localPort ?? (await freePort())),
      '-m', String(options.calls ?? 1),
      '-nostdin',
      '-timeout', `${options.timeoutSeconds ?? 20}s`,
      '-timeout_error',
      '-trace_err', '-error_file', path.join(dir, 'errors.log'),
      '-trace_logs', '-log_file', options.logFile ?? path.join(dir, 'scenario.log'),
    ];
    if (options.rows) {
      const csv = path.join(dir, 'fields.csv');
      fs.writeFileSync(csv, ['SEQUENTIAL', ...options.rows.map((r) => r.join(';'))].join('\n') + '\n');
      args.push('-inf', csv);
    }
    for (const [name, value] of Object.entries(options.vars ?? {})) args.push('-set', name, value);
    args.push(...(options.extra ?? []));
    const child = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), ((options.timeoutSeconds ?? 20) + 10) * 1000);
    options.signal?.addEventListener('abort', () => child.kill('SIGTERM'), { once: true });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    clearTimeout(killer);
    const read = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '');
    return { code, output, log: read(options.logFile ?? path.join(dir, 'scenario.log')), errors: read(path.join(dir, 'errors.log')) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The sipp keyword that answers a digest challenge with these credentials, as one injection field. */
export function authField(user: string, password: string): string {
  return `[authentication username=${user} password=${password}]`;
}
