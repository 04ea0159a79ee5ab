/**
 * Media descriptions for the side of a call that is the PBX itself, not a phone: what the relay sends there goes
 * nowhere (the relay plays music or ringback to the phone instead, and blocks what the phone sends). With them a
 * caller is answered before any party answers (it waits in a queue hearing music), and a click-to-call rings the
 * agent's own phone before the number it dials. Plain RTP, G.711 and telephone-event; the relay adapts them to
 * whatever the phone speaks.
 */
import { randomInt } from 'node:crypto';

const NOWHERE = '127.0.0.1';
/** The discard port: nothing listens there, and the relay sends nothing while the phone's audio is blocked. */
const DISCARD_PORT = 9;

function origin(): string[] {
  const id = randomInt(1, 2 ** 31);
  return ['v=0', `o=- ${id} ${id} IN IP4 ${NOWHERE}`, 's=-', `c=IN IP4 ${NOWHERE}`, 't=0 0'];
}

/** An offer of G.711 (PCMU, PCMA) and telephone-event. */
export function silentOffer(): string {
  return [...origin(), `m=audio ${DISCARD_PORT} RTP/AVP 0 8 101`, 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-16', 'a=sendrecv', ''].join('\r\n');
}

const DIRECTION_ANSWER: Record<string, string> = { sendrecv: 'sendrecv', sendonly: 'recvonly', recvonly: 'sendonly', inactive: 'inactive' };

/**
 * The answer to `offer`: each audio stream accepted with the offer's first codec (and telephone-event when offered),
 * in the direction that mirrors the offer's; every other stream refused (port 0), as rfc3264#section-6 asks.
 */
export function silentAnswer(offer: string): string {
  const lines = offer.split(/\r?\n/);
  const sessionDirection = lines.find((l, i) => i < firstMedia(lines) && /^a=(sendrecv|sendonly|recvonly|inactive)\s*$/.test(l))?.slice(2).trim();
  const out = origin();
  for (const [start, end] of mediaSections(lines)) {
    const section = lines.slice(start, end);
    const [media = 'audio', port = '0', proto = 'RTP/AVP', ...formats] = (section[0] ?? '').slice(2).trim().split(/\s+/);
    const rtpmaps = new Map<string, string>();
    for (const l of section) {
      const pt = /^a=rtpmap:(\d+)\s/.exec(l.trim())?.[1];
      if (pt) rtpmaps.set(pt, l.trim());
    }
    // Not a voice codec: DTMF events and comfort noise.
    const isEvent = (pt: string) => pt === '13' || /\s(telephone-event|CN)\//i.test(rtpmaps.get(pt) ?? '');
    // G.711 where offered (every phone speaks it), else the offer's first voice codec.
    const g711 = (pt: string) => pt === '0' || pt === '8' || /\s(PCMU|PCMA)\/8000/i.test(rtpmaps.get(pt) ?? '');
    const codec = formats.find((pt) => !isEvent(pt) && g711(pt)) ?? formats.find((pt) => !isEvent(pt));
    if (media !== 'audio' || port === '0' || codec === undefined) {
      out.push(`m=${media} 0 ${proto} ${formats[0] ?? '0'}`);
      continue;
    }
    const event = formats.find((pt) => /telephone-event\/8000/i.test(rtpmaps.get(pt) ?? ''));
    const chosen = event ? [codec, event] : [codec];
    out.push(`m=audio ${DISCARD_PORT} ${proto} ${chosen.join(' ')}`);
    for (const pt of chosen) {
      const rtpmap = rtpmaps.get(pt);
      if (rtpmap) out.push(rtpmap);
      for (const l of section) if (l.trim().startsWith(`a=fmtp:${pt} `)) out.push(l.trim());
    }
    const direction = section.find((l) => /^a=(sendrecv|sendonly|recvonly|inactive)\s*$/.test(l))?.slice(2).trim() ?? sessionDirection ?? 'sendrecv';
    out.push(`a=${DIRECTION_ANSWER[direction] ?? 'sendrecv'}`);
    if (section.some((l) => l.trim() === 'a=rtcp-mux')) out.push('a=rtcp-mux');
  }
  return [...out, ''].join('\r\n');
}

/**
 * `offer` with each stream's formats narrowed to those `answer` accepted (an answer numbers them as the offer did),
 * keeping only their rtpmap, fmtp and rtcp-fb lines. A stream the answer refused is left as it was.
 */
export function narrowOffer(offer: string, answer: string): string {
  const o = offer.split(/\r?\n/);
  const a = answer.split(/\r?\n/);
  const answered = mediaSections(a).map(([start]) => (a[start] ?? '').trim().split(/\s+/));
  const out = o.slice(0, firstMedia(o));
  for (const [k, [start, end]] of mediaSections(o).entries()) {
    const mline = (o[start] ?? '').trim().split(/\s+/);
    const accepted = answered[k];
    const kept = mline.slice(3).filter((pt) => accepted?.slice(3).includes(pt));
    if (!accepted || accepted[1] === '0' || kept.length === 0) {
      out.push(...o.slice(start, end));
      continue;
    }
    out.push([...mline.slice(0, 3), ...kept].join(' '));
    for (const line of o.slice(start + 1, end)) {
      const pt = /^a=(?:rtpmap|fmtp|rtcp-fb):(\d+)/.exec(line)?.[1];
      if (pt === undefined || kept.includes(pt)) out.push(line);
    }
  }
  return out.join('\r\n');
}

/** Whether a media description sends and receives (no stream, nor the session, says otherwise). */
export function sendsAndReceives(sdp: string): boolean {
  return !/^a=(sendonly|recvonly|inactive)\s*$/m.test(sdp) && !/^c=IN IP4 0\.0\.0\.0\s*$/m.test(sdp);
}

/** `sdp` sending and receiving again: its direction attributes (a hold's, or the answer to one) become sendrecv. */
export function sendingAndReceiving(sdp: string): string {
  return sdp.replace(/^a=(sendonly|recvonly|inactive)[ \t]*$/gm, 'a=sendrecv');
}

function firstMedia(lines: string[]): number {
  const i = lines.findIndex((l) => l.startsWith('m='));
  return i === -1 ? lines.length : i;
}

/** [start, end) of each m= section. */
function mediaSections(lines: string[]): Array<[number, number]> {
  const starts = lines.flatMap((l, i) => (l.startsWith('m=') ? [i] : []));
  return starts.map((s, k) => [s, starts[k + 1] ?? lines.length]);
}
