/**
 * SIP and SIPS URIs (RFC 3261 section 19.1) and, opaquely, any other absolute URI (tel:, urn:, ...).
 *
 *   sip:user:password@host:port;uri-parameters?headers
 *
 * The user part may hold `;`, `?` and `,` (RFC 4475 intmeth), but never a raw `@`, so the first `@` ends it.
 * Escapes (`%41`) are kept as written: comparison rules (section 19.1.4) are applied by {@link uriEquals}.
 */
export interface SipUri {
  scheme: 'sip' | 'sips';
  user: string | undefined;
  password: string | undefined;
  /** Host name, IPv4 address, or IPv6 reference with its brackets (`[2001:db8::1]`). Lower-cased. */
  host: string;
  port: number | undefined;
  /** Parameter names lower-cased; a parameter without value maps to null. */
  params: Map<string, string | null>;
  headers: Array<[string, string]>;
}

export interface OtherUri {
  scheme: string;
  /** Everything after `scheme:`. */
  opaque: string;
}

export type Uri = SipUri | OtherUri;

export class UriError extends Error {
  override readonly name = 'UriError';
}

export function isSipUri(uri: Uri): uri is SipUri {
  return uri.scheme === 'sip' || uri.scheme === 'sips';
}

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;
// RFC 3261 unreserved, escaped and the user/password/param/header extras; what a URI may hold outside its punctuation.
const USER = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+$/;
const PASSWORD = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,]|%[0-9A-Fa-f]{2})*$/;
const HOSTNAME = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.?$/;
const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^\[[0-9A-Fa-f:.]{2,45}\]$/;
const PARAM = /^(?:[A-Za-z0-9\-_.!~*'()[\]/:&+$]|%[0-9A-Fa-f]{2})+$/;
const HEADER = /^(?:[A-Za-z0-9\-_.!~*'()[\]/?:+$]|%[0-9A-Fa-f]{2})*$/;

export function isValidHost(host: string): boolean {
  return IPV4.test(host) || IPV6.test(host) || (HOSTNAME.test(host) && host.length <= 253);
}

/** Splits `host[:port]`, the port being 1 to 65535. */
export function parseHostPort(text: string): { host: string; port: number | undefined } {
  let host: string;
  let rest: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw new UriError('unterminated IPv6 reference');
    host = text.slice(0, close + 1);
    rest = text.slice(close + 1);
  } else {
    const colon = text.indexOf(':');
    host = colon < 0 ? text : text.slice(0, colon);
    rest = colon < 0 ? '' : text.slice(colon);
  }
  if (!isValidHost(host)) throw new UriError(`invalid host '${host}'`);
  let port: number | undefined;
  if (rest !== '') {
    if (!/^:\d{1,5}$/.test(rest)) throw new UriError(`invalid port in '${text}'`);
    port = Number(rest.slice(1));
    if (port < 1 || port > 65535) throw new UriError(`port ${port} out of range`);
  }
  return { host: host.toLowerCase(), port };
}

export function parseUri(text: string): Uri {
  const m = SCHEME.exec(text);
  if (!m) throw new UriError(`'${text.slice(0, 60)}' is not an absolute URI`);
  if (/[\s<>"]/.test(text)) throw new UriError('a URI may not hold spaces, quotes or angle brackets');
  const scheme = (m[1] as string).toLowerCase();
  const rest = text.slice(m[0].length);
  if (scheme !== 'sip' && scheme !== 'sips') {
    if (rest === '') throw new UriError(`empty ${scheme} URI`);
    return { scheme, opaque: rest };
  }
  let user: string | undefined;
  let password: string | undefined;
  let hostPart = rest;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    hostPart = rest.slice(at + 1);
    const colon = userinfo.indexOf(':');
    user = colon < 0 ? userinfo : userinfo.slice(0, colon);
    password = colon < 0 ? undefined : userinfo.slice(colon + 1);
    if (!USER.test(user)) throw new UriError(`invalid user part '${user}'`);
    if (password !== undefined && !PASSWORD.test(password)) throw new UriError('invalid password part');
  }
  const q = hostPart.indexOf('?');
  const headerText = q < 0 ? undefined : hostPart.slice(q + 1);
  const beforeHeaders = q < 0 ? hostPart : hostPart.slice(0, q);
  const semi = beforeHeaders.indexOf(';');
  const hostport = semi < 0 ? beforeHeaders : beforeHeaders.slice(0, semi);
  const { host, port } = parseHostPort(hostport);
  const params = new Map<string, string | null>();
  if (semi >= 0) {
    for (const p of beforeHeaders.slice(semi + 1).split(';')) {
      const eq = p.indexOf('=');
      const name = eq < 0 ? p : p.slice(0, eq);
      const value = eq < 0 ? null : p.slice(eq + 1);
      if (!PARAM.test(name) || (value !== null && !PARAM.test(value))) throw new UriError(`invalid URI parameter '${p}'`);
      params.set(name.toLowerCase(), value);
    }
  }
  const headers: Array<[string, string]> = [];
  if (headerText !== undefined) {
    for (const h of headerText.split('&')) {
      const eq = h.indexOf('=');
      if (eq <= 0) throw new UriError(`invalid URI header '${h}'`);
      const name = h.slice(0, eq);
      const value = h.slice(eq + 1);
      if (!HEADER.test(name) || !HEADER.test(value)) throw new UriError(`invalid URI header '${h}'`);
      headers.push([name, value]);
    }
  }
  return { scheme, user, password, host, port, params, headers };
}

export function formatUri(uri: Uri): string {
  if (!isSipUri(uri)) return `${uri.scheme}:${uri.opaque}`;
  let out = `${uri.scheme}:`;
  if (uri.user !== undefined) out += uri.password === undefined ? `${uri.user}@` : `${uri.user}:${uri.password}@`;
  out += uri.host;
  if (uri.port !== undefined) out += `:${uri.port}`;
  for (const [name, value] of uri.params) out += value === null ? `;${name}` : `;${name}=${value}`;
  if (uri.headers.length > 0) out += '?' + uri.headers.map(([n, v]) => `${n}=${v}`).join('&');
  return out;
}

function unescape(s: string): string {
  return s.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/**
 * RFC 3261 section 19.1.4: user, password and header parts compare case-sensitively after unescaping, host and
 * parameter names case-insensitively; a parameter present in both must match, and user, ttl, method and maddr
 * must match if present in either.
 */
export function uriEquals(a: Uri, b: Uri): boolean {
  if (!isSipUri(a) || !isSipUri(b)) return a.scheme === b.scheme && !isSipUri(a) && !isSipUri(b) && a.opaque === b.opaque;
  if (a.scheme !== b.scheme || a.host !== b.host || a.port !== b.port) return false;
  if (unescape(a.user ?? '') !== unescape(b.user ?? '') || unescape(a.password ?? '') !== unescape(b.password ?? '')) return false;
  for (const name of ['user', 'ttl', 'method', 'maddr', 'transport']) {
    const av = a.params.get(name);
    const bv = b.params.get(name);
    if ((av === undefined) !== (bv === undefined)) return false;
    if (av !== undefined && bv !== undefined && unescape(av ?? '').toLowerCase() !== unescape(bv ?? '').toLowerCase()) return false;
  }
  for (const [name, av] of a.params) {
    const bv = b.params.get(name);
    if (bv !== undefined && unescape(av ?? '').toLowerCase() !== unescape(bv ?? '').toLowerCase()) return false;
  }
  return true;
}
