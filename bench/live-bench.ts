/**
 * Live API fan-out: how long after an agent's state changes do 500 connected dashboards hear of it?
 *
 *   npx tsx bench/live-bench.ts            # BENCH_DASHBOARDS=500 BENCH_CHANGES=40 by default
 *
 * The server runs as `pbx start` (its own process, direct media, PGlite). 500 socket.io-client dashboards log in as
 * a manager (the staff room of the tenant). An agent's state is changed through the REST API, one change every
 * 100 ms; each dashboard notes when `agent:status:updated` arrives, and the delay is counted from the moment the
 * server made the change (the event's `since`, the same clock). The reference, in the same run and process
 * layout: a bare Socket.io server (no authentication, no rooms, no domain) broadcasting a timestamp to 500
 * clients, which is the floor Socket.io itself sets on this machine.
 */
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Server } from 'socket.io';
import { io, type Socket } from 'socket.io-client';
import { freePort, runPbx, waitForOutput } from '../test/support/process.ts';

const DASHBOARDS = Number(process.env.BENCH_DASHBOARDS ?? 500);
const CHANGES = Number(process.env.BENCH_CHANGES ?? 40);
const ADMIN = { email: 'admin@bench.test', password: 'bench-admin-pw' };

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function summary(delays: number[]): { p50: number; p99: number; max: number; n: number } {
  const sorted = [...delays].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? NaN, n: sorted.length };
}

async function connectAll(url: string, auth: Record<string, string>, onEvent: (name: string, data: Record<string, unknown>) => void): Promise<Socket[]> {
  const sockets: Socket[] = [];
  for (let i = 0; i < DASHBOARDS; i += 50) {
    const batch = Array.from({ length: Math.min(50, DASHBOARDS - i) }, () => {
      const s = io(url, { auth, transports: ['websocket'], reconnection: false, forceNew: true });
      s.onAny(onEvent);
      sockets.push(s);
      return new Promise<void>((resolve, reject) => {
        s.once('connect', () => resolve());
        s.once('connect_error', reject);
      });
    });
    await Promise.all(batch);
  }
  return sockets;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function reference(): Promise<number[]> {
  const server = http.createServer();
  const ioServer = new Server(server, { serveClient: false });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const delays: number[] = [];
  const sockets = await connectAll(`http://127.0.0.1:${port}/`, {}, (name, data) => {
    if (name === 'tick') delays.push(Date.now() - (data.at as number));
  });
  for (let i = 0; i < CHANGES; i++) {
    ioServer.emit('tick', { at: Date.now(), agentId: 'x', status: 'AWAY' });
    await sleep(100);
  }
  await sleep(500);
  for (const s of sockets) s.close();
  await new Promise<void>((resolve) => ioServer.close(() => resolve()));
  return delays;
}

async function switchboard(): Promise<{ delays: number[]; missing: number }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-live-bench-'));
  const httpPort = await freePort();
  const base = `http://127.0.0.1:${httpPort}`;
  const server = runPbx(['start'], {
    PBX_DATA_DIR: dataDir,
    PBX_HTTP_PORT: String(httpPort),
    PBX_HTTP_HOST: '127.0.0.1',
    PBX_SIP_HOST: '127.0.0.1',
    PBX_SIP_PORT: '0',
    PBX_DOMAIN: 'bench.test',
    PBX_ADMIN_EMAIL: ADMIN.email,
    PBX_ADMIN_PASSWORD: ADMIN.password,
    PBX_LOG_LEVEL: 'warn',
    PBX_RTPENGINE: 'off',
  });
  try {
    await waitForOutput(server, 'listening on');
    const call = async (method: string, url: string, token: string | undefined, body?: unknown) => {
      const res = await fetch(`${base}${url}`, {
        method,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
      return (await res.json()) as Record<string, unknown>;
    };
    const admin = (await call('POST', '/api/auth/login', undefined, ADMIN)).accessToken as string;
    await call('POST', '/api/users', admin, { name: 'Wallboard', email: 'wallboard@bench.test', role: 'MANAGER', password: 'wallboard-pw' });
    const agent = (await call('POST', '/api/users', admin, { name: 'Agent', email: 'agent@bench.test' })) as { extension: { id: string } };
    const manager = (await call('POST', '/api/auth/login', undefined, { email: 'wallboard@bench.test', password: 'wallboard-pw' })).accessToken as string;
    const delays: number[] = [];
    const sockets = await connectAll(`${base}/pbx`, { token: manager }, (name, data) => {
      if (name === 'agent:status:updated' && data.agentId === agent.extension.id && data.previousStatus !== undefined) delays.push(Date.now() - Date.parse(data.since as string));
    });
    console.log(`${sockets.length} dashboards connected to Switchboard`);
    for (let i = 0; i < CHANGES; i++) {
      await call('PUT', `/api/pbx/agent-extensions/${agent.extension.id}/status`, admin, { status: 'AWAY', reason: i % 2 === 0 ? 'Break' : 'Lunch' });
      await sleep(100);
    }
    await sleep(1000);
    for (const s of sockets) s.close();
    return { delays, missing: DASHBOARDS * CHANGES - delays.length };
  } finally {
    await server.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

const ref = summary(await reference());
const { delays, missing } = await switchboard();
const sb = summary(delays);
console.log(`dashboards ${DASHBOARDS}, changes ${CHANGES}`);
console.log(`bare Socket.io broadcast   p50 ${ref.p50} ms  p99 ${ref.p99} ms  max ${ref.max} ms  (${ref.n} deliveries)`);
console.log(`Switchboard agent change   p50 ${sb.p50} ms  p99 ${sb.p99} ms  max ${sb.max} ms  (${sb.n} deliveries, ${missing} missing)`);
console.log(`ratio p99 Switchboard / bare Socket.io: ${(sb.p99 / Math.max(1, ref.p99)).toFixed(2)}  (goal: p99 under 100 ms)`);
process.exit(0);
