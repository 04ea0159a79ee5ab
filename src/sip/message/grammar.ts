/**
 * The pieces of RFC 3261 section 25's grammar that header values are made of: tokens, quoted strings, generic
 * parameters, name-addr / addr-spec, Via and CSeq. Values reach these functions unfolded (a line fold is one space), so
 * linear white space may still be any run of spaces and tabs. Errors are {@link SipSyntaxError}s saying what was wrong.
 */
import { parseHostPort, parseUri, type Uri, UriError } from './uri.ts';

export class SipSyntaxError extends Error {
  override readonly name = 'SipSyntaxError';
}

export const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

export type Params = Map<string, string | null>;

/**
 * Splits a header value at top-level occurrences of `sep`: not inside a quoted string, nor inside `<...>`.
 * An unterminated quoted string is an error (RFC 4475 quotbal).
 */
export function splitTopLevel(value: string, sep: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let inQuotes = false;
  let inAngle = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (inQuotes) {
      if (c === '\\') i++;
      else if (c === '"') inQuotes = false;
    } else if (c === '"') inQuotes = true;
    else if (c === '<') inAngle = true;
    else if (c === '>') inAngle = false;
    else if (c === sep && !inAngle) {
      parts.push(value.slice(start, i));
      start = i + 1;
    }
  }
  if (inQuotes) throw new SipSyntaxError('unterminated quoted string');
  parts.push(value.slice(start));
  return parts;
}

/** Reads a quoted string starting at `text[0] === '"'`; answers its unescaped content and what follows. */
export function readQuotedString(text: string): { value: string; rest: string } {
  let out = '';
  for (let i = 1; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '\\') {
      const next = text[i + 1];
      if (next === undefined || next === '\r' || next === '\n') throw new SipSyntaxError('bad quoted pair');
      out += next;
      i++;
    } else if (c === '"') {
      return { value: out, rest: text.slice(i + 1) };
    } else {
      out += c;
    }
  }
  throw new SipSyntaxError('unterminated quoted string');
}

/**
 * Generic parameters: `;name[=value]` repeated, with optional white space around `;` and `=`. A value is a token, a
 * quoted string (kept with its quotes) or a host (IPv6 in brackets). An empty parameter (`;;`) is an error.
 */
export function parseParams(text: string): Params {
  const params: Params = new Map();
  const trimmed = text.trim();
  if (trimmed === '') return params;
  if (!trimmed.startsWith(';')) throw new SipSyntaxError(`unexpected '${trimmed.slice(0, 20)}' before parameters`);
  for (const raw of splitTopLevel(trimmed.slice(1), ';')) {
    const eq = raw.indexOf('=');
    const name = (eq < 0 ? raw : raw.slice(0, eq)).trim();
    if (!TOKEN.test(name)) throw new SipSyntaxError(name === '' ? 'empty parameter' : `invalid parameter name '${name}'`);
    let value: string | null = null;
    if (eq >= 0) {
      value = raw.slice(eq + 1).trim();
      if (value.startsWith('"')) {
        const q = readQuotedString(value);
        if (q.rest.trim() !== '') throw new SipSyntaxError(`text after quoted parameter '${name}'`);
      } else if (!TOKEN.test(value) && !/^\[[0-9A-Fa-f:.]+\]$/.test(value)) {
        throw new SipSyntaxError(`invalid value for parameter '${name}'`);
      }
    }
    params.set(name.toLowerCase(), value);
  }
  return params;
}

export function formatParams(params: Params): string {
  let out = '';
  for (const [name, value] of params) out += value === null ? `;${name}` : `;${name}=${value}`;
  return out;
}

/** A From, To, Contact, Route or Record-Route value. */
export interface NameAddr {
  displayName: string | undefined;
  uri: Uri;
  /** The URI as written (between the angle brackets, if any). */
  uriText: string;
  params: Params;
}

function asSyntax<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof UriError) throw new SipSyntaxError(err.message);
    throw err;
  }
}

/**
 * `[display-name] <URI> *(;param)` or `addr-spec *(;param)` (RFC 3261 section 20.10). A bare addr-spec may not hold
 * `,`, `?` or `;` (those need angle brackets, RFC 4475 regbadct); nothing but the URI may stand between the
 * angle brackets (badaspec); an unquoted display name is tokens only (baddn).
 */
export function parseNameAddr(value: string): NameAddr {
  let text = value.trim();
  let displayName: string | undefined;
  if (text.startsWith('"')) {
    const q = readQuotedString(text);
    displayName = q.value;
    text = q.rest.trimStart();
    if (!text.startsWith('<')) throw new SipSyntaxError('a quoted display name must be followed by <URI>');
  }
  const lt = text.indexOf('<');
  if (lt >= 0) {
    const name = text.slice(0, lt).trim();
    if (name !== '') {
      if (!name.split(/\s+/).every((word) => TOKEN.test(word))) throw new SipSyntaxError(`invalid display name '${name}'`);
      displayName = name;
    }
    const gt = text.indexOf('>', lt);
    if (gt < 0) throw new SipSyntaxError('missing >');
    const uriText = text.slice(lt + 1, gt);
    const uri = asSyntax(() => parseUri(uriText));
    return { displayName, uri, uriText, params: parseParams(text.slice(gt + 1)) };
  }
  const semi = text.indexOf(';');
  const uriText = (semi < 0 ? text : text.slice(0, semi)).trim();
  if (/[,?]/.test(uriText)) throw new SipSyntaxError('a URI with , ? or ; must be enclosed in <>');
  if (/\s/.test(uriText)) throw new SipSyntaxError(`invalid address '${uriText}'`);
  const uri = asSyntax(() => parseUri(uriText));
  return { displayName, uri, uriText, params: parseParams(semi < 0 ? '' : text.slice(semi)) };
}

export function formatNameAddr(na: Pick<NameAddr, 'displayName' | 'uriText' | 'params'>): string {
  const name = na.displayName === undefined ? '' : `"${na.displayName.replace(/(["\\])/g, '\\$1')}" `;
  return `${name}<${na.uriText}>${formatParams(na.params)}`;
}

export interface Via {
  /** Upper-cased: UDP, TCP, TLS, WS, WSS, SCTP... */
  transport: string;
  host: string;
  port: number | undefined;
  params: Params;
  branch: string | undefined;
}

const SENT_PROTOCOL = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s+(.*)$/is;

/** One via-parm (RFC 3261 section 20.42): `SIP/2.0/UDP host:port;branch=...`, white space allowed around `/`. */
export function parseVia(value: string): Via {
  const m = SENT_PROTOCOL.exec(value.trim());
  if (!m) throw new SipSyntaxError(`invalid Via '${value.trim().slice(0, 60)}'`);
  const rest = m[2] as string;
  const semi = rest.indexOf(';');
  const sentBy = (semi < 0 ? rest : rest.slice(0, semi)).trim().replace(/\s*:\s*/, ':');
  const { host, port } = asSyntax(() => parseHostPort(sentBy));
  const params = parseParams(semi < 0 ? '' : rest.slice(semi));
  const branch = params.get('branch');
  return { transport: (m[1] as string).toUpperCase(), host, port, params, branch: branch ?? undefined };
}

export function formatVia(via: Via): string {
  return `SIP/2.0/${via.transport} ${via.host}${via.port === undefined ? '' : `:${via.port}`}${formatParams(via.params)}`;
}

/** Every via-parm of a Via header value; an empty element (`,,`) is an error. */
export function parseVias(value: string): Via[] {
  return splitTopLevel(value, ',').map((part) => {
    if (part.trim() === '') throw new SipSyntaxError('empty Via element');
    return parseVia(part);
  });
}

export interface CSeq {
  seq: number;
  method: string;
}

/** `CSeq: 1*DIGIT LWS Method`, the number below 2**31 (RFC 3261 section 8.1.1.5; RFC 4475 scalar02). */
export function parseCSeq(value: string): CSeq {
  const m = /^(\d{1,10})\s+([A-Za-z0-9\-.!%*_+`'~]+)$/.exec(value.trim());
  if (!m) throw new SipSyntaxError(`invalid CSeq '${value.trim().slice(0, 40)}'`);
  const seq = Number(m[1]);
  if (seq > 0x7fffffff) throw new SipSyntaxError('CSeq number out of range');
  return { seq, method: m[2] as string };
}

/** A non-negative decimal no larger than `max`. */
export function parseDecimal(value: string, max: number, what: string): number {
  const v = value.trim();
  if (!/^\d{1,10}$/.test(v)) throw new SipSyntaxError(`invalid ${what} '${v.slice(0, 20)}'`);
  const n = Number(v);
  if (n > max) throw new SipSyntaxError(`${what} out of range`);
  return n;
}
