/**
 * Digest authentication for SIP, client side (rfc3261#section-22.2, rfc3261#section-22.3, RFC 7616, RFC 8760): read
 * the challenges of a 401 (WWW-Authenticate) or 407 (Proxy-Authenticate), pick the strongest one we can answer, and
 * compute the Authorization or Proxy-Authorization value for the request that is sent again.
 *
 * Algorithms: MD5, SHA-256 and SHA-512-256 and their `-sess` forms (RFC 8760 brings RFC 7616's algorithms to SIP).
 * When a response offers several challenges, the strongest hash wins: rfc8760#section-2.4 has a UAC take the topmost
 * one it supports unless its local policy says otherwise, and ours is the strongest, because a server that lists
 * MD5 first for the sake of old phones would otherwise downgrade us too. Quality of protection: `auth` when offered,
 * `auth-int` (the body hashed in) only when `auth` is not; a challenge without qop is answered the RFC 2069 way.
 *
 * The nonce-count rises by one for each request answered with the same nonce (rfc7616#section-3.4); the cnonce is
 * drawn once per nonce, as the `-sess` algorithms need (their session key is made of the first cnonce).
 *
 * When not to try again (rfc7616#section-3.3, `stale`): a request that already carried our credentials for a realm
 * and is challenged again for that realm without `stale=true` had them refused: the password is wrong, and sending
 * it again would only loop. With `stale=true` the password was right and the nonce too old: answer the new one.
 */
import { createHash, randomBytes } from 'node:crypto';
import { formatUri, readQuotedString, SipRequest, type SipResponse, SipSyntaxError } from '../message/index.ts';

/** The algorithms we answer, strongest first (RFC 7616 section 3.2, RFC 8760 section 2). */
export const DIGEST_CLIENT_ALGORITHMS = ['SHA-512-256', 'SHA-512-256-sess', 'SHA-256', 'SHA-256-sess', 'MD5', 'MD5-sess'] as const;
export type DigestClientAlgorithm = (typeof DIGEST_CLIENT_ALGORITHMS)[number];

const NODE_HASH: Record<string, string> = { MD5: 'md5', 'SHA-256': 'sha256', 'SHA-512-256': 'sha512-256' };

/** One Digest challenge, as a WWW-Authenticate or Proxy-Authenticate field gives it (rfc7616#section-3.3). */
export interface DigestChallenge {
  scheme: 'Digest';
  realm: string;
  nonce: string;
  opaque: string | undefined;
  algorithm: DigestClientAlgorithm;
  /** The qop values offered (`auth`, `auth-int`); empty: the RFC 2069 form, without cnonce and nonce-count. */
  qop: string[];
  /** The previous credentials were right but their nonce too old: answer again without asking for a password. */
  stale: boolean;
  /** rfc7616#section-3.4.4: the username is sent hashed with the realm. */
  userhash: boolean;
  /** From a 407's Proxy-Authenticate: answered with Proxy-Authorization. */
  proxy: boolean;
}

/** `name=value` pairs of an auth header, values unquoted, names lower-cased; and what follows them (another challenge). */
function readAuthParams(text: string): { params: Map<string, string>; rest: string } {
  const params = new Map<string, string>();
  let rest = text;
  for (;;) {
    rest = rest.replace(/^[\s,]*/, '');
    // A token followed by white space and another token is the next challenge's scheme, not a parameter.
    const nm = /^([A-Za-z0-9_-]+)\s*=\s*/.exec(rest);
    if (!nm) return { params, rest };
    rest = rest.slice(nm[0].length);
    let value: string;
    if (rest.startsWith('"')) {
      const q = readQuotedString(rest);
      value = q.value;
      rest = q.rest;
    } else {
      const m = /^[^\s,]*/.exec(rest) as RegExpExecArray;
      value = m[0];
      rest = rest.slice(value.length);
    }
    params.set((nm[1] as string).toLowerCase(), value);
  }
}

function canonicalAlgorithm(raw: string | undefined): DigestClientAlgorithm | undefined {
  const wanted = (raw ?? 'MD5').toUpperCase();
  return DIGEST_CLIENT_ALGORITHMS.find((a) => a.toUpperCase() === wanted);
}

function challengeOf(params: Map<string, string>, proxy: boolean): DigestChallenge {
  const realm = params.get('realm');
  const nonce = params.get('nonce');
  if (realm === undefined) throw new SipSyntaxError('Digest challenge lacks realm');
  if (nonce === undefined) throw new SipSyntaxError('Digest challenge lacks nonce');
  const algorithm = canonicalAlgorithm(params.get('algorithm'));
  if (!algorithm) throw new SipSyntaxError(`unsupported digest algorithm ${params.get('algorithm')}`);
  return {
    scheme: 'Digest',
    realm,
    nonce,
    opaque: params.get('opaque'),
    algorithm,
    qop: (params.get('qop') ?? '').split(',').map((q) => q.trim().toLowerCase()).filter((q) => q !== ''),
    stale: params.get('stale')?.toLowerCase() === 'true',
    userhash: params.get('userhash')?.toLowerCase() === 'true',
    proxy,
  };
}

/**
 * Every challenge of one header field value, in order. A field holds one challenge in SIP (rfc3261#section-20.44),
 * but HTTP lets several share a field separated by commas, and some servers do it. A non-Digest challenge or one we
 * cannot answer (unknown algorithm, no realm or nonce) is left out.
 */
export function parseDigestChallenges(headerValue: string, proxy = false): DigestChallenge[] {
  const out: DigestChallenge[] = [];
  let rest = headerValue;
  for (;;) {
    rest = rest.replace(/^[\s,]*/, '');
    const scheme = /^([A-Za-z0-9_-]+)(?:\s+|$)/.exec(rest);
    if (!scheme) return out;
    const read = readAuthParams(rest.slice(scheme[0].length));
    rest = read.rest;
    if ((scheme[1] as string).toLowerCase() !== 'digest') continue;
    try {
      out.push(challengeOf(read.params, proxy));
    } catch (err) {
      if (!(err instanceof SipSyntaxError)) throw err;
    }
  }
}

/** The one Digest challenge of a WWW-Authenticate or Proxy-Authenticate value; throws {@link SipSyntaxError} if it has none we can answer. */
export function parseDigestChallenge(headerValue: string, proxy = false): DigestChallenge {
  const m = /^\s*Digest\s+/i.exec(headerValue);
  if (!m) throw new SipSyntaxError('not a Digest challenge');
  return challengeOf(readAuthParams(headerValue.slice(m[0].length)).params, proxy);
}

/** The qop we answer a challenge with: auth, else auth-int, undefined for none (RFC 2069), null when we support none offered. */
function qopFor(challenge: DigestChallenge): 'auth' | 'auth-int' | undefined | null {
  if (challenge.qop.length === 0) return undefined;
  if (challenge.qop.includes('auth')) return 'auth';
  if (challenge.qop.includes('auth-int')) return 'auth-int';
  return null;
}

const strength = (a: DigestClientAlgorithm) => DIGEST_CLIENT_ALGORITHMS.length - DIGEST_CLIENT_ALGORITHMS.indexOf(a);

/**
 * The challenge to answer in a 401 (its WWW-Authenticate fields) or a 407 (its Proxy-Authenticate fields): the
 * strongest algorithm we support (SHA-512-256 over SHA-256 over MD5), the server's order breaking ties. Undefined
 * when the response is neither or offers nothing we can answer.
 */
export function chooseChallenge(response: SipResponse): DigestChallenge | undefined {
  const proxy = response.status === 407;
  if (response.status !== 401 && !proxy) return undefined;
  const challenges = response.headers
    .getAll(proxy ? 'Proxy-Authenticate' : 'WWW-Authenticate')
    .flatMap((value) => {
      try {
        return parseDigestChallenges(value, proxy);
      } catch (err) {
        if (err instanceof SipSyntaxError) return [];
        throw err;
      }
    })
    .filter((c) => qopFor(c) !== null);
  let best: DigestChallenge | undefined;
  for (const c of challenges) if (!best || strength(c.algorithm) > strength(best.algorithm)) best = c;
  return best;
}

/** What a Digest answer is computed from. */
export interface DigestAnswerInput {
  method: string;
  /** The digest-uri: for SIP, the Request-URI as sent (rfc3261#section-22.4). */
  uri: string;
  username: string;
  password: string;
  /** The body, hashed in for qop=auth-int. */
  body?: Buffer;
  cnonce: string;
  /** The nonce-count, from 1. */
  nc: number;
}

function quoted(value: string): string {
  return `"${value.replace(/(["\\])/g, '\\$1')}"`;
}

/**
 * The Authorization (or Proxy-Authorization) value answering `challenge` (rfc7616#section-3.4, rfc3261#section-22.4):
 *
 *   HA1 = H(username:realm:password), or for -sess H(H(username:realm:password):nonce:cnonce)
 *   HA2 = H(method:uri), or for auth-int H(method:uri:H(body))
 *   response = H(HA1:nonce:nc:cnonce:qop:HA2), or without qop H(HA1:nonce:HA2)
 */
export function digestAuthorization(challenge: DigestChallenge, input: DigestAnswerInput): string {
  const base = challenge.algorithm.replace(/-sess$/i, '');
  const H = (text: string | Buffer) => createHash(NODE_HASH[base] as string).update(text).digest('hex');
  const qop = qopFor(challenge);
  if (qop === null) throw new SipSyntaxError(`no supported qop in '${challenge.qop.join(',')}'`);
  let ha1 = H(`${input.username}:${challenge.realm}:${input.password}`);
  if (challenge.algorithm.endsWith('-sess')) ha1 = H(`${ha1}:${challenge.nonce}:${input.cnonce}`);
  const ha2 = qop === 'auth-int' ? H(`${input.method}:${input.uri}:${H(input.body ?? Buffer.alloc(0))}`) : H(`${input.method}:${input.uri}`);
  const nc = input.nc.toString(16).padStart(8, '0');
  const response = qop === undefined ? H(`${ha1}:${challenge.nonce}:${ha2}`) : H([ha1, challenge.nonce, nc, input.cnonce, qop, ha2].join(':'));
  const username = challenge.userhash ? H(`${input.username}:${challenge.realm}`) : input.username;
  const parts = [
    `username=${quoted(username)}`,
    `realm=${quoted(challenge.realm)}`,
    `nonce=${quoted(challenge.nonce)}`,
    `uri=${quoted(input.uri)}`,
    `response=${quoted(response)}`,
    `algorithm=${challenge.algorithm}`,
  ];
  if (challenge.opaque !== undefined) parts.push(`opaque=${quoted(challenge.opaque)}`);
  if (qop !== undefined) parts.push(`qop=${qop}`, `nc=${nc}`, `cnonce=${quoted(input.cnonce)}`);
  if (challenge.userhash) parts.push('userhash=true');
  return `Digest ${parts.join(', ')}`;
}

/** The realm a credentials value names, if it is Digest. */
function realmOfCredentials(value: string): string | undefined {
  const m = /^\s*Digest\s+/i.exec(value);
  if (!m) return undefined;
  try {
    return readAuthParams(value.slice(m[0].length)).params.get('realm');
  } catch (err) {
    if (err instanceof SipSyntaxError) return undefined;
    throw err;
  }
}

/**
 * The request to send again with credentials (rfc3261#section-22.2, rfc3261#section-8.1.3.5): a copy of the request as
 * it was sent, with the CSeq one higher, no Via (the stack puts a new one, with a new branch, when it sends it: a new
 * transaction), and the credentials header; credentials it already carried for the same realm are replaced, those
 * for other realms (another proxy on the way) kept. Call-ID, From with its tag, To, Route and body are unchanged.
 */
export function authenticatedRetry(request: SipRequest, credentials: readonly [name: string, value: string]): SipRequest {
  const [name, value] = credentials;
  const headers = request.headers.clone();
  // A request we originate carries our Via only: the one the stack added when it sent it.
  headers.remove('Via');
  headers.set('CSeq', `${request.cseq.seq + 1} ${request.method}`);
  const realm = realmOfCredentials(value);
  const others = headers.getAll(name).filter((v) => realmOfCredentials(v) !== realm);
  headers.remove(name);
  for (const other of others) headers.add(name, other);
  headers.add(name, value);
  return new SipRequest(request.method, request.uri, headers, request.body);
}

export interface DigestClientOptions {
  /** Draws a cnonce (tests fix it; RFC 7616 section 3.9.1's examples use a known one). */
  cnonce?: () => string;
}

/** How many nonces' counts are remembered: a registration uses one at a time, a few calls a handful. */
const REMEMBERED_NONCES = 32;

/**
 * Answers challenges with one username and password. It remembers, per nonce, the nonce-count used last and the
 * cnonce, so that each request answered on the same nonce counts one up (a server that keeps its nonce for a while
 * and checks the count refuses a repeated one as a replay).
 */
export class DigestClient {
  private readonly nonces = new Map<string, { nc: number; cnonce: string }>();
  private readonly cnonce: () => string;

  constructor(
    private readonly credentials: { username: string; password: string },
    options: DigestClientOptions = {},
  ) {
    this.cnonce = options.cnonce ?? (() => randomBytes(12).toString('base64url'));
  }

  /**
   * The credentials header (`Authorization` for a 401, `Proxy-Authorization` for a 407) answering `response` to
   * `request`, or undefined when the request should not be sent again: nothing we can answer, or our credentials
   * for that realm were already in the request and the challenge is not `stale` (a wrong password).
   */
  authorize(request: SipRequest, response: SipResponse): [name: string, value: string] | undefined {
    const challenge = chooseChallenge(response);
    if (!challenge) return undefined;
    const name = challenge.proxy ? 'Proxy-Authorization' : 'Authorization';
    const alreadySent = request.headers.getAll(name).some((v) => realmOfCredentials(v) === challenge.realm);
    if (alreadySent && !challenge.stale) return undefined;
    let state = this.nonces.get(challenge.nonce);
    if (state) {
      state.nc++;
    } else {
      state = { nc: 1, cnonce: this.cnonce() };
      this.nonces.set(challenge.nonce, state);
      if (this.nonces.size > REMEMBERED_NONCES) this.nonces.delete(this.nonces.keys().next().value as string);
    }
    const value = digestAuthorization(challenge, {
      method: request.method,
      uri: formatUri(request.uri),
      username: this.credentials.username,
      password: this.credentials.password,
      body: request.body,
      cnonce: state.cnonce,
      nc: state.nc,
    });
    return [name, value];
  }

  /** The request to send again for `response` ({@link authenticatedRetry}), or undefined when it should not be (see {@link authorize}). */
  retry(request: SipRequest, response: SipResponse): SipRequest | undefined {
    const credentials = this.authorize(request, response);
    return credentials ? authenticatedRetry(request, credentials) : undefined;
  }
}
