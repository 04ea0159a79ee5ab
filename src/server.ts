/**
 * The process: opens the core (database, directory, system tenant) and makes sure a first administrator exists,
 * then starts the media relay, the engine, the recordings, the contact center, the HTTP adapter and the live
 * gateway, wired together; everything it opens closes once, in one order (`process/closers.ts`), on a stop as when
 * a start fails half way.
 */
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { buildApi } from './api/index.ts';
import type { Config } from './config/index.ts';
import type { Database } from './db/index.ts';
import type { Directory, ExtensionCredentials } from './directory/index.ts';
import { freeUdpPort } from './net/ports.ts';
import { ensureHoldMusic, ensureRingback, RecordingVault, startMedia, type StartedMedia } from './media/index.ts';
import { firstExternalIPv4 } from './sip/index.ts';
import { TelephonyEngine } from './telephony/index.ts';
import { RecordingService } from './telephony/recordings.ts';
import { type ContactCenter, startContactCenter } from './contact-center/index.ts';
import { RealtimeGateway } from './realtime/index.ts';
import { Closers, type Core, ensureFirstAdmin, loadOrCreateRecordingKey, openCore, readHttpsTls, readSipTls } from './process/index.ts';

export { type Core, openCore } from './process/index.ts';

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
    onWarning: (message: string, details: Record<string, unknown>) => logger.warn(details, message),
    journal: core.journal,
    carriers: directory.carriers.cache,
  };
  const tls = readSipTls(config);
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
  const https = readHttpsTls(config);
  // Each part is added as it starts: a start that fails half way closes what it opened as a stop does.
  const closers = new Closers(logger);
  try {
    const core = await openCore(config, logger, options.database);
    closers.add('core', () => core.close());
    await ensureFirstAdmin(core, options.print ?? ((line) => console.log(line)));
    const media = await startMediaPlane(config, logger);
    closers.add('media relay', () => media.close());
    const telephony = await startTelephony(core, media);
    // Closing the engine ends every call in flight: both sides hear BYE, and the relay lets go of their media.
    closers.add('engine', () => telephony.close());
    const vault = new RecordingVault(config.recordingKey ?? loadOrCreateRecordingKey(config.dataDir), config.recordingOldKeys);
    const recordings = new RecordingService(core.database.db, core.bus, media.plane, telephony.calls, vault, path.resolve(config.dataDir), (err, context) => logger.error({ err }, context));
    // The relay finishes the recordings of the calls just ended as it closes; they are filed after it, before the
    // database closes.
    closers.add('recordings', () => recordings.close(), { after: 'media relay' });
    await recordings.start();
    const contactCenter = await startContactCenter({
      db: core.database.db,
      bus: core.bus,
      location: telephony.location,
      calls: telephony.calls,
      // The engine's memory of extensions, kept current by the directory's events: a click-to-call reads none.
      findExtension: (tenantId, number) => telephony.findExtension(tenantId, number),
      callerIdOf: (tenantId, queueId) => core.directory.carriers.dialPolicy.queueCallerId(tenantId, queueId),
      onError: (err, context) => logger.error({ err }, context),
      journal: core.journal,
      softphones: { requestAnswer: (request) => gateway?.requestAnswer(request) ?? false },
    });
    // The calls the engine's close ends close their sessions and free their agents: written after it, before the
    // database closes.
    closers.add('contact center', () => contactCenter.stop(), { after: 'engine' });
    const app = await buildApi({
      config,
      database: core.database,
      journal: core.journal,
      directory: core.directory,
      logger,
      info: { service: SERVICE_NAME, version: packageVersion() },
      recordings,
      contactCenter,
      https,
      trunkStatus: (tenantId, trunkId) => telephony.carriers?.status(tenantId, trunkId),
    });
    // The HTTP server closes after the parts its routes call, last before the database; the engine's WebSocket
    // flows on it (below) close with the engine first, or they would hold its close up.
    closers.add('http', () => app.close(), { after: 'recordings' });
    await app.listen({ port: config.httpPort, host: config.httpHost });
    // SIP over WebSocket shares the HTTP port, so a browser needs one origin for everything (WSS under HTTPS).
    telephony.stack.attachWebSocket(app.server, '/sip', { secure: !!https });
    const gateway = RealtimeGateway.attach(app.server, {
      directory: core.directory,
      bus: core.bus,
      contactCenter,
      onError: (err, context) => logger.error({ err }, context),
    });
    // Live sockets close first: they hold the HTTP server open, and hear nothing more of the calls ending then.
    closers.add('live gateway', () => gateway.close());

    const sipPort = telephony.stack.transports[0]?.port ?? config.sipPort;
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.httpPort;
    const host = config.httpHost === '0.0.0.0' || config.httpHost === '::' ? '127.0.0.1' : config.httpHost;
    const url = `${https ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
    logger.info({ url, sipPort, database: core.database.kind, location: core.database.location }, 'server:listening');
    let closing: Promise<void> | undefined;
    return {
      ...core,
      app,
      telephony,
      media,
      recordings,
      contactCenter,
      gateway,
      sipPort,
      url,
      port,
      close() {
        closing ??= closers.close().then((failures) => {
          // Each failure is logged with its part already; the stop still says it failed.
          if (failures.length === 1) throw failures[0];
          if (failures.length > 1) throw new AggregateError(failures, `${failures.length} parts of the server failed to close`);
          logger.info('server:stopped');
        });
        return closing;
      },
    };
  } catch (err) {
    await closers.close();
    throw err;
  }
}
