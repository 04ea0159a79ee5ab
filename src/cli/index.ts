/**
 * The `pbx` command: `start`, `migrate`, `admin create --email E --password P`, `doctor`, `dead-letters`. Every setting may be
 * given as an environment variable or as its flag (`--http-port 8080`).
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ConfigError, type Config, flagName, loadConfig, parseFlags, settings } from '../config/index.ts';
import { WEB_DIST } from '../api/web-app.ts';
import { openDatabase, WriteJournal } from '../db/index.ts';
import { NgClient, rtpengineVersion } from '../media/index.ts';
import { freeUdpPort } from '../net/ports.ts';
import { PbxError } from '../errors/index.ts';
import { createLogger, openCore, packageVersion, startServer } from '../server.ts';

const USAGE = `Usage: pbx <command> [flags]

Commands:
  start                                   run the server (the default)
  migrate                                 apply database migrations and exit
  admin create --email E --password P [--name N]
                                          create an administrator in the system tenant
  doctor                                  check the database, ports and optional parts
  dead-letters [--replay]                 list the changes the database rejected as invalid; with --replay,
                                          have the next start write them again
  help                                    show this text

Flags (each also an environment variable):
${settings.map((s) => `  ${(flagName(s.env) + ' <value>').padEnd(40)}${s.env}`).join('\n')}
`;

function takeOption(args: string[], name: string): string | undefined {
  const i = args.findIndex((a) => a === name || a.startsWith(name + '='));
  if (i < 0) return undefined;
  const arg = args[i] as string;
  if (arg.includes('=')) {
    args.splice(i, 1);
    return arg.slice(name.length + 1);
  }
  const value = args[i + 1];
  args.splice(i, 2);
  return value;
}

async function start(config: Config): Promise<void> {
  const server = await startServer(config);
  console.log(`Switchboard ${packageVersion()} listening on ${server.url} (API docs at ${server.url}/docs)`);
  const stop = (signal: string) => {
    server.logger.info({ signal }, 'server:shutting down');
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        server.logger.error({ err }, 'server:shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

async function migrate(config: Config): Promise<void> {
  const db = config.databaseUrl ? await openDatabase({ url: config.databaseUrl }) : await openDatabase({ dataDir: config.dataDir });
  try {
    await db.migrate();
    console.log(`Migrations applied (${db.kind}: ${db.location})`);
  } finally {
    await db.close();
  }
}

async function adminCreate(config: Config, args: string[]): Promise<void> {
  const email = takeOption(args, '--email');
  const password = takeOption(args, '--password');
  const name = takeOption(args, '--name') ?? 'Administrator';
  if (!email || !password) throw new UsageError('admin create needs --email and --password');
  if (password.length < 8) throw new UsageError('--password must be at least 8 characters');
  const core = await openCore(config, createLogger({ logLevel: 'warn' }));
  try {
    const { user } = await core.directory.users.create(core.systemTenant, { name, email, password, role: 'ADMIN', withExtension: false });
    console.log(`Administrator ${user.email} created in tenant ${core.systemTenant.name} (${core.systemTenant.domain})`);
  } finally {
    await core.close();
  }
}

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port }, () => srv.close(() => resolve(true)));
  });
}

function udpPortFree(host: string, port: number): Promise<boolean> {
  return freeUdpPort(host, port).then(() => true, () => false);
}

/** Prints what this machine offers Switchboard; exits non-zero when something the server needs is wrong. */
async function doctor(config: Config): Promise<boolean> {
  let ok = true;
  const line = (status: 'ok' | 'warn' | 'fail' | 'info', what: string, detail: string) => {
    if (status === 'fail') ok = false;
    console.log(`${status.toUpperCase().padEnd(5)} ${what.padEnd(22)} ${detail}`);
  };
  console.log(`Switchboard ${packageVersion()} on Node.js ${process.version}`);
  try {
    const db = config.databaseUrl ? await openDatabase({ url: config.databaseUrl, poolSize: 1 }) : await openDatabase({ dataDir: config.dataDir });
    try {
      await db.ping();
      line('ok', 'database', `${db.kind === 'pglite' ? 'embedded PGlite' : 'PostgreSQL'} at ${db.location}`);
    } finally {
      await db.close();
    }
  } catch (err) {
    line('fail', 'database', (err as Error).message);
  }
  const httpFree = await portFree(config.httpHost, config.httpPort);
  line(httpFree ? 'ok' : 'warn', 'HTTP port', `${config.httpHost}:${config.httpPort} ${httpFree ? 'is free' : 'is in use (a running server?)'}`);
  const sipFree = (await portFree(config.sipHost, config.sipPort)) && (await udpPortFree(config.sipHost, config.sipPort));
  line(sipFree ? 'ok' : 'warn', 'SIP port', `${config.sipHost}:${config.sipPort} UDP+TCP ${sipFree ? 'is free' : 'is in use (a running server, or another SIP server)'}`);
  const built = fs.existsSync(path.join(WEB_DIST, 'index.html'));
  line(built ? 'ok' : 'warn', 'web app', built ? `built; open http${config.httpTlsCert ? 's' : ''}://<this host>:${config.httpPort}/pbx/login` : 'not built: run npm run build:web (npm ci does it)');
  line(
    config.httpTlsCert ? 'ok' : 'info',
    'HTTPS',
    config.httpTlsCert
      ? `on (${config.httpTlsCert}); softphones use wss://<this host>:${config.httpPort}/sip`
      : 'off: browsers allow the softphone a microphone only on localhost; set PBX_HTTP_TLS_CERT and PBX_HTTP_TLS_KEY for agents on other machines',
  );
  line('info', 'SIP domain', `${config.domain} (default tenant; set on first start)`);
  line('info', 'phones', `register as <extension>@${config.domain} to this host, port ${config.sipPort}, UDP or TCP, with the extension's secret`);
  line('info', 'extension range', `${config.extensionRange.start}-${config.extensionRange.end}`);
  line('info', 'JWT secret', config.jwtSecret ? 'from PBX_JWT_SECRET' : `kept in ${config.dataDir}/jwt-secret`);
  const mode = config.rtpengine;
  const direct = 'calls will use direct media: no music on hold, no browser-to-phone audio';
  if (mode === 'off') line('info', 'media', `PBX_RTPENGINE=off: ${direct}`);
  else if (mode === 'auto') {
    const rtpengine = rtpengineVersion();
    line(rtpengine ? 'ok' : 'warn', 'media', rtpengine ? `${rtpengine}, run by the server on UDP ports ${config.rtpPorts.start}-${config.rtpPorts.end}` : `rtpengine is not installed (Debian rtpengine-daemon): ${direct}`);
  } else {
    const client = await NgClient.connect({ host: mode.host, port: mode.port, retryMs: 300, attempts: 3 });
    const pong = await client.ping();
    client.close();
    line(pong ? 'ok' : 'fail', 'media', `rtpengine at ${mode.host}:${mode.port} ${pong ? 'answers ping' : 'does not answer ping: the server will not start'}`);
  }
  return ok;
}

class UsageError extends Error {}

/** The changes the database rejected as invalid (see `db/write-journal.ts`), and their replay. */
function deadLetters(config: Config, args: string[]): void {
  const journal = new WriteJournal(path.join(config.dataDir, 'write-journal'));
  const letters = journal.deadLetters();
  if (args.includes('--replay')) {
    const moved = journal.replayDeadLetters();
    console.log(`${moved} changes will be written again at the next start.`);
    return;
  }
  if (letters.size === 0) {
    console.log('No dead letters.');
    return;
  }
  for (const [name, list] of letters) {
    console.log(`${name}: ${list.length} in ${journal.deadLetterFile(name)}`);
    for (const l of list.slice(-20)) console.log(`  ${l.at} ${l.code ?? '-'} ${l.error} (key ${l.key})`);
  }
}

export async function main(argv: string[]): Promise<number> {
  let args: string[];
  let config: Config;
  try {
    const parsed = parseFlags(argv);
    args = parsed.rest;
    const command = args[0] ?? 'start';
    if (command === 'help' || command === '--help' || command === '-h') {
      console.log(USAGE);
      return 0;
    }
    if (command === '--version' || command === 'version') {
      console.log(packageVersion());
      return 0;
    }
    config = loadConfig(process.env, parsed.values);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      return 2;
    }
    throw err;
  }
  const [command = 'start', ...rest] = args;
  try {
    switch (command) {
      case 'start':
        await start(config);
        return -1; // keeps running
      case 'migrate':
        await migrate(config);
        return 0;
      case 'admin':
        if (rest[0] !== 'create') throw new UsageError('Usage: pbx admin create --email E --password P [--name N]');
        await adminCreate(config, rest.slice(1));
        return 0;
      case 'doctor':
        return (await doctor(config)) ? 0 : 1;
      case 'dead-letters':
        deadLetters(config, rest);
        return 0;
      default:
        throw new UsageError(`Unknown command '${command}'.\n\n${USAGE}`);
    }
  } catch (err) {
    if (err instanceof UsageError || err instanceof PbxError) {
      console.error(err.message);
      return 2;
    }
    console.error(`pbx ${command}: ${(err as Error).message}`);
    return 1;
  }
}
