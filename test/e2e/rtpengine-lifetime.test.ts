// The rtpengine the server runs lives no longer than the server: a server killed with SIGKILL takes its rtpengine
// with it, a start stops the rtpengine an earlier run left behind (named by PBX_DATA_DIR/rtpengine.pid), and a
// pidfile whose pid now belongs to another process never gets that process signalled.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { processIdentity, type ProcessIdentity } from '../../src/media/rtpengine/pidfile.ts';
import { freePort, runPbx, waitForOutput } from '../support/process.ts';
import { claimRtpPorts } from '../support/server.ts';
import { until } from '../support/wait.ts';

const tempDirs: string[] = [];
const started: ChildProcess[] = [];
after(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

const rtpengineInstalled = fs.existsSync('/usr/bin/rtpengine') || fs.existsSync('/usr/local/bin/rtpengine');

async function serverEnv(ports: { start: number; end: number }) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-rtpengine-'));
  tempDirs.push(dataDir);
  return {
    dataDir,
    env: {
      PBX_DATA_DIR: dataDir,
      PBX_HTTP_PORT: String(await freePort()),
      PBX_HTTP_HOST: '127.0.0.1',
      PBX_SIP_HOST: '127.0.0.1',
      PBX_SIP_PORT: '0',
      PBX_LOG_LEVEL: 'warn',
      PBX_ADMIN_PASSWORD: 'first-admin-pw',
      PBX_RTPENGINE: 'auto',
      PBX_RTP_PORTS: `${ports.start}-${ports.end}`,
    },
  };
}

const pidFileOf = (dataDir: string) => path.join(dataDir, 'rtpengine.pid');

function daemonIn(dataDir: string): ProcessIdentity & { command: string } {
  return (JSON.parse(fs.readFileSync(pidFileOf(dataDir), 'utf8')) as { daemon: ProcessIdentity & { command: string } }).daemon;
}

/** Whether the very process recorded (not another that took its pid) still runs; a zombie does not. */
function running(identity: ProcessIdentity): boolean {
  const now = processIdentity(identity.pid);
  return !!now && now.startTime === identity.startTime && now.bootId === identity.bootId;
}

/** The identity of a process that existed and has ended: a server that crashed. */
async function endedProcess(): Promise<ProcessIdentity> {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  await new Promise((r) => child.once('spawn', r));
  const identity = processIdentity(child.pid as number) as ProcessIdentity;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  return identity;
}

describe('the rtpengine the server runs', { skip: !rtpengineInstalled && 'rtpengine is not installed' }, () => {
  it('dies with a server killed by SIGKILL', async () => {
    const ports = claimRtpPorts();
    try {
      const { dataDir, env } = await serverEnv(ports);
      const server = runPbx(['start'], env);
      try {
        await waitForOutput(server, 'listening on');
        const daemon = daemonIn(dataDir);
        assert.equal(daemon.command, 'rtpengine');
        assert.ok(running(daemon), 'the pidfile names the running rtpengine');
        const status = fs.readFileSync(`/proc/${daemon.pid}/status`, 'utf8');
        assert.equal(/\nPPid:\s*(\d+)/.exec(status)?.[1], String(server.child.pid), 'it is the server\'s own child');

        server.child.kill('SIGKILL');
        await server.exited;
        await until('rtpengine to end after its server', () => running(daemon), (r) => !r);
      } finally {
        await server.stop();
      }
    } finally {
      ports.release();
    }
  });

  it('a start stops the rtpengine an earlier run left behind, and a stop removes the pidfile', async () => {
    const ports = claimRtpPorts();
    try {
      const { dataDir, env } = await serverEnv(ports);
      // The orphan of a crashed run: an rtpengine on the same ports, named by a pidfile whose server is gone.
      const orphan = spawn(
        'rtpengine',
        ['--config-file=none', '--foreground', '--table=-1', '--interface=127.0.0.1', `--listen-ng=127.0.0.1:${await freePort()}`,
          `--port-min=${ports.start}`, `--port-max=${ports.end}`, '--log-stderr'],
        { stdio: 'ignore' },
      );
      started.push(orphan);
      await new Promise((r) => orphan.once('spawn', r));
      const orphanIdentity = await until('the orphan to be rtpengine', () => processIdentity(orphan.pid as number), (i) => !!i && fs.readFileSync(`/proc/${orphan.pid}/cmdline`, 'utf8').startsWith('rtpengine'));
      fs.writeFileSync(pidFileOf(dataDir), JSON.stringify({ daemon: { ...orphanIdentity, command: 'rtpengine' }, server: await endedProcess() }));

      const server = runPbx(['start'], env);
      try {
        const out = await waitForOutput(server, 'listening on');
        assert.match(out, new RegExp(`stopped rtpengine \\(pid ${orphan.pid}\\) left running by an earlier run`));
        assert.ok(!running(orphanIdentity as ProcessIdentity), 'the leftover is gone');
        const daemon = daemonIn(dataDir);
        assert.notEqual(daemon.pid, orphan.pid);
        assert.ok(running(daemon), 'the pidfile now names the new rtpengine');
        assert.equal(await server.stop(), 0, `a clean stop exits with 0:\n${server.output()}`);
        assert.ok(!running(daemon));
        assert.ok(!fs.existsSync(pidFileOf(dataDir)), 'a clean stop removes the pidfile');
      } finally {
        await server.stop();
      }
    } finally {
      ports.release();
    }
  });

  it('a pidfile whose pid now belongs to another process does not get that process signalled', async () => {
    const ports = claimRtpPorts();
    const stranger = spawn('sleep', ['600'], { stdio: 'ignore' });
    started.push(stranger);
    try {
      await new Promise((r) => stranger.once('spawn', r));
      const identity = processIdentity(stranger.pid as number) as ProcessIdentity;
      const { dataDir, env } = await serverEnv(ports);
      // The rtpengine recorded there ended long ago and the kernel gave its pid to the stranger: same pid, another
      // start time. And with the stranger's own start time, its command is not rtpengine.
      const reused = { ...identity, startTime: String(Number(identity.startTime) - 1), command: 'rtpengine' };
      for (const recorded of [reused, { ...identity, command: 'rtpengine' }]) {
        fs.writeFileSync(pidFileOf(dataDir), JSON.stringify({ daemon: recorded, server: await endedProcess() }));
        const server = runPbx(['start'], env);
        try {
          const out = await waitForOutput(server, 'listening on');
          assert.doesNotMatch(out, /stopped rtpengine/);
          assert.ok(running(identity), 'the stranger still runs');
          assert.notEqual(daemonIn(dataDir).pid, stranger.pid, 'the pidfile names the server\'s own rtpengine');
        } finally {
          assert.equal(await server.stop(), 0, `a clean stop exits with 0:\n${server.output()}`);
        }
      }
      assert.equal(stranger.exitCode, null);
      assert.equal(stranger.signalCode, null);
    } finally {
      stranger.kill('SIGKILL');
      ports.release();
    }
  });
});
