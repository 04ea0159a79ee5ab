/**
 * Configuration: every setting is an environment variable and the same as a command-line flag
 * (`PBX_HTTP_PORT` is `--http-port`, `DATABASE_URL` is `--database-url`); a flag wins over the environment.
 * Values are validated at start: a bad one stops the start with a message that names the variable.
 * The README's configuration table is checked against {@link settings} by a test.
 */
import path from 'node:path';

export interface ExtensionRange {
  start: number;
  end: number;
}

export interface Config {
  httpPort: number;
  httpHost: string;
  /** PEM files that turn HTTPS (and so WSS for SIP over WebSocket) on. */
  httpTlsCert: string | undefined;
  httpTlsKey: string | undefined;
  dataDir: string;
  databaseUrl: string | undefined;
  domain: string;
  extensionRange: ExtensionRange;
  jwtSecret: string | undefined;
  jwtTtlSeconds: number;
  adminEmail: string | undefined;
  adminPassword: string | undefined;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  loginMaxFailures: number;
  loginWindowSeconds: number;
  trustProxy: boolean;
  sipHost: string;
  sipPort: number;
  sipAuthMaxFailures: number;
  sipAuthWindowSeconds: number;
  sipBanSeconds: number;
  sipDigestAlgorithms: Array<'MD5' | 'SHA-256'>;
  sipSubscribeMinExpires: number;
  sipSubscribeMaxExpires: number;
  sipSubscriptionsPerExtension: number;
  sipTlsPort: number;
  sipTlsCert: string | undefined;
  sipTlsKey: string | undefined;
  sipPublicHost: string | undefined;
  sipMessageTimeoutSeconds: number;
  sipMaxConnectionsPerAddress: number;
  rtpengine: RtpEngineMode;
  rtpPorts: { start: number; end: number };
  holdMusic: string | undefined;
  recordingKey: Buffer | undefined;
  recordingOldKeys: Buffer[];
  /** Seconds without a packet from any party of a call through the relay before it is ended; 0 never. */
  mediaTimeoutSeconds: number;
  /** The session interval asked for and granted (RFC 4028); 0 turns session timers off. */
  sessionExpiresSeconds: number;
  /** The smallest session interval accepted (Min-SE); below it an INVITE is answered 422. */
  minSessionExpiresSeconds: number;
  /** Seconds between in-dialog OPTIONS to each party of an answered call; 0 never. */
  optionsProbeSeconds: number;
}

export type RtpEngineMode = 'auto' | 'off' | { host: string; port: number };

type Parser<T> = (raw: string) => T;

export interface Setting<K extends keyof Config = keyof Config> {
  key: K;
  env: string;
  description: string;
  /** The default as the README shows it; undefined means "not set". */
  defaultText: string | undefined;
  parse: Parser<Config[K]>;
  fallback: () => Config[K];
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}

class BadValue extends Error {}

function integer(min: number, max: number): Parser<number> {
  return (raw) => {
    if (!/^\d+$/.test(raw.trim())) throw new BadValue(`must be a whole number from ${min} to ${max}`);
    const n = Number(raw);
    if (n < min || n > max) throw new BadValue(`must be a whole number from ${min} to ${max}`);
    return n;
  };
}

const text: Parser<string> = (raw) => {
  if (raw.trim() === '') throw new BadValue('must not be empty');
  return raw.trim();
};

const boolean: Parser<boolean> = (raw) => {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new BadValue('must be true or false');
};

// A SIP domain: a host name (RFC 3261 hostname) or an IPv4 address.
const domain: Parser<string> = (raw) => {
  const v = raw.trim().toLowerCase();
  if (!/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(v)) {
    throw new BadValue('must be a host name such as pbx.example.com');
  }
  return v;
};

export const extensionRangeParser: Parser<ExtensionRange> = (raw) => {
  const m = /^\s*(\d{2,9})\s*-\s*(\d{2,9})\s*$/.exec(raw);
  if (!m) throw new BadValue('must be two numbers like 1000-1999');
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (start > end) throw new BadValue('must start at or below its end');
  if (end - start > 99_999) throw new BadValue('must hold at most 100000 numbers');
  return { start, end };
};

const email: Parser<string | undefined> = (raw) => {
  const v = raw.trim().toLowerCase();
  if (v === '') return undefined;
  if (!/^[^\s@]+@[^\s@]+$/.test(v)) throw new BadValue('must be an email address');
  return v;
};

const password: Parser<string | undefined> = (raw) => {
  if (raw === '') return undefined;
  if (raw.length < 8) throw new BadValue('must be at least 8 characters');
  return raw;
};

const secret: Parser<string | undefined> = (raw) => {
  if (raw === '') return undefined;
  if (raw.length < 32) throw new BadValue('must be at least 32 characters');
  return raw;
};

const databaseUrl: Parser<string | undefined> = (raw) => {
  const v = raw.trim();
  if (v === '') return undefined;
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new BadValue('must be a URL like postgres://user:password@host:5432/db');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new BadValue('must be a postgres:// or postgresql:// URL');
  }
  return v;
};

const digestAlgorithms: Parser<Array<'MD5' | 'SHA-256'>> = (raw) => {
  const list = raw.split(',').map((a) => a.trim().toUpperCase()).filter((a) => a !== '');
  if (list.length === 0 || !list.every((a) => a === 'MD5' || a === 'SHA-256') || new Set(list).size !== list.length) {
    throw new BadValue('must be MD5, SHA-256, or both in the order to offer them, comma-separated');
  }
  return list as Array<'MD5' | 'SHA-256'>;
};

const optionalPath: Parser<string | undefined> = (raw) => (raw.trim() === '' ? undefined : path.resolve(raw.trim()));

const optionalHost: Parser<string | undefined> = (raw) => {
  const v = raw.trim();
  if (v === '') return undefined;
  if (!/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)$/.test(v)) throw new BadValue('must be a host name or an IP address');
  return v;
};

const rtpengineMode: Parser<RtpEngineMode> = (raw) => {
  const v = raw.trim();
  if (v.toLowerCase() === 'auto' || v.toLowerCase() === 'off') return v.toLowerCase() as 'auto' | 'off';
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(v);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new BadValue('must be auto, off, or the host:port of an rtpengine ng listener');
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port: Number(m[2]) };
};

const portRange: Parser<{ start: number; end: number }> = (raw) => {
  const m = /^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$/.exec(raw);
  const start = Number(m?.[1]);
  const end = Number(m?.[2]);
  if (!m || start < 1024 || end > 65535 || end - start < 20) throw new BadValue('must be two ports like 30000-39999, from 1024 to 65535, at least 20 apart');
  return { start, end };
};

/** A 256-bit key: 64 hex digits, or base64 of 32 bytes. */
function parseKey(raw: string): Buffer {
  const v = raw.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(v) ? Buffer.from(v, 'hex') : Buffer.from(v, 'base64');
  if (key.length !== 32 || (!/^[0-9a-fA-F]{64}$/.test(v) && key.toString('base64').replace(/=+$/, '') !== v.replace(/=+$/, ''))) {
    throw new BadValue('must be a 256-bit key: 64 hex digits or the base64 of 32 bytes (openssl rand -hex 32)');
  }
  return key;
}

const optionalKey: Parser<Buffer | undefined> = (raw) => (raw.trim() === '' ? undefined : parseKey(raw));
const keyList: Parser<Buffer[]> = (raw) => raw.split(',').map((k) => k.trim()).filter((k) => k !== '').map(parseKey);

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const logLevel: Parser<Config['logLevel']> = (raw) => {
  const v = raw.trim().toLowerCase();
  if (!(logLevels as readonly string[]).includes(v)) throw new BadValue(`must be one of ${logLevels.join(', ')}`);
  return v as Config['logLevel'];
};

function setting<K extends keyof Config>(s: Setting<K>): Setting<K> {
  return s;
}

export const settings = [
  setting({ key: 'httpPort', env: 'PBX_HTTP_PORT', description: 'HTTP port for the API, /docs, Socket.io and SIP over WebSocket', defaultText: '8080', parse: integer(0, 65535), fallback: () => 8080 }),
  setting({ key: 'httpTlsCert', env: 'PBX_HTTP_TLS_CERT', description: 'PEM certificate (chain) file for HTTPS; with PBX_HTTP_TLS_KEY the web app, API, Socket.io and SIP over WebSocket (WSS) are served over TLS. Browsers allow the microphone only on HTTPS (or localhost)', defaultText: undefined, parse: optionalPath, fallback: () => undefined }),
  setting({ key: 'httpTlsKey', env: 'PBX_HTTP_TLS_KEY', description: 'PEM private key file for HTTPS', defaultText: undefined, parse: optionalPath, fallback: () => undefined }),
  setting({ key: 'httpHost', env: 'PBX_HTTP_HOST', description: 'Address the HTTP server binds to', defaultText: '0.0.0.0', parse: text, fallback: () => '0.0.0.0' }),
  setting({ key: 'dataDir', env: 'PBX_DATA_DIR', description: 'Where the embedded database, the generated JWT secret and other state are kept', defaultText: './data', parse: text, fallback: () => './data' }),
  setting({ key: 'databaseUrl', env: 'DATABASE_URL', description: 'A PostgreSQL server to use instead of the embedded database', defaultText: undefined, parse: databaseUrl, fallback: () => undefined }),
  setting({ key: 'domain', env: 'PBX_DOMAIN', description: 'SIP domain (and digest realm) of the default tenant, set on its first start', defaultText: 'pbx.local', parse: domain, fallback: () => 'pbx.local' }),
  setting({ key: 'extensionRange', env: 'PBX_EXTENSION_RANGE', description: 'Extension numbers given to new users of the default tenant, lowest free first', defaultText: '1000-1999', parse: extensionRangeParser, fallback: () => ({ start: 1000, end: 1999 }) }),
  setting({ key: 'jwtSecret', env: 'PBX_JWT_SECRET', description: 'Secret that signs access tokens (32+ characters); generated once into the data directory when absent', defaultText: undefined, parse: secret, fallback: () => undefined }),
  setting({ key: 'jwtTtlSeconds', env: 'PBX_JWT_TTL', description: 'Lifetime of an access token, in seconds', defaultText: '43200', parse: integer(60, 30 * 24 * 3600), fallback: () => 43200 }),
  setting({ key: 'adminEmail', env: 'PBX_ADMIN_EMAIL', description: 'Email of the first administrator, created on a first start', defaultText: 'admin@<PBX_DOMAIN>', parse: email, fallback: () => undefined }),
  setting({ key: 'adminPassword', env: 'PBX_ADMIN_PASSWORD', description: 'Password of the first administrator (8+ characters); generated and printed once when absent', defaultText: undefined, parse: password, fallback: () => undefined }),
  setting({ key: 'logLevel', env: 'PBX_LOG_LEVEL', description: 'Log level: fatal, error, warn, info, debug, trace or silent', defaultText: 'info', parse: logLevel, fallback: () => 'info' }),
  setting({ key: 'loginMaxFailures', env: 'PBX_LOGIN_MAX_FAILURES', description: 'Failed logins allowed per account from one address within the window before that address gets 429 for it; an address gets three times as many across accounts, and an account past this many failures is slowed (1 s doubling to 8 s between attempts), never locked', defaultText: '10', parse: integer(1, 10_000), fallback: () => 10 }),
  setting({ key: 'loginWindowSeconds', env: 'PBX_LOGIN_WINDOW', description: 'The window, in seconds, over which failed logins are counted', defaultText: '900', parse: integer(1, 86_400), fallback: () => 900 }),
  setting({ key: 'trustProxy', env: 'PBX_TRUST_PROXY', description: 'Trust X-Forwarded-For from a reverse proxy for client addresses', defaultText: 'false', parse: boolean, fallback: () => false }),
  setting({ key: 'sipHost', env: 'PBX_SIP_HOST', description: 'Address the SIP transports (UDP and TCP) bind to', defaultText: '0.0.0.0', parse: text, fallback: () => '0.0.0.0' }),
  setting({ key: 'sipPort', env: 'PBX_SIP_PORT', description: 'SIP port, UDP and TCP (0 picks a free one)', defaultText: '5060', parse: integer(0, 65535), fallback: () => 5060 }),
  setting({ key: 'sipAuthMaxFailures', env: 'PBX_SIP_AUTH_MAX_FAILURES', description: 'Failed SIP authentications from one address within the window before it is banned', defaultText: '20', parse: integer(1, 100_000), fallback: () => 20 }),
  setting({ key: 'sipAuthWindowSeconds', env: 'PBX_SIP_AUTH_WINDOW', description: 'The window, in seconds, over which failed SIP authentications are counted', defaultText: '60', parse: integer(1, 86_400), fallback: () => 60 }),
  setting({ key: 'sipBanSeconds', env: 'PBX_SIP_BAN', description: 'How long, in seconds, a banned address is refused and then ignored', defaultText: '600', parse: integer(1, 7 * 86_400), fallback: () => 600 }),
  setting({ key: 'sipDigestAlgorithms', env: 'PBX_SIP_DIGEST_ALGORITHMS', description: 'Digest algorithms offered in challenges, in order', defaultText: 'MD5', parse: digestAlgorithms, fallback: () => ['MD5'] }),
  setting({ key: 'sipSubscribeMinExpires', env: 'PBX_SIP_SUBSCRIBE_MIN_EXPIRES', description: 'Shortest dialog subscription (busy-lamp key) accepted, in seconds; shorter is answered 423', defaultText: '60', parse: integer(1, 86_400), fallback: () => 60 }),
  setting({ key: 'sipSubscribeMaxExpires', env: 'PBX_SIP_SUBSCRIBE_MAX_EXPIRES', description: 'Longest dialog subscription granted, in seconds; longer is shortened', defaultText: '3600', parse: integer(1, 86_400), fallback: () => 3600 }),
  setting({ key: 'sipSubscriptionsPerExtension', env: 'PBX_SIP_SUBSCRIPTIONS_PER_EXTENSION', description: 'Dialog subscriptions one extension may hold at once', defaultText: '50', parse: integer(1, 10_000), fallback: () => 50 }),
  setting({ key: 'sipTlsPort', env: 'PBX_SIP_TLS_PORT', description: 'SIP over TLS port, used when a certificate is set (0 picks a free one)', defaultText: '5061', parse: integer(0, 65535), fallback: () => 5061 }),
  setting({ key: 'sipTlsCert', env: 'PBX_SIP_TLS_CERT', description: 'PEM certificate (chain) file for SIP over TLS; with PBX_SIP_TLS_KEY it turns TLS on', defaultText: undefined, parse: optionalPath, fallback: () => undefined }),
  setting({ key: 'sipTlsKey', env: 'PBX_SIP_TLS_KEY', description: 'PEM private key file for SIP over TLS', defaultText: undefined, parse: optionalPath, fallback: () => undefined }),
  setting({ key: 'sipMessageTimeoutSeconds', env: 'PBX_SIP_MESSAGE_TIMEOUT', description: 'Seconds a TCP, TLS or WebSocket connection has to complete its first SIP message after opening, and each later one after its first byte, before it is closed (CRLF keepalives are no message)', defaultText: '30', parse: integer(1, 3600), fallback: () => 30 }),
  setting({ key: 'sipMaxConnectionsPerAddress', env: 'PBX_SIP_MAX_CONNECTIONS_PER_ADDRESS', description: 'TCP, TLS or WebSocket connections open at once from one address, on each transport; more are closed at once', defaultText: '500', parse: integer(1, 100_000), fallback: () => 500 }),
  setting({ key: 'rtpengine', env: 'PBX_RTPENGINE', description: 'Media relay: auto (run rtpengine when installed), off (direct media), or host:port of an external rtpengine', defaultText: 'auto', parse: rtpengineMode, fallback: () => 'auto' }),
  setting({ key: 'rtpPorts', env: 'PBX_RTP_PORTS', description: 'UDP port range rtpengine relays media on, when the server runs it', defaultText: '30000-39999', parse: portRange, fallback: () => ({ start: 30000, end: 39999 }) }),
  setting({ key: 'holdMusic', env: 'PBX_HOLD_MUSIC', description: 'Audio file (WAV, MP3, anything ffmpeg reads) played to a party on hold; a generated tune when unset', defaultText: undefined, parse: optionalPath, fallback: () => undefined }),
  setting({ key: 'recordingKey', env: 'PBX_RECORDING_KEY', description: 'AES-256 key that encrypts call recordings (64 hex digits); generated once into the data directory when absent', defaultText: undefined, parse: optionalKey, fallback: () => undefined }),
  setting({ key: 'recordingOldKeys', env: 'PBX_RECORDING_OLD_KEYS', description: 'Earlier recording keys, comma-separated, still used to read older recordings after a rotation', defaultText: undefined, parse: keyList, fallback: () => [] }),
  setting({ key: 'mediaTimeoutSeconds', env: 'PBX_MEDIA_TIMEOUT', description: 'Seconds in which the relay received no packet (RTP or RTCP) from any party of a call before the call is ended (cause media-timeout); 0 never. Needs the relay', defaultText: '60', parse: integer(0, 86_400), fallback: () => 60 }),
  setting({ key: 'sessionExpiresSeconds', env: 'PBX_SESSION_EXPIRES', description: 'Session timer interval (RFC 4028) asked of and granted to the parties, in seconds; a session not refreshed in time is ended (cause session-timer-expired); 0 turns session timers off', defaultText: '1800', parse: integer(0, 86_400), fallback: () => 1800 }),
  setting({ key: 'minSessionExpiresSeconds', env: 'PBX_MIN_SE', description: 'Smallest session interval accepted (Min-SE); an INVITE asking for less is answered 422. RFC 4028 says 90 or more; smaller values are for tests', defaultText: '90', parse: integer(1, 86_400), fallback: () => 90 }),
  setting({ key: 'optionsProbeSeconds', env: 'PBX_OPTIONS_PROBE', description: 'Seconds between in-dialog OPTIONS sent to each party of an answered call; a 408, a 481 or no answer ends the call (cause probe-failed); 0 never', defaultText: '60', parse: integer(0, 86_400), fallback: () => 60 }),
  setting({ key: 'sipPublicHost', env: 'PBX_SIP_PUBLIC_HOST', description: 'Address to advertise in Via and Contact when it differs from the bound one (a server behind NAT)', defaultText: undefined, parse: optionalHost, fallback: () => undefined }),
] as const;

/** `PBX_HTTP_PORT` → `--http-port`; `DATABASE_URL` → `--database-url`. */
export function flagName(env: string): string {
  return '--' + env.replace(/^PBX_/, '').toLowerCase().replace(/_/g, '-');
}

/**
 * Reads `--name value` and `--name=value` pairs that name a setting; returns them by environment variable name
 * and the arguments that are not settings.
 */
export function parseFlags(argv: readonly string[]): { values: Record<string, string>; rest: string[] } {
  const byFlag = new Map(settings.map((s) => [flagName(s.env), s.env]));
  const values: Record<string, string> = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const env = byFlag.get(name);
    if (!env) {
      rest.push(arg);
      continue;
    }
    if (eq > 0) {
      values[env] = arg.slice(eq + 1);
    } else {
      const next = argv[i + 1];
      if (next === undefined) throw new ConfigError([`${name} (${env}): needs a value`]);
      values[env] = next;
      i++;
    }
  }
  return { values, rest };
}

/** Builds the configuration from the environment and flags, reporting every bad value at once. */
export function loadConfig(env: Record<string, string | undefined> = process.env, flags: Record<string, string> = {}): Config {
  const problems: string[] = [];
  const out: Partial<Record<keyof Config, unknown>> = {};
  for (const s of settings) {
    const raw = flags[s.env] ?? env[s.env];
    if (raw === undefined) {
      out[s.key] = s.fallback();
      continue;
    }
    try {
      out[s.key] = (s.parse as Parser<unknown>)(raw);
    } catch (err) {
      if (!(err instanceof BadValue)) throw err;
      const shown = /SECRET|PASSWORD|DATABASE_URL/.test(s.env) ? '' : ` (got '${raw}')`;
      problems.push(`${s.env}: ${err.message}${shown}`);
    }
  }
  if (problems.length === 0 && (out.sipTlsCert === undefined) !== (out.sipTlsKey === undefined)) {
    problems.push('PBX_SIP_TLS_CERT and PBX_SIP_TLS_KEY: set both to turn SIP over TLS on, or neither');
  }
  if (problems.length === 0 && (out.httpTlsCert === undefined) !== (out.httpTlsKey === undefined)) {
    problems.push('PBX_HTTP_TLS_CERT and PBX_HTTP_TLS_KEY: set both to turn HTTPS on, or neither');
  }
  if (problems.length === 0 && (out.sessionExpiresSeconds as number) > 0 && (out.sessionExpiresSeconds as number) < (out.minSessionExpiresSeconds as number)) {
    problems.push('PBX_SESSION_EXPIRES: must be 0 (off) or at least PBX_MIN_SE');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const config = out as Config;
  config.dataDir = path.resolve(config.dataDir);
  return config;
}
