/**
 * Runs rtpengine as a child process on loopback (userspace forwarding, `--table=-1`, no kernel module), checks it
 * with ng `ping`, starts it again if it dies (with a growing pause, so a daemon that cannot start does not spin),
 * and stops it on close. Whoever owns calls hears `onRestart`: calls whose media lived in the dead daemon are gone.
 *
 * The daemon dies with the server, even a server killed with SIGKILL: Node cannot ask the kernel for a parent-death
 * signal itself, so rtpengine is started through util-linux's `setpriv --pdeathsig`, which sets it (prctl
 * PR_SET_PDEATHSIG) and then execs rtpengine in its own place: no wrapper process stays, and the pid is rtpengine's.
 * Where setpriv is missing, and for a daemon that escaped anyway, the pidfile lets the next start stop the leftover.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { freeUdpPort } from '../../net/ports.ts';
import { NgClient } from './ng-client.ts';
import { type LeftoverOutcome, removePidFile, stopLeftover, writePidFile } from './pidfile.ts';

export interface RtpEngineSupervisorOptions {
  /** The address rtpengine relays media on: `IP`, or `IP!ADVERTISED` when it is reached at another address (NAT). */
  interface: string;
  /** Where rtpengine listens for ng commands (loopback unless told otherwise). */
  ngHost?: string;
  /**
   * Where rtpengine listens for ng commands; by default a free port, drawn again at each start (the last one may
   * have been taken by another program while the daemon was down).
   */
  ngPort?: number;
  portMin: number;
  portMax: number;
  binary?: string;
  /** Extra arguments, for tests and tuning. */
  args?: string[];
  onRestart?: (reason: string) => void;
  onLog?: (line: string) => void;
  /**
   * Where the running daemon's pid and identity are kept; a daemon an earlier run left there is stopped at the first
   * start (see pidfile.ts).
   */
  pidFile?: string;
  /** What became of a daemon an earlier run left behind. */
  onLeftover?: (outcome: LeftoverOutcome) => void;
}

let setprivWorks: boolean | undefined;

/** Whether `setpriv --pdeathsig` can be used here (Linux with util-linux). */
function canSetParentDeathSignal(): boolean {
  if (setprivWorks === undefined) {
    const r = spawnSync('setpriv', ['--pdeathsig', 'TERM', '--', 'true'], { timeout: 5000 });
    setprivWorks = !r.error && r.status === 0;
  }
  return setprivWorks;
}

/** The rtpengine binary's version line, or undefined when it is not installed. */
export function rtpengineVersion(binary = 'rtpengine'): string | undefined {
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 5000 });
  if (r.error || r.status !== 0) return undefined;
  return (r.stdout || r.stderr).split('\n')[0]?.trim();
}

export class RtpEngineSupervisor {
  private child: ChildProcess | undefined;
  private stopping = false;
  private restarts = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private leftoverChecked = false;
  client: NgClient | undefined;

  constructor(private readonly options: RtpEngineSupervisorOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get restartCount(): number {
    return this.restarts;
  }

  /** Starts rtpengine and waits until it answers ping (10 s at most). */
  async start(): Promise<void> {
    this.stopping = false;
    if (this.options.pidFile && !this.leftoverChecked) {
      this.leftoverChecked = true;
      // Before drawing ports: a leftover holds some of ours.
      this.options.onLeftover?.(await stopLeftover(this.options.pidFile));
    }
    const ngPort = this.options.ngPort ?? (await freeUdpPort(this.options.ngHost ?? '127.0.0.1'));
    this.client ??= await NgClient.connect({ host: this.options.ngHost ?? '127.0.0.1', port: ngPort, retryMs: 200, attempts: 3 });
    this.client.retarget(ngPort);
    this.spawn(ngPort);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (this.child?.exitCode !== null && this.child?.exitCode !== undefined) throw new Error(`rtpengine exited at start (code ${this.child.exitCode})`);
      if (await this.client.ping()) return;
    }
    throw new Error('rtpengine did not answer ping within 10 s');
  }

  private spawn(ngPort: number): void {
    const o = this.options;
    const args = [
      // Only our options: the system's /etc/rtpengine/rtpengine.conf opens control and CLI ports of its own.
      '--config-file=none',
      '--foreground',
      '--table=-1',
      // A call whose parties both stop sending (a long inactive hold) is kept 5 minutes, not rtpengine's 60 s.
      '--timeout=300',
      // A call we delete is gone at once. rtpengine's default keeps it (and its ports) 30 s more: at 300 calls per
      // second that holds 36,000 ports, more than the range, and new calls find none.
      '--delete-delay=0',
      `--interface=${o.interface}`,
      `--listen-ng=${o.ngHost ?? '127.0.0.1'}:${ngPort}`,
      `--port-min=${o.portMin}`,
      `--port-max=${o.portMax}`,
      '--log-stderr',
      '--log-level=5',
      ...(o.args ?? []),
    ];
    const binary = o.binary ?? 'rtpengine';
    // SIGTERM when the server dies: rtpengine then ends as on a stop, writing out what it was recording.
    const child = canSetParentDeathSignal()
      ? spawn('setpriv', ['--pdeathsig', 'TERM', '--', binary, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
      : spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    if (o.pidFile && child.pid) writePidFile(o.pidFile, child.pid, binary);
    const recent: string[] = [];
    child.stderr?.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) {
        if (!line.trim()) continue;
        o.onLog?.(line);
        recent.push(line);
        if (recent.length > 5) recent.shift();
      }
    });
    child.on('exit', (code, signal) => {
      if (o.pidFile && child.pid) removePidFile(o.pidFile, child.pid);
      if (this.child !== child || this.stopping) return;
      this.child = undefined;
      // Its last words say why (a port it could not bind, a bad option).
      const reason = `rtpengine exited (${signal ?? `code ${code}`})${code ? `: ${recent.filter((l) => /ERR|CRIT|FATAL/i.test(l)).slice(-2).join(' | ')}` : ''}`;
      this.restarts++;
      o.onRestart?.(reason);
      const pause = Math.min(30_000, 250 * 2 ** Math.min(this.restarts, 7));
      this.restartTimer = setTimeout(() => {
        if (this.stopping) return;
        void (async () => {
          const port = o.ngPort ?? (await freeUdpPort(o.ngHost ?? '127.0.0.1'));
          if (this.stopping) return;
          this.client?.retarget(port);
          this.spawn(port);
        })();
      }, pause);
      this.restartTimer.unref();
    });
    this.child = child;
  }

  /** Stops rtpengine (TERM, then KILL after 3 s) and the client. Idempotent. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    this.child = undefined;
    // A daemon that died by a signal has no exit code, and will not say 'exit' again.
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    this.client?.close();
    this.client = undefined;
  }
}
