/**
 * A real Kamailio (Debian's `kamailio`) as an edge proxy in front of a test server: one config from
 * test/fixtures/kamailio/ with its placeholders filled in, run in the foreground on a free loopback port with small
 * memory, its run directory and pid file in a temporary directory, and stopped by its own pid (its children follow
 * it). Answers what it logged, for the tests to read the lines the config writes. It listens on 127.0.0.1 unless
 * given another loopback address: a carrier is another host than the phones, and the PBX tells them apart by
 * address.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, projectRoot } from './process.ts';
import { sipRequest, udpExchange } from './udp.ts';

export interface Kamailio {
  host: string;
  port: number;
  child: ChildProcess;
  /** Everything it wrote to stderr so far. */
  output(): string;
  stop(): Promise<void>;
}

export async function startKamailio(config: string, substitute: Record<string, string>, options: { host?: string } = {}): Promise<Kamailio> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-kamailio-'));
  const host = options.host ?? '127.0.0.1';
  const port = await freePort();
  let text = fs.readFileSync(path.join(projectRoot, 'test/fixtures/kamailio', config), 'utf8');
  for (const [name, value] of Object.entries({ LISTEN: `${host}:${port}`, ...substitute })) text = text.replaceAll(`@${name}@`, value);
  const file = path.join(dir, config);
  fs.writeFileSync(file, text);
  const child = spawn('kamailio', ['-DD', '-E', '-f', file, '-m', '16', '-M', '4', '-Y', dir, '-P', path.join(dir, 'kamailio.pid')], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const kamailio: Kamailio = {
    host,
    port,
    child,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  // Ready once an OPTIONS sent to it comes back answered (by whatever it forwards to).
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) {
      await kamailio.stop();
      throw new Error(`kamailio exited (${child.exitCode}):\n${out}`);
    }
    const probe = sipRequest('OPTIONS', 'sip:probe@127.0.0.1', {
      From: '<sip:probe@127.0.0.1>;tag=probe',
      To: '<sip:probe@127.0.0.1>',
      'Call-ID': `probe-${attempt}@test`,
      CSeq: '1 OPTIONS',
    });
    const replies = await udpExchange(port, probe, 300, host);
    if (replies.some((r) => r.startsWith('SIP/2.0 '))) return kamailio;
    if (attempt >= 60) {
      await kamailio.stop();
      throw new Error(`kamailio did not answer on ${host}:${port}:\n${out}`);
    }
  }
}
