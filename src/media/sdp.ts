/**
 * Reading the media descriptions (SDP, rfc4566) that SIP messages carry, as the engine needs them: whether a body is
 * SDP, what it says about holding, and a description kept to be offered again later.
 */

/** A media description a party gave, as it gave it. */
export interface StoredSdp {
  body: Buffer;
  type: string;
}

/** Any message with a body and a Content-Type (a SIP request or response). */
export interface WithBody {
  body: Buffer;
  headers: { get(name: string): string | undefined };
}

export function isSdp(contentType: string | undefined, body: Buffer): boolean {
  return body.length > 0 && (contentType ?? '').split(';')[0]?.trim().toLowerCase() === 'application/sdp';
}

/** The SDP a message carries, if it carries one. */
export function sdpOf(message: WithBody | undefined): StoredSdp | undefined {
  const type = message?.headers.get('Content-Type');
  return message && isSdp(type, message.body) ? { body: message.body, type: type as string } : undefined;
}

/** An SDP that puts the other side on hold: sendonly or inactive (session or media level), or the old c=0.0.0.0. */
export function sdpHolds(sdp: string): boolean {
  return /^a=(sendonly|inactive)\s*$/m.test(sdp) || /^c=IN IP4 0\.0\.0\.0\s*$/m.test(sdp);
}

/**
 * `sdp` without telephone-event (rfc4733#section-7.1.1): its payload types leave each m= line, with their rtpmap,
 * fmtp and rtcp-fb lines. A media section that offers nothing else keeps it (it would be left without formats).
 * For a party that takes DTMF only as tones: a relay that does not know the party takes events sends it tones.
 */
export function withoutTelephoneEvent(sdp: string): string {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const lines = sdp.split(/\r?\n/);
  const starts = lines.flatMap((l, i) => (l.startsWith('m=') ? [i] : []));
  const out = lines.slice(0, starts[0] ?? lines.length);
  for (const [n, start] of starts.entries()) {
    const section = lines.slice(start, starts[n + 1] ?? lines.length);
    const events = new Set(section.flatMap((l) => /^a=rtpmap:(\d+)\s+telephone-event\//i.exec(l)?.[1] ?? []));
    // m=<media> <port> <proto> <fmt> ...
    const [media = '', port = '', proto = '', ...formats] = (section[0] ?? '').trim().split(/\s+/);
    const kept = formats.filter((pt) => !events.has(pt));
    if (events.size === 0 || kept.length === 0) {
      out.push(...section);
      continue;
    }
    out.push([media, port, proto, ...kept].join(' '));
    out.push(...section.slice(1).filter((l) => !events.has(/^a=(?:rtpmap|fmtp|rtcp-fb):(\d+)\s/.exec(l)?.[1] ?? '')));
  }
  return out.join(eol);
}
