/**
 * The pidfile of the rtpengine the server runs (`PBX_DATA_DIR/rtpengine.pid`), so that a daemon a crashed server left
 * behind is stopped by the next start instead of holding its ports beside a new one. A pid alone is not enough: the
 * kernel gives freed pids to new processes, and stopping a stranger is far worse than leaving an orphan. So the file
 * records who the process is (the boot, its pid, its start time in clock ticks since boot, field 22 of
 * /proc/PID/stat, and the command it runs) and who ran it (the server, by the same marks); a process is stopped only
 * when all of those still match and its server is gone.
 */
import fs from 'node:fs';
import path from 'node:path';

/** What tells one process from any other that had or will have its pid. */
export interface ProcessIdentity {
  pid: number;
  bootId: string;
  /** Field 22 of /proc/PID/stat: when it started, in clock ticks since boot. */
  startTime: string;
}

interface PidFile {
  daemon: ProcessIdentity & { command: string };
  server: ProcessIdentity | undefined;
}

function bootId(): string | undefined {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The identity of a live process, or undefined when there is none by that pid (or no /proc to ask). */
export function processIdentity(pid: number): ProcessIdentity | undefined {
  const boot = bootId();
  if (!boot || !Number.isInteger(pid) || pid <= 0) return undefined;
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Field 2 is the command name in parentheses and may itself hold spaces and ')': count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (the state); a zombie has ended and holds nothing.
  const startTime = fields[19];
  if (fields[0] === 'Z' || startTime === undefined) return undefined;
  return { pid, bootId: boot, startTime };
}

function sameProcess(recorded: ProcessIdentity | undefined): boolean {
  if (!recorded) return false;
  const now = processIdentity(recorded.pid);
  return !!now && now.bootId === recorded.bootId && now.startTime === recorded.startTime;
}

/** The program a process runs, as the first word of its command line names it. */
function commandOf(pid: number): string | undefined {
  try {
    const argv0 = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
    return argv0 ? path.basename(argv0) : undefined;
  } catch {
    return undefined;
  }
}

/** Records the daemon just started (and this server as the one that runs it). */
export function writePidFile(file: string, pid: number, command: string): void {
  const daemon = processIdentity(pid);
  if (!daemon) return;
  const content: PidFile = { daemon: { ...daemon, command: path.basename(command) }, server: processIdentity(process.pid) };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(content) + '\n', { mode: 0o644 });
}

/** Removes the pidfile if it names this daemon (a later start may have written its own). */
export function removePidFile(file: string, pid: number): void {
  try {
    const content = JSON.parse(fs.readFileSync(file, 'utf8')) as PidFile;
    if (content.daemon?.pid === pid) fs.rmSync(file, { force: true });
  } catch {
    // none, or not ours to judge
  }
}

const gone = (identity: ProcessIdentity) => !sameProcess(identity);

async function waitUntilGone(identity: ProcessIdentity, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (gone(identity)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return gone(identity);
}

export type LeftoverOutcome =
  | { kind: 'none' }
  | { kind: 'stopped'; pid: number }
  | { kind: 'kept'; pid: number; reason: string };

/**
 * Stops the daemon an earlier run left behind, if the pidfile names one: SIGTERM, then SIGKILL after 3 s. Nothing is
 * signalled unless the process by that pid is the very one recorded (same boot, same start time, same command) and
 * the server that ran it is gone. The file is removed either way, unless its server is still running.
 */
export async function stopLeftover(file: string): Promise<LeftoverOutcome> {
  let content: PidFile;
  try {
    content = JSON.parse(fs.readFileSync(file, 'utf8')) as PidFile;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') fs.rmSync(file, { force: true });
    return { kind: 'none' };
  }
  const daemon = content.daemon;
  if (!daemon || typeof daemon.pid !== 'number' || !sameProcess(daemon) || commandOf(daemon.pid) !== daemon.command) {
    // Gone, or its pid now belongs to another process: nothing of ours to stop.
    fs.rmSync(file, { force: true });
    return { kind: 'none' };
  }
  if (content.server && content.server.pid !== process.pid && sameProcess(content.server)) {
    return { kind: 'kept', pid: daemon.pid, reason: `the server that runs it (pid ${content.server.pid}) is still running` };
  }
  try {
    process.kill(daemon.pid, 'SIGTERM');
    if (!(await waitUntilGone(daemon, 3000)) && sameProcess(daemon)) {
      process.kill(daemon.pid, 'SIGKILL');
      await waitUntilGone(daemon, 3000);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') {
      return { kind: 'kept', pid: daemon.pid, reason: `it could not be stopped (${(err as NodeJS.ErrnoException).code})` };
    }
  }
  fs.rmSync(file, { force: true });
  return { kind: 'stopped', pid: daemon.pid };
}
