/**
 * The real `pbx` command as a child process on free loopback ports: started, waited for, and stopped by its own
 * process id (its process group, when started through npm), so that no test leaves anything running.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const pbxBin = path.join(projectRoot, 'bin/pbx.js');

/** A loopback port free for both TCP and UDP right now (SIP peers bind both, and UDP sockets abound in tests). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = net.createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const { port: p } = srv.address() as net.AddressInfo;
        srv.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const socket = dgram.createSocket('udp4');
      socket.once('error', () => resolve(false));
      socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
    });
    if (udpFree || attempt >= 20) return port;
  }
}

/** Two consecutive loopback ports, both free for TCP and UDP (baresip listens for TLS on its SIP port + 1). */
export async function freePortPair(): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    if (port >= 65535) continue;
    const next = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port + 1, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    const nextUdp = next && (await new Promise<boolean>((resolve) => {
      const socket = dgram.createSocket('udp4');
      socket.once('error', () => resolve(false));
      socket.bind(port + 1, '127.0.0.1', () => socket.close(() => resolve(true)));
    }));
    if (nextUdp || attempt >= 20) return port;
  }
}

export interface PbxProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL if it has not ended within 10 s; answers the exit code. */
  stop(): Promise<number | null>;
}

function clean(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...env })) {
    // The test runner's own settings must not leak into the server under test.
    if (v !== undefined && !k.startsWith('NODE_TEST') && k !== 'NODE_OPTIONS') out[k] = v;
  }
  return out;
}

/** Runs `pbx <args>` (or `npm start` when `viaNpm`) with the given environment. */
export function runPbx(args: string[], env: Record<string, string | undefined>, options: { viaNpm?: boolean; nodeArgs?: string[] } = {}): PbxProcess {
  const child = options.viaNpm
    ? spawn('npm', ['start', '--silent', '--', ...args], { cwd: projectRoot, env: clean(env), detached: true })
    : spawn(process.execPath, [...(options.nodeArgs ?? []), pbxBin, ...args], { cwd: projectRoot, env: clean(env) });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code, signal) => {
      if (signal) out += `\n[test] the server ended by ${signal}\n`;
      resolve(code);
    }),
  );
  // npm does not pass SIGTERM on to the script it runs: its whole process group (npm, sh, the server) is signalled.
  const signal = (sig: NodeJS.Signals) => {
    try {
      if (options.viaNpm && child.pid) process.kill(-child.pid, sig);
      else child.kill(sig);
    } catch {
      // already gone
    }
  };
  let stopping: Promise<number | null> | undefined;
  return {
    child,
    output: () => out,
    exited,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode !== null) return child.exitCode;
        signal('SIGTERM');
        const timer = setTimeout(() => {
          out += '\n[test] the server was still running 10 s after SIGTERM: killed\n';
          signal('SIGKILL');
        }, 10_000);
        const code = await exited;
        if (options.viaNpm && child.pid) await groupGone(child.pid);
        clearTimeout(timer);
        return code;
      })();
      return stopping;
    },
  };
}

/** Resolves once no process of the group is left (the server npm started has ended too). */
async function groupGone(pgid: number): Promise<void> {
  for (;;) {
    try {
      process.kill(-pgid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until the output contains `text`, or fails with the output so far. */
export async function waitForOutput(p: PbxProcess, text: string | RegExp, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const out = p.output();
    if (typeof text === 'string' ? out.includes(text) : text.test(out)) return out;
    if (p.child.exitCode !== null) throw new Error(`process exited (${p.child.exitCode}) before printing ${text}:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${text}:\n${p.output()}`);
}

/** Runs a `pbx` command to its end and answers its exit code and output. */
export async function runPbxToEnd(args: string[], env: Record<string, string | undefined>): Promise<{ code: number | null; output: string }> {
  const p = runPbx(args, env);
  const timer = setTimeout(() => void p.stop(), 60_000);
  const code = await p.exited;
  clearTimeout(timer);
  return { code, output: p.output() };
}

// SIP on a free loopback port, so that servers of parallel tests never contend for 5060.
export const SIP = { PBX_SIP_HOST: '127.0.0.1', PBX_SIP_PORT: '0' };

/** Temporary data directories for servers a test file starts; `removeAll` (for its `after`) deletes them. */
export function tempDirs(): { tempDir(): string; removeAll(): void } {
  const dirs: string[] = [];
  return {
    tempDir() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-e2e-'));
      dirs.push(dir);
      return dir;
    },
    removeAll() {
      for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function json(url: string, init?: RequestInit): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Logs in over the server's real HTTP port and answers the access token. */
export async function loginOverHttp(base: string, email: string, password: string): Promise<string> {
  const res = await json(`${base}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.accessToken as string;
}
