/**
 * SIP messages (RFC 3261 section 7): a request or a response, an ordered list of header fields and a body.
 * Header names are case-insensitive and have compact forms (section 7.3.3); both are folded to one canonical name,
 * so `v:`, `VIA:` and `Via:` are the same header. Typed views (Via, From, CSeq...) are parsed on demand and cached.
 */
import { type CSeq, type NameAddr, parseCSeq, parseNameAddr, parseVias, splitTopLevel, type Via } from './grammar.ts';
import { formatUri, type Uri } from './uri.ts';

const COMPACT: Record<string, string> = {
  i: 'Call-ID', m: 'Contact', e: 'Content-Encoding', l: 'Content-Length', c: 'Content-Type', f: 'From', s: 'Subject',
  k: 'Supported', t: 'To', v: 'Via', o: 'Event', r: 'Refer-To', b: 'Referred-By', u: 'Allow-Events', x: 'Session-Expires',
  a: 'Accept-Contact', j: 'Reject-Contact', d: 'Request-Disposition', y: 'Identity', n: 'Identity-Info',
};

const KNOWN = [
  'Via', 'From', 'To', 'Call-ID', 'CSeq', 'Contact', 'Max-Forwards', 'Content-Length', 'Content-Type', 'Route',
  'Record-Route', 'Expires', 'Min-Expires', 'Allow', 'Supported', 'Require', 'Proxy-Require', 'Unsupported',
  'User-Agent', 'Server', 'WWW-Authenticate', 'Authorization', 'Proxy-Authenticate', 'Proxy-Authorization',
  'Authentication-Info', 'Date', 'Subject', 'Accept', 'Event', 'Refer-To', 'Referred-By', 'Replaces', 'Timestamp',
  'Retry-After', 'Warning', 'Session-Expires', 'Min-SE', 'Content-Disposition', 'Content-Encoding', 'Allow-Events',
  'Path', 'RSeq', 'RAck', 'Reason', 'P-Asserted-Identity', 'Privacy', 'Organization', 'Priority', 'Call-Info',
  'Alert-Info', 'Error-Info', 'In-Reply-To', 'Reply-To', 'MIME-Version', 'Content-Language', 'Accept-Encoding',
  'Accept-Language', 'Subscription-State', 'Sec-WebSocket-Protocol',
];
const CANONICAL = new Map(KNOWN.map((n) => [n.toLowerCase(), n]));

/** The canonical spelling of a header name: compact forms expanded, known names in their RFC casing. */
export function canonicalHeaderName(name: string): string {
  const lower = name.toLowerCase();
  const full = COMPACT[lower];
  if (full) return full;
  return CANONICAL.get(lower) ?? name;
}

// Header lookups happen many times per message: the key of a name as written is computed once and remembered.
const keyCache = new Map<string, string>();

/** The case-folded canonical name headers are matched by. */
function headerKey(name: string): string {
  let key = keyCache.get(name);
  if (key === undefined) {
    key = canonicalHeaderName(name).toLowerCase();
    if (keyCache.size < 10_000) keyCache.set(name, key);
  }
  return key;
}

/** Headers whose values may be comma-separated lists (RFC 3261 section 7.3.1). */
const LIST_HEADERS = new Set(
  ['Via', 'Contact', 'Route', 'Record-Route', 'Allow', 'Supported', 'Require', 'Proxy-Require', 'Unsupported', 'Accept',
    'Accept-Encoding', 'Accept-Language', 'Allow-Events', 'Content-Encoding', 'Content-Language', 'In-Reply-To',
    'Alert-Info', 'Call-Info', 'Error-Info', 'Warning', 'Path', 'P-Asserted-Identity'].map((n) => n.toLowerCase()),
);

export class SipHeaders {
  private readonly list: Array<{ name: string; key: string; value: string }> = [];
  private readonly cache = new Map<string, unknown>();

  /** Every header field in order, names canonical. */
  entries(): ReadonlyArray<{ name: string; value: string }> {
    return this.list;
  }

  has(name: string): boolean {
    const key = headerKey(name);
    return this.list.some((h) => h.key === key);
  }

  /** The first field's value. */
  get(name: string): string | undefined {
    const key = headerKey(name);
    for (const h of this.list) if (h.key === key) return h.value;
    return undefined;
  }

  /** Every field's value, one entry per header line. */
  getAll(name: string): string[] {
    const key = headerKey(name);
    const out: string[] = [];
    for (const h of this.list) if (h.key === key) out.push(h.value);
    return out;
  }

  /** Every element of a list header, across all its lines (`Via: a, b` and `Via: c` give a, b, c). */
  values(name: string): string[] {
    const all = this.getAll(name);
    if (!LIST_HEADERS.has(headerKey(name))) return all;
    return all.flatMap((v) => splitTopLevel(v, ',').map((s) => s.trim()).filter((s) => s !== ''));
  }

  count(name: string): number {
    return this.getAll(name).length;
  }

  add(name: string, value: string): this {
    const key = headerKey(name);
    this.list.push({ name: canonicalHeaderName(name), key, value });
    this.cache.delete(key);
    return this;
  }

  /** Adds the field before every other field of the same name (Via, Record-Route). */
  prepend(name: string, value: string): this {
    const key = headerKey(name);
    const at = this.list.findIndex((h) => h.key === key);
    this.list.splice(at < 0 ? this.list.length : at, 0, { name: canonicalHeaderName(name), key, value });
    this.cache.delete(key);
    return this;
  }

  set(name: string, value: string): this {
    this.remove(name);
    return this.add(name, value);
  }

  remove(name: string): this {
    const key = headerKey(name);
    for (let i = this.list.length - 1; i >= 0; i--) if ((this.list[i] as { key: string }).key === key) this.list.splice(i, 1);
    this.cache.delete(key);
    return this;
  }

  /** Removes the first field's first list element (the top Via, the first Route). */
  removeFirstValue(name: string): this {
    const key = headerKey(name);
    const at = this.list.findIndex((h) => h.key === key);
    if (at < 0) return this;
    const entry = this.list[at] as { value: string };
    const parts = splitTopLevel(entry.value, ',');
    if (parts.length <= 1) this.list.splice(at, 1);
    else entry.value = parts.slice(1).join(',').trim();
    this.cache.delete(key);
    return this;
  }

  /** Parses once and caches until the header changes. */
  parsed<T>(name: string, parse: () => T): T {
    const key = headerKey(name);
    if (this.cache.has(key)) return this.cache.get(key) as T;
    const value = parse();
    this.cache.set(key, value);
    return value;
  }

  clone(): SipHeaders {
    const copy = new SipHeaders();
    for (const h of this.list) copy.list.push({ ...h });
    return copy;
  }
}

abstract class SipMessageBase {
  readonly headers: SipHeaders;
  body: Buffer;

  constructor(headers: SipHeaders, body: Buffer) {
    this.headers = headers;
    this.body = body;
  }

  get callId(): string {
    return this.headers.get('Call-ID') ?? '';
  }

  get cseq(): CSeq {
    return this.headers.parsed('CSeq', () => parseCSeq(this.headers.get('CSeq') ?? ''));
  }

  get from(): NameAddr {
    return this.headers.parsed('From', () => parseNameAddr(this.headers.get('From') ?? ''));
  }

  get to(): NameAddr {
    return this.headers.parsed('To', () => parseNameAddr(this.headers.get('To') ?? ''));
  }

  get vias(): Via[] {
    return this.headers.parsed('Via', () => this.headers.getAll('Via').flatMap(parseVias));
  }

  get topVia(): Via | undefined {
    return this.vias[0];
  }

  /** The Contact elements; `*` is reported as an empty list with {@link isWildcardContact}. */
  get contacts(): NameAddr[] {
    return this.headers.parsed('Contact', () => {
      const values = this.headers.values('Contact');
      if (values.length === 1 && values[0] === '*') return [];
      return values.map(parseNameAddr);
    });
  }

  get isWildcardContact(): boolean {
    const values = this.headers.values('Contact');
    return values.length === 1 && values[0] === '*';
  }

  protected serialize(startLine: string): Buffer {
    let head = startLine + '\r\n';
    for (const h of this.headers.entries()) {
      if (h.name === 'Content-Length') continue;
      head += `${h.name}: ${h.value}\r\n`;
    }
    head += `Content-Length: ${this.body.length}\r\n\r\n`;
    return this.body.length === 0 ? Buffer.from(head, 'utf8') : Buffer.concat([Buffer.from(head, 'utf8'), this.body]);
  }
}

export class SipRequest extends SipMessageBase {
  readonly kind = 'request' as const;
  method: string;
  uri: Uri;

  constructor(method: string, uri: Uri, headers = new SipHeaders(), body: Buffer = Buffer.alloc(0)) {
    super(headers, body);
    this.method = method;
    this.uri = uri;
  }

  toBuffer(): Buffer {
    return this.serialize(`${this.method} ${formatUri(this.uri)} SIP/2.0`);
  }

  override toString(): string {
    return this.toBuffer().toString('utf8');
  }
}

export class SipResponse extends SipMessageBase {
  readonly kind = 'response' as const;
  status: number;
  reason: string;

  constructor(status: number, reason: string, headers = new SipHeaders(), body: Buffer = Buffer.alloc(0)) {
    super(headers, body);
    this.status = status;
    this.reason = reason;
  }

  toBuffer(): Buffer {
    return this.serialize(`SIP/2.0 ${this.status} ${this.reason}`);
  }

  override toString(): string {
    return this.toBuffer().toString('utf8');
  }
}

export type SipMessage = SipRequest | SipResponse;

/** RFC 3261 section 21's reason phrases, for responses built without one. */
export const REASON_PHRASES: Record<number, string> = {
  100: 'Trying', 180: 'Ringing', 181: 'Call Is Being Forwarded', 182: 'Queued', 183: 'Session Progress',
  200: 'OK', 202: 'Accepted', 300: 'Multiple Choices', 301: 'Moved Permanently', 302: 'Moved Temporarily',
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  406: 'Not Acceptable', 407: 'Proxy Authentication Required', 408: 'Request Timeout', 410: 'Gone',
  413: 'Request Entity Too Large', 414: 'Request-URI Too Long', 415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme', 420: 'Bad Extension', 421: 'Extension Required', 423: 'Interval Too Brief',
  480: 'Temporarily Unavailable', 481: 'Call/Transaction Does Not Exist', 482: 'Loop Detected',
  483: 'Too Many Hops', 484: 'Address Incomplete', 485: 'Ambiguous', 486: 'Busy Here', 487: 'Request Terminated',
  488: 'Not Acceptable Here', 491: 'Request Pending', 500: 'Server Internal Error', 501: 'Not Implemented',
  502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Server Time-out', 505: 'Version Not Supported',
  513: 'Message Too Large', 600: 'Busy Everywhere', 603: 'Decline', 604: 'Does Not Exist Anywhere', 606: 'Not Acceptable',
};
