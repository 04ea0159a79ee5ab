/**
 * baresip (Debian's baresip-core) as a SIP phone under test: its own config directory, one account registering
 * through the server under test, a sine tone as microphone, and its ctrl_tcp module for commands (dial, hangup)
 * and events (REGISTER_OK, CALL_ESTABLISHED, CALL_CLOSED...). Stopped by its own pid.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort, freePortPair } from './process.ts';

export interface BaresipEvent {
  type: string;
  class?: string;
  param?: string;
  peeruri?: string;
}

function transportParam(transport: string | undefined): string {
  return transport && transport !== 'udp' ? `;transport=${transport}` : '';
}

export class Baresip {
  readonly events: BaresipEvent[] = [];
  private output = '';
  private buffer = '';
  private token = 0;
  private readonly waiters: Array<{ type: string; resolve: (e: BaresipEvent) => void }> = [];

  private constructor(
    private readonly child: ChildProcess,
    private readonly socket: net.Socket,
    private readonly dir: string,
    readonly sipPort: number,
  ) {
    socket.on('data', (d: Buffer) => this.onData(d.toString('utf8')));
    socket.on('error', () => {});
  }

  static async start(options: {
    user: string;
    password: string;
    domain: string;
    proxy: string;
    answer?: 'auto' | 'manual';
    tone?: number;
    transport?: 'udp' | 'tcp' | 'tls';
    /** Dump what the phone hears and sends as WAV files into this directory (baresip's sndfile module). */
    dumpDir?: string;
    /** The one audio codec the phone offers and accepts (PCMU unless told). */
    codec?: 'PCMU' | 'PCMA';
  }): Promise<Baresip> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-baresip-'));
    const [sipPort, ctrlPort] = [await freePortPair(), await freePort()];
    fs.writeFileSync(
      path.join(dir, 'config'),
      [
        'poll_method epoll',
        `sip_listen 127.0.0.1:${sipPort}`,
        'module_path /usr/lib/baresip/modules',
        'module g711.so',
        'module ausine.so',
        'module aufile.so',
        'module aubridge.so',
        ...(options.dumpDir ? ['module sndfile.so', `snd_path ${options.dumpDir}`] : []),
        'module account.so',
        'module_app menu.so',
        'module_app ctrl_tcp.so',
        `ctrl_tcp_listen 127.0.0.1:${ctrlPort}`,
        `audio_source ausine,${options.tone ?? 440}`,
        // ausine makes 48 kHz stereo only; baresip resamples to the codec's rate and channels.
        'ausrc_srate 48000',
        'auplay_srate 48000',
        'ausrc_channels 2',
        'auplay_channels 2',
        // A phone needs somewhere to play what it hears: a virtual device here (the media tests will record it).
        `audio_player aubridge,switchboard-${ctrlPort}`,
        'audio_alert aufile,/dev/null',
        'net_interface 127.0.0.1',
        // Away from the test relays' ports (20000-29999) and the product's default (30000-39999).
        'rtp_ports 40000-49999',
        // No jitter buffer (loopback has no jitter): this baresip's drops every packet of a new stream whose sequence
        // numbers lie below the last stream's, so a phone would go deaf after music on hold stops, at random.
        'jitter_buffer_delay 0-0',
        '',
      ].join('\n'),
    );
    fs.writeFileSync(
      path.join(dir, 'accounts'),
      `<sip:${options.user}@${options.domain}${transportParam(options.transport)}>;auth_pass=${options.password};outbound="sip:${options.proxy}${transportParam(options.transport)}";regint=300;answermode=${options.answer ?? 'auto'};audio_codecs=${options.codec ?? 'PCMU'}\n`,
    );
    // BARESIP_TRACE=1 prints baresip's SIP trace into its output, for a failing test's message.
    const trace = process.env.BARESIP_TRACE ? ['-s'] : [];
    const child = spawn('baresip', ['-f', dir, '-4', '-t', '120', ...trace], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    let socket: net.Socket | undefined;
    for (let i = 0; i < 100 && !socket; i++) {
      socket = await new Promise<net.Socket | undefined>((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port: ctrlPort }, () => resolve(s));
        s.once('error', () => resolve(undefined));
      });
      if (!socket) await new Promise((r) => setTimeout(r, 50));
    }
    if (!socket) {
      child.kill('SIGKILL');
      throw new Error(`baresip did not start:\n${out}`);
    }
    const phone = new Baresip(child, socket, dir, sipPort);
    phone.output = out;
    child.stdout?.on('data', (d: Buffer) => (phone.output += d.toString()));
    return phone;
  }

  /** Netstrings: `<length>:<json>,`. */
  private onData(text: string): void {
    this.buffer += text;
    for (;;) {
      const colon = this.buffer.indexOf(':');
      if (colon < 0) return;
      const length = Number(this.buffer.slice(0, colon));
      if (this.buffer.length < colon + 1 + length + 1) return;
      const json = this.buffer.slice(colon + 1, colon + 1 + length);
      this.buffer = this.buffer.slice(colon + 2 + length);
      try {
        const msg = JSON.parse(json) as BaresipEvent & { event?: boolean };
        if (!msg.event) continue;
        this.events.push(msg);
        for (const w of [...this.waiters]) {
          if (w.type === msg.type) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            w.resolve(msg);
          }
        }
      } catch {
        // not JSON: ignore
      }
    }
  }

  /** What baresip printed (with BARESIP_TRACE=1, its SIP trace too). */
  get log(): string {
    return this.output;
  }

  command(command: string, params = ''): void {
    const json = JSON.stringify({ command, params, token: String(++this.token) });
    this.socket.write(`${Buffer.byteLength(json)}:${json},`);
  }

  /** The first event of this type, past or future. */
  waitFor(type: string, timeoutMs = 10_000): Promise<BaresipEvent> {
    const seen = this.events.find((e) => e.type === type);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`baresip: no ${type} within ${timeoutMs} ms; events: ${this.events.map((e) => e.type).join(', ')}\n${this.output.slice(-6000)}`)), timeoutMs);
      this.waiters.push({ type, resolve: (e) => (clearTimeout(timer), resolve(e)) });
    });
  }

  async stop(): Promise<void> {
    this.socket.destroy();
    if (this.child.exitCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
