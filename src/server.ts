/**
 * The process: opens and migrates the database, makes sure the system tenant and a first administrator exist,
 * wires the directory and the HTTP adapter, and closes everything once, in order, on shutdown.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { buildApi } from './api/index.ts';
import type { Config } from './config/index.ts';
import { type Database, openDatabase, WriteJournal } from './db/index.ts';
import { createDirectory, type Directory, type ExtensionCredentials, generateSecret, type Tenant } from './directory/index.ts';
import { EventBus, type PbxEventBus } from './events/index.ts';
import { freeUdpPort } from './net/ports.ts';
import { ensureHoldMusic, ensureRingback, RecordingVault, startMedia, type StartedMedia } from './media/index.ts';
import { firstExternalIPv4 } from './sip/index.ts';
import { TelephonyEngine } from './telephony/index.ts';
import { RecordingService } from './telephony/recordings.ts';
import { type ContactCenter, startContactCenter } from './contact-center/index.ts';
import { RealtimeGateway } from './realtime/index.ts';

export const SERVICE_NAME = 'Switchboard';

export function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  return pino({
    level: config.logLevel,
    base: { service: 'switchboard' },
    redact: { paths: ['req.headers.authorization', '*.password', '*.secret', '*.sipPassword'], censor: '[redacted]' },
  });
}

/** The storage and domain services, without any network door: what the CLI's commands need. */
export interface Core {
  config: Config;
  logger: Logger;
  database: Database;
  bus: PbxEventBus;
  directory: Directory;
  systemTenant: Tenant;
  /** The server's signing secret (PBX_JWT_SECRET or the generated one); other secrets are derived from it. */
  secret: string;
  /** Where writes the database could not take wait, and what it rejected goes (`PBX_DATA_DIR/write-journal`). */
  journal: WriteJournal;
  close(): Promise<void>;
}

export async function openCore(config: Config, logger: Logger, database?: Database): Promise<Core> {
  const db = database ?? (config.databaseUrl ? await openDatabase({ url: config.databaseUrl }) : await openDatabase({ dataDir: config.dataDir }));
  try {
    await db.migrate();
    const bus: PbxEventBus = new EventBus((err, event) => logger.error({ err, event: String(event) }, 'events:listener failed'));
    const secret = config.jwtSecret ?? loadOrCreateJwtSecret(config.dataDir);
    const directory = createDirectory(db.db, bus, { ...config, jwtSecret: secret });
    const systemTenant = await directory.tenants.ensureSystemTenant({
      name: 'Default',
      domain: config.domain,
      extensionRange: config.extensionRange,
    });
    let closed = false;
    return {
      config,
      logger,
      database: db,
      bus,
      directory,
      systemTenant,
      secret,
      journal: new WriteJournal(path.join(config.dataDir, 'write-journal')),
      async close() {
        if (closed) return;
        closed = true;
        bus.removeAllListeners();
        await db.close();
      },
    };
  } catch (err) {
    await db.close();
    throw err;
  }
}

/** The recording key kept in the data directory when PBX_RECORDING_KEY is not set, made on first use. */
export function loadOrCreateRecordingKey(dataDir: string): Buffer {
  const file = path.join(dataDir, 'recording-key');
  try {
    const existing = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'hex');
    if (existing.length === 32) return existing;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  fs.mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32);
  fs.writeFileSync(file, key.toString('hex') + '\n', { mode: 0o600 });
  return key;
}

/** The signing secret kept in the data directory, made on first use (readable by its owner only). */
export function loadOrCreateJwtSecret(dataDir: string): string {
  const file = path.join(dataDir, 'jwt-secret');
  try {
    const existing = fs.readFileSync(file, 'utf8').trim();
    if (existing.length >= 32) return existing;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  fs.mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  fs.writeFileSync(file, secret + '\n', { mode: 0o600 });
  return secret;
}

/**
 * On a first start the system tenant gets an administrator: the configured one, or `admin@<domain>` with a
 * generated password that is printed once. Later starts change nothing, even if the variables change.
 */
export async function ensureFirstAdmin(core: Core, print: (line: string) => void): Promise<void> {
  const { directory, systemTenant, config } = core;
  if ((await directory.users.countAdmins(systemTenant.id)) > 0) return;
  const email = config.adminEmail ?? `admin@${systemTenant.domain}`;
  const password = config.adminPassword ?? generateSecret(20);
  await directory.users.create(systemTenant, { name: 'Administrator', email, password, role: 'ADMIN', withExtension: false });
  core.logger.info({ email }, 'server:first administrator created');
  if (!config.adminPassword) {
    print(`First administrator created: ${email}`);
    print(`Password (shown once, change it after logging in): ${password}`);
  }
}

/** A TLS certificate and key, when both are configured; an unreadable file stops the start, naming its variable. */
function readTlsPair(cert: string | undefined, key: string | undefined, variables: [string, string]): { cert: Buffer; key: Buffer } | undefined {
  if (!cert || !key) return undefined;
  const read = (file: string, variable: string) => {
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw new Error(`${variable}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  };
  return { cert: read(cert, variables[0]), key: read(key, variables[1]) };
}

const readTlsFiles = (config: Config) => readTlsPair(config.sipTlsCert, config.sipTlsKey, ['PBX_SIP_TLS_CERT', 'PBX_SIP_TLS_KEY']);

/**
 * The media plane (PBX_RTPENGINE). A relay the server runs listens on the SIP address (the first external IPv4 when
 * SIP listens on every address) and advertises PBX_SIP_PUBLIC_HOST when that is an IP address.
 */
export async function startMediaPlane(config: Config, logger: Logger): Promise<StartedMedia> {
  const wildcard = config.sipHost === '0.0.0.0' || config.sipHost === '::';
  const address = wildcard ? (firstExternalIPv4() ?? '127.0.0.1') : config.sipHost;
  const media = await startMedia(
    {
      mode: config.rtpengine,
      address,
      advertisedAddress: config.sipPublicHost && net.isIP(config.sipPublicHost) && config.sipPublicHost !== address ? config.sipPublicHost : undefined,
      portMin: config.rtpPorts.start,
      portMax: config.rtpPorts.end,
      recordingDir: path.resolve(config.dataDir, 'media', 'spool'),
      pidFile: path.resolve(config.dataDir, 'rtpengine.pid'),
    },
    {
      warn: (message) => logger.warn(message),
      error: (err, context) => logger.error({ err }, context),
      daemon: (line) => logger.debug({ rtpengine: line }, 'media:rtpengine'),
    },
  );
  logger.info({ media: media.description }, 'media:ready');
  return media;
}

/** The extension a number dials in a tenant, as the engine and the queues need it. */
function extensionLookup(directory: Directory) {
  return async (tenantId: string, number: number) => {
    const ext = await directory.extensions.findByNumber(tenantId, number);
    return ext && { extensionId: ext.id, number: ext.number, ringTimeout: ext.ringTimeout, isActive: ext.isActive };
  };
}

/** SIP on UDP and TCP, on one port: UDP binds first (0 picks a free port), TCP takes the same number. */
async function startTelephony(core: Core, media: StartedMedia): Promise<TelephonyEngine> {
  const { config, directory, logger } = core;
  const options = {
    directory: {
      findCredentials: (domain: string, user: string) => directory.extensions.findCredentials(domain, user),
      alternateHa1s: (credentials: ExtensionCredentials, algorithm: 'MD5' | 'SHA-256') => directory.softphone.ha1s(credentials, algorithm),
      listDomains: async () => (await directory.tenants.list()).map((t) => t.domain),
      domainOf: async (tenantId: string) => (await directory.tenants.get(tenantId)).domain,
      maxCallSecondsOf: async (tenantId: string) => (await directory.tenants.get(tenantId)).maxCallSeconds,
      findExtension: extensionLookup(directory),
      lookups: (extensionId?: string) => directory.extensions.lookups(extensionId),
    },
    db: core.database.db,
    bus: core.bus,
    secret: core.secret,
    digestAlgorithms: config.sipDigestAlgorithms,
    subscriptions: {
      minExpires: config.sipSubscribeMinExpires,
      maxExpires: Math.max(config.sipSubscribeMinExpires, config.sipSubscribeMaxExpires),
      defaultExpires: Math.max(config.sipSubscribeMinExpires, config.sipSubscribeMaxExpires),
      perExtension: config.sipSubscriptionsPerExtension,
    },
    abuse: { maxFailures: config.sipAuthMaxFailures, windowMs: config.sipAuthWindowSeconds * 1000, banMs: config.sipBanSeconds * 1000 },
    serverName: `Switchboard ${packageVersion()}`,
    publicHost: config.sipPublicHost,
    connections: { messageTimeoutMs: config.sipMessageTimeoutSeconds * 1000, maxConnectionsPerAddress: config.sipMaxConnectionsPerAddress },
    liveness: {
      mediaTimeoutSeconds: config.mediaTimeoutSeconds,
      optionsProbeSeconds: config.optionsProbeSeconds,
      sessionTimers: { sessionExpires: config.sessionExpiresSeconds, minSE: config.minSessionExpiresSeconds },
    },
    media: {
      plane: media.plane,
      holdMusic: config.holdMusic ?? ensureHoldMusic(path.join(config.dataDir, 'media')),
      ringback: ensureRingback(path.join(config.dataDir, 'media')),
    },
    onError: (err: unknown, context: string) => logger.error({ err }, context),
    journal: core.journal,
  };
  const tls = readTlsFiles(config);
  let lastError: unknown;
  // With port 0 the number UDP drew may be taken on TCP: draw again a few times.
  for (let attempt = 0; attempt < (config.sipPort === 0 ? 5 : 1); attempt++) {
    try {
      const port = await freeUdpPort(config.sipHost, config.sipPort);
      return await TelephonyEngine.start({
        ...options,
        listen: [
          { protocol: 'UDP', host: config.sipHost, port },
          { protocol: 'TCP', host: config.sipHost, port },
          ...(tls ? [{ protocol: 'TLS' as const, host: config.sipHost, port: config.sipTlsPort, tls }] : []),
        ],
      });
    } catch (err) {
      lastError = err;
    }
  }
  throw new Error(`PBX_SIP_PORT: cannot listen on ${config.sipHost}:${config.sipPort} (${(lastError as Error).message})`);
}

export interface RunningServer extends Core {
  app: FastifyInstance;
  telephony: TelephonyEngine;
  media: StartedMedia;
  recordings: RecordingService;
  contactCenter: ContactCenter;
  gateway: RealtimeGateway;
  /** The SIP port actually bound (UDP and TCP). */
  sipPort: number;
  /** http://host:port the server listens on. */
  url: string;
  port: number;
}

export async function startServer(
  config: Config,
  options: { logger?: Logger; database?: Database; print?: (line: string) => void } = {},
): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config);
  // Read first: a missing certificate stops the start before anything is opened.
  const https = readTlsPair(config.httpTlsCert, config.httpTlsKey, ['PBX_HTTP_TLS_CERT', 'PBX_HTTP_TLS_KEY']);
  const core = await openCore(config, logger, options.database);
  let app: FastifyInstance | undefined;
  let telephony: TelephonyEngine | undefined;
  let media: StartedMedia | undefined;
  let recordings: RecordingService | undefined;
  let contactCenter: ContactCenter | undefined;
  let gateway: RealtimeGateway | undefined;
  try {
    await ensureFirstAdmin(core, options.print ?? ((line) => console.log(line)));
    media = await startMediaPlane(config, logger);
    telephony = await startTelephony(core, media);
    const vault = new RecordingVault(config.recordingKey ?? loadOrCreateRecordingKey(config.dataDir), config.recordingOldKeys);
    recordings = new RecordingService(core.database.db, core.bus, media.plane, telephony.calls, vault, path.resolve(config.dataDir), (err, context) => logger.error({ err }, context));
    await recordings.start();
    const engineForCc = telephony;
    contactCenter = await startContactCenter({
      db: core.database.db,
      bus: core.bus,
      location: engineForCc.location,
      calls: engineForCc.calls,
      findExtension: extensionLookup(core.directory),
      onError: (err, context) => logger.error({ err }, context),
      journal: core.journal,
      softphones: { requestAnswer: (request) => gateway?.requestAnswer(request) ?? false },
    });
    app = await buildApi({
      config,
      database: core.database,
      journal: core.journal,
      directory: core.directory,
      logger,
      info: { service: SERVICE_NAME, version: packageVersion() },
      recordings,
      contactCenter,
      https,
    });
    await app.listen({ port: config.httpPort, host: config.httpHost });
    // SIP over WebSocket shares the HTTP port, so a browser needs one origin for everything (WSS under HTTPS).
    telephony.stack.attachWebSocket(app.server, '/sip', { secure: !!https });
    gateway = RealtimeGateway.attach(app.server, {
      directory: core.directory,
      bus: core.bus,
      contactCenter,
      onError: (err, context) => logger.error({ err }, context),
    });
  } catch (err) {
    await gateway?.close();
    await app?.close();
    await telephony?.close();
    await contactCenter?.stop();
    await media?.close();
    await recordings?.close();
    await core.close();
    throw err;
  }
  const engine = telephony;
  const mediaPlane = media;
  const recorder = recordings;
  const cc = contactCenter;
  const live = gateway;
  const sipPort = engine.stack.transports[0]?.port ?? config.sipPort;
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.httpPort;
  const host = config.httpHost === '0.0.0.0' || config.httpHost === '::' ? '127.0.0.1' : config.httpHost;
  const url = `${https ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  logger.info({ url, sipPort, database: core.database.kind, location: core.database.location }, 'server:listening');
  const started = app;
  let closing: Promise<void> | undefined;
  return {
    ...core,
    app: started,
    telephony: engine,
    media: mediaPlane,
    recordings: recorder,
    contactCenter: cc,
    gateway: live,
    sipPort,
    url,
    port,
    close() {
      closing ??= (async () => {
        try {
          // Live sockets go first: they hold the HTTP server open, and hear nothing more of the calls ending now.
          await live.close();
          // The engine next: its WebSocket flows live on the HTTP server and would hold its close up.
          await engine.close();
          // The calls just ended close their sessions and free their agents: written before the database closes.
          await cc.stop();
          // The relay finishes the recordings of the calls just ended; they are filed before the database closes.
          await mediaPlane.close();
          await recorder.close();
          await started.close();
        } finally {
          await core.close();
        }
        logger.info('server:stopped');
      })();
      return closing;
    },
  };
}
