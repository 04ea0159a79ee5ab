/**
 * A real Switchboard server for API tests: the whole process wiring, listening on a free loopback port, over a
 * test database of the chosen kind, with a known first administrator. Helpers speak to it through Fastify's
 * inject (fast, no socket) or over real HTTP.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { type Config, loadConfig } from '../../src/config/index.ts';
import { type RunningServer, startServer } from '../../src/server.ts';
import { type DatabaseKind, openTestDatabase } from './databases.ts';

export const ADMIN_EMAIL = 'admin@pbx.test';
export const ADMIN_PASSWORD = 'correct horse battery';

export interface TestServer {
  server: RunningServer;
  kind: DatabaseKind;
  dataDir: string;
  request(
    method: string,
    url: string,
    options?: { token?: string; body?: unknown; headers?: Record<string, string>; remoteAddress?: string },
  ): Promise<LightMyRequestResponse>;
  login(email: string, password: string): Promise<string>;
  adminToken(): Promise<string>;
  stop(): Promise<void>;
}

const RTP_WINDOWS = 50;
const RTP_WINDOW_SIZE = 200;

/**
 * A window of 200 UDP ports for one test server's rtpengine, drawn from 20000-29999 and claimed by a lock file, so
 * servers of test files running side by side never share ports: a port one relay just freed and another reuses
 * would carry the first call's stray packets into the second (and the relay would learn their sender as its peer).
 * A lock whose process is gone is taken over.
 */
export function claimRtpPorts(): { start: number; end: number; release(): void } {
  const dir = path.join(os.tmpdir(), 'switchboard-test-rtp-windows');
  fs.mkdirSync(dir, { recursive: true });
  const first = Math.floor(Math.random() * RTP_WINDOWS);
  for (let attempt = 0; attempt < RTP_WINDOWS * 2; attempt++) {
    const index = (first + attempt) % RTP_WINDOWS;
    const lock = path.join(dir, `${index}.lock`);
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
    } catch {
      if (!alive(Number(fs.readFileSync(lock, { encoding: 'utf8', flag: 'a+' })))) fs.rmSync(lock, { force: true });
      continue;
    }
    const start = 20_000 + index * RTP_WINDOW_SIZE;
    return { start, end: start + RTP_WINDOW_SIZE - 1, release: () => fs.rmSync(lock, { force: true }) };
  }
  throw new Error(`no free RTP port window: every lock in ${dir} is held`);
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function startTestServer(kind: DatabaseKind, overrides: Partial<Config> = {}): Promise<TestServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-test-'));
  const testDb = await openTestDatabase(kind, { migrate: false });
  const rtpWindow = claimRtpPorts();
  const config: Config = {
    ...loadConfig({}),
    httpPort: 0,
    httpHost: '127.0.0.1',
    dataDir,
    domain: 'pbx.test',
    adminEmail: ADMIN_EMAIL,
    adminPassword: ADMIN_PASSWORD,
    logLevel: 'silent',
    sipHost: '127.0.0.1',
    sipPort: 0,
    // Direct media unless a test asks for the relay; each server's relay gets ports of its own.
    rtpengine: 'off',
    rtpPorts: { start: rtpWindow.start, end: rtpWindow.end },
    ...overrides,
  };
  let server: RunningServer;
  try {
    server = await startServer(config, { database: testDb.database, print: () => {} });
  } catch (err) {
    rtpWindow.release();
    await testDb.destroy();
    throw err;
  }
  let adminToken: string | undefined;
  const request: TestServer['request'] = (method, url, options = {}) =>
    server.app.inject({
      method: method as 'GET',
      url,
      headers: { ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...options.headers },
      remoteAddress: options.remoteAddress ?? '127.0.0.1',
      ...(options.body === undefined ? {} : typeof options.body === 'string' ? { payload: options.body } : { payload: options.body as object }),
    });
  // Each helper login comes from an address of its own, so tests that exercise throttling do not block them.
  let nextAddress = 1;
  const login = async (email: string, password: string) => {
    const remoteAddress = `10.99.${Math.floor(nextAddress / 250)}.${(nextAddress++ % 250) + 1}`;
    const res = await request('POST', '/api/auth/login', { body: { email, password }, remoteAddress });
    if (res.statusCode !== 200) throw new Error(`login of ${email} failed: ${res.statusCode} ${res.body}`);
    return (res.json() as { accessToken: string }).accessToken;
  };
  return {
    server,
    kind,
    dataDir,
    request,
    login,
    async adminToken() {
      adminToken ??= await login(ADMIN_EMAIL, ADMIN_PASSWORD);
      return adminToken;
    },
    async stop() {
      try {
        await server.close();
      } finally {
        rtpWindow.release();
        await testDb.destroy();
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/** Creates a user through the API as the given administrator and answers the 201 body. */
export async function createUser(
  t: TestServer,
  token: string,
  body: { name: string; email: string; role?: string; password?: string; withExtension?: boolean },
): Promise<{ id: string; email: string; role: string; extension: { id: string; number: number; secret: string } | null }> {
  const res = await t.request('POST', '/api/users', { token, body });
  if (res.statusCode !== 201) throw new Error(`create user failed: ${res.statusCode} ${res.body}`);
  return res.json();
}

/**
 * Starts a test server before the enclosing suite's tests and stops it after them; the answer's fields are filled
 * in once the suite starts: `t` the server, `token` its administrator's token.
 */
export function useTestServer(kind: DatabaseKind, overrides: Partial<Config> = {}): { t: TestServer; token: string } {
  const ctx = {} as { t: TestServer; token: string };
  before(async () => {
    ctx.t = await startTestServer(kind, overrides);
    ctx.token = await ctx.t.adminToken();
  });
  after(() => ctx.t.stop());
  return ctx;
}
