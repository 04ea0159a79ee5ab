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
