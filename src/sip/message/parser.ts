/**
 * Parsing SIP messages from the wire (RFC 3261 sections 7 and 18.3), for datagrams and for byte streams.
 *
 * A message that cannot be understood is reported, never thrown past the caller: a {@link ParseFailure} says why,
 * which status a request deserves (400, or 505 for another SIP version), and carries what was readable of the
 * request so a transport can still answer it. Responses that fail are simply dropped by their receivers.
 * Checks follow the RFC 4475 torture tests: exact request lines, single-valued headers not repeated, CSeq method
 * matching the request, scalar values in range, Content-Length matching the body.
 */
import { parseCSeq, parseDecimal, parseNameAddr, parseVias, SipSyntaxError } from './grammar.ts';
import { canonicalHeaderName, SipHeaders, type SipMessage, SipRequest, SipResponse } from './message.ts';
import { isSipUri, parseUri, UriError } from './uri.ts';

/** The largest message accepted, headers and body together. */
export const MAX_MESSAGE_SIZE = 64 * 1024;

export interface ParseFailure {
  ok: false;
  reason: string;
  /** The status a request deserves; undefined when the message is a response or no answer can be formed. */
  status: number | undefined;
  /** What was readable of a request: its method and raw headers, enough to form the answer. */
  partial: { method: string; headers: SipHeaders } | undefined;
}

export type ParseResult = { ok: true; message: SipMessage } | ParseFailure;

const METHOD = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
const SINGLE_VALUED = ['To', 'From', 'Call-ID', 'CSeq', 'Max-Forwards', 'Content-Length', 'Content-Type', 'Expires'];

function fail(reason: string, status: number | undefined, partial?: ParseFailure['partial']): ParseFailure {
  return { ok: false, reason, status, partial };
}

/** Splits the header section into the start line and unfolded header fields. */
function readHeaderSection(text: string): { startLine: string; headers: SipHeaders } | string {
  const lines = text.split(/\r?\n/);
  const startLine = lines[0] ?? '';
  const headers = new SipHeaders();
  let current: { name: string; value: string } | undefined;
  const flush = () => {
    if (current) headers.add(current.name, current.value.trim());
  };
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line === '') continue;
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (!current) return 'continuation line before any header';
      current.value += ' ' + line.trim();
      continue;
    }
    flush();
    const colon = line.indexOf(':');
    if (colon <= 0) return `header line without a name: '${line.slice(0, 40)}'`;
    const name = line.slice(0, colon).trimEnd();
    if (!METHOD.test(name)) return `invalid header name '${name.slice(0, 40)}'`;
    current = { name: canonicalHeaderName(name), value: line.slice(colon + 1) };
  }
  flush();
  return { startLine, headers };
}

/**
 * Parses one message whose header section is `head` (without the blank line) and whose body is `body`. Never
 * throws: whatever goes wrong inside is a failure to parse, for the caller to answer or drop.
 */
export function parseParts(head: string, body: Buffer): ParseResult {
  try {
    return parsePartsOrThrow(head, body);
  } catch (err) {
    return fail(`unparseable message (${err instanceof Error ? err.message : 'unknown error'})`, undefined);
  }
}

function parsePartsOrThrow(head: string, body: Buffer): ParseResult {
  const section = readHeaderSection(head);
  if (typeof section === 'string') return fail(section, undefined);
  const { startLine, headers } = section;

  if (startLine.startsWith('SIP/')) return parseResponse(startLine, headers, body);

  // Request-Line = Method SP Request-URI SP SIP-Version CRLF, single spaces exactly (RFC 4475 lwsstart, trws).
  const parts = startLine.split(' ');
  const method = parts[0] ?? '';
  const partial = METHOD.test(method) ? { method, headers } : undefined;
  if (parts.length !== 3 || !METHOD.test(method)) {
    return fail(`malformed request line '${startLine.slice(0, 80)}'`, partial ? 400 : undefined, partial);
  }
  const version = parts[2] as string;
  if (!/^SIP\/\d+\.\d+$/i.test(version)) return fail(`malformed request line '${startLine.slice(0, 80)}'`, 400, partial);
  if (version.toUpperCase() !== 'SIP/2.0') return fail(`SIP version ${version} is not supported`, 505, partial);
  let uri;
  try {
    uri = parseUri(parts[1] as string);
  } catch (err) {
    return fail(`invalid Request-URI: ${(err as Error).message}`, 400, partial);
  }
  if (isSipUri(uri) && uri.headers.length > 0) return fail('a Request-URI may not carry headers', 400, partial);

  const problem = checkCommonHeaders(headers, body) ?? checkRequestHeaders(method, headers);
  if (problem) return fail(problem, 400, partial);
  return { ok: true, message: new SipRequest(method, uri, headers, body) };
}

function parseResponse(startLine: string, headers: SipHeaders, body: Buffer): ParseResult {
  const m = /^SIP\/2\.0 ([1-6]\d\d)(?: (.*))?$/.exec(startLine);
  if (!m) return fail(`malformed status line '${startLine.slice(0, 80)}'`, undefined);
  const problem = checkCommonHeaders(headers, body);
  if (problem) return fail(problem, undefined);
  return { ok: true, message: new SipResponse(Number(m[1]), m[2] ?? '', headers, body) };
}

function check(f: () => unknown): string | undefined {
  try {
    f();
    return undefined;
  } catch (err) {
    if (err instanceof SipSyntaxError || err instanceof UriError) return err.message;
    throw err;
  }
}

function checkCommonHeaders(headers: SipHeaders, body: Buffer): string | undefined {
  // Every one that is missing, so that the 400 says all that is wrong (RFC 4475 insuf lacks three).
  const missing = ['Via', 'From', 'To', 'Call-ID', 'CSeq'].filter((name) => !headers.has(name));
  if (missing.length > 0) return `missing ${missing.join(', ')} header${missing.length > 1 ? 's' : ''}`;
  for (const name of SINGLE_VALUED) {
    if (headers.count(name) > 1) return `more than one ${name} header`;
  }
  const callId = headers.get('Call-ID') as string;
  if (callId === '' || /\s/.test(callId)) return 'invalid Call-ID';
  const contentLength = headers.get('Content-Length');
  if (contentLength !== undefined) {
    const problem = check(() => parseDecimal(contentLength, MAX_MESSAGE_SIZE, 'Content-Length'));
    if (problem) return problem;
    if (Number(contentLength.trim()) !== body.length) return 'Content-Length does not match the body';
  }
  return (
    check(() => parseCSeq(headers.get('CSeq') as string)) ??
    check(() => headers.getAll('Via').forEach(parseVias)) ??
    check(() => parseNameAddr(headers.get('From') as string)) ??
    check(() => parseNameAddr(headers.get('To') as string))
  );
}

function checkRequestHeaders(method: string, headers: SipHeaders): string | undefined {
  const cseq = parseCSeq(headers.get('CSeq') as string);
  if (cseq.method !== method) return `CSeq method ${cseq.method} does not match ${method}`;
  const maxForwards = headers.get('Max-Forwards');
  if (maxForwards !== undefined) {
    const problem = check(() => parseDecimal(maxForwards, 255, 'Max-Forwards'));
    if (problem) return problem;
  }
  const expires = headers.get('Expires');
  if (expires !== undefined) {
    const problem = check(() => parseDecimal(expires, 0xffffffff, 'Expires'));
    if (problem) return problem;
  }
  const date = headers.get('Date');
  // RFC 3261 section 20.17: rfc1123-date, and always GMT (RFC 4475 baddate).
  if (date !== undefined && !/^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(date.trim())) return 'invalid Date';
  for (const name of ['Route', 'Record-Route']) {
    const problem = check(() => headers.values(name).forEach(parseNameAddr));
    if (problem) return problem;
  }
  const problem = check(() => {
    const contacts = headers.values('Contact');
    if (!(contacts.length === 1 && contacts[0] === '*')) contacts.forEach(parseNameAddr);
  });
  return problem ? `invalid Contact: ${problem}` : undefined;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');

/**
 * A datagram holds one message (RFC 3261 section 18.3): the body is what follows the blank line, cut to the
 * Content-Length when that is smaller (RFC 4475 dblreq), an error when it is larger (clerr).
 */
export function parseDatagram(data: Buffer): ParseResult {
  if (data.length > MAX_MESSAGE_SIZE) return fail('message too large', undefined);
  const end = data.indexOf(CRLFCRLF);
  // A datagram that stops before the blank line is all headers and no body.
  const head = (end < 0 ? data : data.subarray(0, end)).toString('utf8').replace(/\r?\n$/, '');
  let body = end < 0 ? Buffer.alloc(0) : data.subarray(end + 4);
  const m = /\r\n(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)/i.exec(head);
  if (m) {
    const declared = (m[1] as string).trim();
    if (/^\d{1,10}$/.test(declared) && Number(declared) < body.length) body = body.subarray(0, Number(declared));
  }
  return parseParts(head, Buffer.from(body));
}

/**
 * Frames messages out of a byte stream (TCP, TLS) by Content-Length, which stream messages must carry. CRLFs between
 * messages are keepalives (RFC 5626 section 3.5.1) and are skipped. `onPing` hears a double-CRLF ping.
 */
export class StreamParser {
  private buffer: Buffer = Buffer.alloc(0);

  /** Adds bytes; answers every complete message (or failure) they finish. A failure ends the stream's usefulness. */
  push(chunk: Buffer, onPing?: () => void): ParseResult[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const out: ParseResult[] = [];
    for (;;) {
      let skip = 0;
      while (skip + 1 < this.buffer.length && this.buffer[skip] === 0x0d && this.buffer[skip + 1] === 0x0a) skip += 2;
      if (skip > 0) {
        if (skip >= 4 && onPing) onPing();
        this.buffer = this.buffer.subarray(skip);
      }
      if (this.buffer.length === 0) break;
      const end = this.buffer.indexOf(CRLFCRLF);
      if (end < 0) {
        if (this.buffer.length > MAX_MESSAGE_SIZE) out.push(fail('header section too large', undefined));
        break;
      }
      const head = this.buffer.subarray(0, end).toString('utf8');
      const m = /\r\n(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)/i.exec(head);
      const declared = m ? (m[1] as string).trim() : undefined;
      if (declared === undefined || !/^\d{1,10}$/.test(declared) || Number(declared) > MAX_MESSAGE_SIZE) {
        // Without a usable Content-Length the stream cannot be framed any further.
        const parsed = parseParts(head, Buffer.alloc(0));
        const reason = declared === undefined ? 'missing Content-Length on a stream transport' : 'invalid Content-Length';
        out.push(parsed.ok ? fail(reason, parsed.message.kind === 'request' ? 400 : undefined, parsed.message.kind === 'request' ? { method: parsed.message.method, headers: parsed.message.headers } : undefined) : { ...parsed, reason });
        this.buffer = Buffer.alloc(0);
        break;
      }
      const total = end + 4 + Number(declared);
      if (this.buffer.length < total) break;
      out.push(parseParts(head, Buffer.from(this.buffer.subarray(end + 4, total))));
      this.buffer = this.buffer.subarray(total);
    }
    return out;
  }

  get pending(): number {
    return this.buffer.length;
  }
}
