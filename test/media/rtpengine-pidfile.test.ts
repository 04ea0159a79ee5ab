// The pidfile of the rtpengine the server runs, with real processes standing in for the daemon and its server: a
// leftover whose server is gone is stopped (SIGTERM, then SIGKILL when it ignores that), one whose server still runs
// is left alone, and a pid that names another program is never signalled.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { processIdentity, type ProcessIdentity, stopLeftover, writePidFile } from '../../src/media/rtpengine/pidfile.ts';
import { until } from '../support/wait.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-pidfile-'));
const started: ChildProcess[] = [];
after(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

async function run(command: string, args: string[]): Promise<{ child: ChildProcess; identity: ProcessIdentity }> {
  const child = spawn(command, args, { stdio: 'ignore' });
  started.push(child);
  await new Promise((r) => child.once('spawn', r));
  // Until the shell has become the program it execs.
  await until(`${command} to run`, () => fs.readFileSync(`/proc/${child.pid}/cmdline`, 'utf8'), (c) => c.startsWith('sleep'));
  return { child, identity: processIdentity(child.pid as number) as ProcessIdentity };
}

async function ended(): Promise<ProcessIdentity> {
  const { child, identity } = await run('sleep', ['60']);
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  return identity;
}

const exitOf = (child: ChildProcess) => new Promise<NodeJS.Signals | null>((r) => (child.exitCode !== null || child.signalCode !== null ? r(child.signalCode) : child.once('exit', (_c, s) => r(s))));

describe('rtpengine.pid', () => {
  it('records the daemon and the server that runs it, by boot, pid and start time', async () => {
    const { identity } = await run('sleep', ['600']);
    const file = path.join(dir, 'written.pid');
    writePidFile(file, identity.pid, '/usr/bin/sleep');
    const content = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.deepEqual(content.daemon, { ...identity, command: 'sleep' });
    assert.deepEqual(content.server, processIdentity(process.pid));
  });

  it('a leftover whose server is gone is stopped with SIGTERM, and the file removed', async () => {
    const { child, identity } = await run('sleep', ['600']);
    const file = path.join(dir, 'term.pid');
    fs.writeFileSync(file, JSON.stringify({ daemon: { ...identity, command: 'sleep' }, server: await ended() }));
    assert.deepEqual(await stopLeftover(file), { kind: 'stopped', pid: identity.pid });
    assert.equal(await exitOf(child), 'SIGTERM');
    assert.ok(!fs.existsSync(file));
  });

  it('a leftover that ignores SIGTERM gets SIGKILL', async () => {
    const { child, identity } = await run('sh', ['-c', 'trap "" TERM; exec sleep 600']);
    const file = path.join(dir, 'kill.pid');
    fs.writeFileSync(file, JSON.stringify({ daemon: { ...identity, command: 'sleep' }, server: await ended() }));
    assert.deepEqual(await stopLeftover(file), { kind: 'stopped', pid: identity.pid });
    assert.equal(await exitOf(child), 'SIGKILL');
  });

  it('a daemon whose server still runs is left alone, and so is its pidfile', async () => {
    const { child, identity } = await run('sleep', ['600']);
    const server = await run('sleep', ['600']);
    const file = path.join(dir, 'live.pid');
    fs.writeFileSync(file, JSON.stringify({ daemon: { ...identity, command: 'sleep' }, server: server.identity }));
    const outcome = await stopLeftover(file);
    assert.equal(outcome.kind, 'kept');
    assert.ok(fs.existsSync(file));
    assert.equal(child.exitCode, null);
    assert.equal(child.signalCode, null);
  });

  it('a pid given since to another process, or naming another program, is never signalled', async () => {
    const { child, identity } = await run('sleep', ['600']);
    for (const recorded of [
      { ...identity, startTime: String(Number(identity.startTime) + 1), command: 'sleep' },
      { ...identity, command: 'rtpengine' },
      { ...identity, bootId: '00000000-0000-0000-0000-000000000000', command: 'sleep' },
    ]) {
      const file = path.join(dir, 'stranger.pid');
      fs.writeFileSync(file, JSON.stringify({ daemon: recorded, server: await ended() }));
      assert.deepEqual(await stopLeftover(file), { kind: 'none' });
      assert.ok(!fs.existsSync(file), 'a pidfile that names nothing of ours is removed');
    }
    assert.equal(child.exitCode, null);
    assert.equal(child.signalCode, null);
  });
});
