/**
 * The Replaces header (rfc3891): names a dialog by its Call-ID and tags, for a new INVITE, or for a REFER whose
 * Refer-To carries it as a URI header (an attended transfer, rfc5589#section-7).
 */
import { isSipUri, parseUri } from '../message/index.ts';

export interface Replaces {
  callId: string;
  /** rfc3891#section-3: the tags as seen by the party the header is sent to, to-tag being that party's own. */
  toTag: string;
  fromTag: string;
  earlyOnly: boolean;
}

/** `callid *(;replaces-param)` (rfc3891#section-6.1); undefined when the Call-ID or either tag is missing. */
export function parseReplaces(value: string): Replaces | undefined {
  const [callId, ...params] = value.split(';').map((p) => p.trim());
  if (!callId || /\s/.test(callId)) return undefined;
  let toTag: string | undefined;
  let fromTag: string | undefined;
  let earlyOnly = false;
  for (const param of params) {
    const eq = param.indexOf('=');
    const name = (eq < 0 ? param : param.slice(0, eq)).trim().toLowerCase();
    const v = eq < 0 ? '' : param.slice(eq + 1).trim();
    if (name === 'to-tag') toTag = v;
    else if (name === 'from-tag') fromTag = v;
    else if (name === 'early-only') earlyOnly = true;
  }
  if (!toTag || !fromTag) return undefined;
  return { callId, toTag, fromTag, earlyOnly };
}

/**
 * The Replaces a Refer-To URI carries as a header (`<sip:bob@example.com?Replaces=id%3Bto-tag%3Da%3Bfrom-tag%3Db>`):
 * `absent` when it carries none, `invalid` when one is there but unreadable.
 */
export function replacesOfReferTo(referTo: string): Replaces | 'absent' | 'invalid' {
  const raw = /<([^>]*)>/.exec(referTo)?.[1] ?? referTo.split(';')[0]?.trim() ?? '';
  if (!/[?&]replaces=/i.test(raw)) return 'absent';
  let value: string | undefined;
  try {
    const uri = parseUri(raw);
    value = isSipUri(uri) ? uri.headers.find(([name]) => name.toLowerCase() === 'replaces')?.[1] : undefined;
  } catch {
    value = /[?&]replaces=([^&]*)/i.exec(raw)?.[1];
  }
  if (value === undefined) return 'invalid';
  let decoded: string;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    return 'invalid';
  }
  return parseReplaces(decoded) ?? 'invalid';
}
