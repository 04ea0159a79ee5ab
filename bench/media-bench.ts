/**
 * Media plane benchmark: concurrent anchored G.711 calls through rtpengine, run and supervised as the server runs
 * it (the same MediaPlane, the same offer and answer flags), with RTP flowing both ways at 50 packets per second per
 * direction, from UDP endpoints in this process. For each step of concurrency it prints the packets sent and
 * received, the loss, and rtpengine's CPU while the media flowed; then how long an offer plus answer takes (the
 * signalling cost the relay adds to a call setup).
 *
 *   npx tsx bench/media-bench.ts [steps, e.g. 100,250,500] [seconds per step, default 10]
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startMedia } from '../src/media/index.ts';

const steps = (process.argv[2] ?? '100,250,500,750').split(',').map(Number);
const seconds = Number(process.argv[3] ?? 10);
const TICKS_PER_SECOND = 100; // clock ticks of /proc/<pid>/stat (sysconf(_SC_CLK_TCK) on Linux)

function sdp(port: number): string {
  return `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n`;
}

function cpuTicks(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return Number(fields[11]) + Number(fields[12]);
}

async function bind(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return s;
}

interface Party {
  socket: dgram.Socket;
  /** Where it sends: the relay port its peer's SDP named. */
  target: number;
  sent: number;
  received: number;
  seq: number;
  ssrc: number;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-media-bench-'));
const media = await startMedia(
  { mode: 'auto', address: '127.0.0.1', portMin: 40_000, portMax: 49_999 },
  { warn: (m) => console.error(m), error: (e, c) => console.error(c, e) },
);
if (media.plane.kind !== 'rtpengine' || !media.pid) throw new Error(`no relay: ${media.description}`);
const plane = media.plane;
const pid = media.pid;
console.log(`${media.description}\nconcurrency steps ${steps.join(', ')}; ${seconds} s of RTP each way per step\n`);
console.log('| concurrent calls | packets sent | packets received | loss | rtpengine CPU (of one core) | offer+answer p50 / p99 |');
console.log('| --- | --- | --- | --- | --- | --- |');

const payload = Buffer.alloc(160, 0xff);
let step = 0;
for (const calls of steps) {
  step++;
  const parties: Party[] = [];
  const setup: number[] = [];
  for (let i = 0; i < calls; i++) {
    const [a, b] = [await bind(), await bind()];
    const callId = `switchboard-bench-${step}-${i}`;
    const t0 = performance.now();
    const offer = await plane.offer({ callId, fromTag: 'a', sdp: sdp(a.address().port), profile: 'rtp' });
    const answer = await plane.answer({ callId, fromTag: 'b', toTag: 'a', sdp: sdp(b.address().port), profile: 'rtp' });
    setup.push(performance.now() - t0);
    const port = (s: string) => Number(/^m=audio (\d+)/m.exec(s)?.[1]);
    const pa: Party = { socket: a, target: port(answer), sent: 0, received: 0, seq: 0, ssrc: 2 * i + 1 };
    const pb: Party = { socket: b, target: port(offer), sent: 0, received: 0, seq: 0, ssrc: 2 * i + 2 };
    a.on('message', () => void pa.received++);
    b.on('message', () => void pb.received++);
    parties.push(pa, pb);
  }
  setup.sort((x, y) => x - y);
  const started = performance.now();
  const cpuBefore = cpuTicks(pid);
  let timestamp = 0;
  // One 20 ms tick sends a packet from every party; late ticks catch up so the rate stays 50 per second.
  let ticks = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.floor((performance.now() - started) / 20);
      while (ticks < due && ticks < seconds * 50) {
        ticks++;
        timestamp += 160;
        for (const p of parties) {
          const h = Buffer.alloc(12);
          h[0] = 0x80;
          h.writeUInt16BE(p.seq++ & 0xffff, 2);
          h.writeUInt32BE(timestamp >>> 0, 4);
          h.writeUInt32BE(p.ssrc, 8);
          p.socket.send([h, payload], p.target, '127.0.0.1');
          p.sent++;
        }
      }
      if (ticks >= seconds * 50) {
        clearInterval(timer);
        resolve();
      }
    }, 5);
  });
  const elapsed = (performance.now() - started) / 1000;
  const cpu = (cpuTicks(pid) - cpuBefore) / TICKS_PER_SECOND / elapsed;
  await new Promise((r) => setTimeout(r, 500));
  const sent = parties.reduce((n, p) => n + p.sent, 0);
  const received = parties.reduce((n, p) => n + p.received, 0);
  const loss = (1 - received / sent) * 100;
  const q = (f: number) => (setup[Math.min(setup.length - 1, Math.floor(f * setup.length))] as number).toFixed(2);
  console.log(`| ${calls} | ${sent.toLocaleString('en')} | ${received.toLocaleString('en')} | ${loss.toFixed(2)}% | ${(cpu * 100).toFixed(0)}% | ${q(0.5)} / ${q(0.99)} ms |`);
  for (let i = 0; i < calls; i++) await plane.delete(`switchboard-bench-${step}-${i}`);
  for (const p of parties) p.socket.close();
}
await media.close();
fs.rmSync(dir, { recursive: true, force: true });
