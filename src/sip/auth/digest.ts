/**
 * Digest authentication for SIP, server side (RFC 3261 section 22, RFC 7616, RFC 8760): challenges with SHA-256 and
 * MD5 and qop=auth, and checks of a request's credentials against a stored HA1.
 *
 * Nonces carry their own birth time and an HMAC, so any node holding the secret can check them without state; an
 * expired one is answered stale=true (the client retries with the same password, no prompt). Replays are refused by
 * remembering the highest nonce-count seen per nonce (RFC 7616 section 3.4): a repeated or lower nc fails.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readQuotedString, SipSyntaxError } from '../message/grammar.ts';

export type DigestAlgorithm = 'MD5' | 'SHA-256';

export interface DigestCredentials {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  algorithm: DigestAlgorithm;
  qop: string | undefined;
  nc: string | undefined;
  cnonce: string | undefined;
  opaque: string | undefined;
}

export type DigestVerdict =
  | { ok: true; username: string }
  /** The nonce is ours but too old (or its count was replayed): challenge again with stale=true. */
  | { ok: false; stale: true }
  /** Wrong password, unknown user, foreign nonce: the credentials are refused. */
  | { ok: false; stale: false; reason: string };

function hash(algorithm: DigestAlgorithm, text: string): string {
  return createHash(algorithm === 'MD5' ? 'md5' : 'sha256').update(text).digest('hex');
}

/** Parses `Digest username="...", realm="...", ...` (RFC 7616 section 3.4). */
export function parseDigestCredentials(header: string): DigestCredentials {
  const m = /^\s*Digest\s+/i.exec(header);
  if (!m) throw new SipSyntaxError('not Digest credentials');
  const params = new Map<string, string>();
  let rest = header.slice(m[0].length);
  while (rest.trim() !== '') {
    const nm = /^\s*([A-Za-z0-9_-]+)\s*=\s*/.exec(rest);
    if (!nm) throw new SipSyntaxError('malformed Digest parameter');
    rest = rest.slice(nm[0].length);
    let value: string;
    if (rest.startsWith('"')) {
      const q = readQuotedString(rest);
      value = q.value;
      rest = q.rest;
    } else {
      const end = rest.search(/[\s,]/);
      value = end < 0 ? rest : rest.slice(0, end);
      rest = end < 0 ? '' : rest.slice(end);
    }
    params.set((nm[1] as string).toLowerCase(), value);
    rest = rest.replace(/^\s*,?/, '');
  }
  const need = (name: string) => {
    const v = params.get(name);
    if (v === undefined) throw new SipSyntaxError(`Digest credentials lack ${name}`);
    return v;
  };
  const algorithm = (params.get('algorithm') ?? 'MD5').toUpperCase();
  if (algorithm !== 'MD5' && algorithm !== 'SHA-256') throw new SipSyntaxError(`unsupported digest algorithm ${algorithm}`);
  return {
    username: need('username'),
    realm: need('realm'),
    nonce: need('nonce'),
    uri: need('uri'),
    response: need('response').toLowerCase(),
    algorithm,
    qop: params.get('qop'),
    nc: params.get('nc'),
    cnonce: params.get('cnonce'),
    opaque: params.get('opaque'),
  };
}

export interface DigestOptions {
  /** Signs nonces; share it between nodes that serve the same phones. */
  secret: Buffer;
  /** How long a nonce stays good, in milliseconds. */
  nonceLifetimeMs?: number;
  /**
   * The algorithms offered, one challenge each, in order. Clients disagree on which of several challenges they read
   * (sipp the first, JsSIP the last) and many speak MD5 only, so the safe default is MD5 alone.
   */
  algorithms?: readonly DigestAlgorithm[];
  now?: () => number;
}

export class DigestAuthenticator {
  private readonly secret: Buffer;
  private readonly lifetime: number;
  private readonly now: () => number;
  private readonly algorithms: readonly DigestAlgorithm[];
  /** Highest nonce-count seen per nonce, forgotten when the nonce expires. */
  private readonly counts = new Map<string, { nc: number; expires: number }>();
  private lastSweep = 0;

  constructor(options: DigestOptions) {
    this.secret = options.secret;
    this.lifetime = options.nonceLifetimeMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
    this.algorithms = options.algorithms ?? ['MD5'];
  }

  createNonce(): string {
    const body = Buffer.alloc(16);
    body.writeBigUInt64BE(BigInt(this.now()), 0);
    randomBytes(8).copy(body, 8);
    const mac = createHmac('sha256', this.secret).update(body).digest().subarray(0, 16);
    return Buffer.concat([body, mac]).toString('base64url');
  }

  /** 'fresh', 'stale' (ours, expired) or 'foreign' (not made with our secret). */
  private nonceState(nonce: string): { state: 'fresh' | 'stale' | 'foreign'; born: number } {
    const raw = Buffer.from(nonce, 'base64url');
    if (raw.length !== 32) return { state: 'foreign', born: 0 };
    const body = raw.subarray(0, 16);
    const mac = createHmac('sha256', this.secret).update(body).digest().subarray(0, 16);
    if (!timingSafeEqual(mac, raw.subarray(16))) return { state: 'foreign', born: 0 };
    const born = Number(body.readBigUInt64BE(0));
    return { state: this.now() - born > this.lifetime ? 'stale' : 'fresh', born };
  }

  /** The WWW-Authenticate (or Proxy-Authenticate) values for a challenge, one per algorithm, in the configured order. */
  challenge(realm: string, stale = false): string[] {
    const nonce = this.createNonce();
    const quotedRealm = realm.replace(/(["\\])/g, '\\$1');
    return this.algorithms.map(
      (algorithm) => `Digest realm="${quotedRealm}", nonce="${nonce}", algorithm=${algorithm}, qop="auth"${stale ? ', stale=true' : ''}`,
    );
  }

  /**
   * Checks credentials for `method` against the HA1 `lookupHa1` gives for their username and algorithm (undefined:
   * no such user; several, as an iterable: any of them may match, as when a user has a long-lived and a short-lived
   * password).
   * qop=auth is required; the realm must be the one expected.
   */
  verify(
    credentials: DigestCredentials,
    method: string,
    realm: string,
    ha1: (username: string, algorithm: DigestAlgorithm) => string | Iterable<string> | undefined,
  ): DigestVerdict {
    if (credentials.realm !== realm) return { ok: false, stale: false, reason: 'wrong realm' };
    const nonce = this.nonceState(credentials.nonce);
    if (nonce.state === 'foreign') return { ok: false, stale: true };
    if (credentials.qop !== 'auth' || !credentials.nc || !credentials.cnonce || !/^[0-9a-fA-F]{8}$/.test(credentials.nc)) {
      return { ok: false, stale: false, reason: 'qop=auth with nc and cnonce is required' };
    }
    const stored = ha1(credentials.username, credentials.algorithm);
    if (stored === undefined) return { ok: false, stale: false, reason: 'unknown user' };
    const ha2 = hash(credentials.algorithm, `${method}:${credentials.uri}`);
    const b = Buffer.from(credentials.response);
    const matches = (candidate: string) => {
      const a = Buffer.from(hash(credentials.algorithm, [candidate, credentials.nonce, credentials.nc, credentials.cnonce, credentials.qop, ha2].join(':')));
      return a.length === b.length && timingSafeEqual(a, b);
    };
    // Candidates are tried in order and may be made lazily (a generator): the usual one first, the rest only if needed.
    let matched = false;
    for (const candidate of typeof stored === 'string' ? [stored] : stored) {
      if (matches(candidate)) {
        matched = true;
        break;
      }
    }
    if (!matched) return { ok: false, stale: false, reason: 'wrong password' };
    // The password was right: an old nonce or a replayed count only asks for a fresh challenge.
    if (nonce.state === 'stale') return { ok: false, stale: true };
    const nc = parseInt(credentials.nc, 16);
    const seen = this.counts.get(credentials.nonce);
    if (seen && nc <= seen.nc) return { ok: false, stale: true };
    this.counts.set(credentials.nonce, { nc, expires: nonce.born + this.lifetime });
    this.forgetExpired();
    return { ok: true, username: credentials.username };
  }

  /** At most once a second: a sweep on every check would make each check cost as much as the whole table. */
  private forgetExpired(): void {
    const now = this.now();
    if (now - this.lastSweep < 1000) return;
    this.lastSweep = now;
    for (const [nonce, entry] of this.counts) if (entry.expires < now) this.counts.delete(nonce);
  }
}
