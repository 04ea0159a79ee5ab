/**
 * Retransmitted reliable provisional responses (rfc3262). A leg to a carrier offers 100rel and PRACKs each new one
 * (see Leg.prack). A phone is never offered it, so it must not send them reliably (rfc3262#section-3); some do
 * anyway, and retransmit their 183 (with early media) every T1..T2 until a PRACK that never comes (having not
 * offered the extension, we do not speak it to them; such a phone gives up after 64*T1, and one answered sooner is
 * unaffected). Either way each retransmission is the same response, passed to the caller once: it carries the same
 * RSeq, where a new reliable response carries a higher one (rfc3262#section-4: the UAC "MUST NOT" process one whose
 * RSeq is not higher). RSeq counts per early dialog, so it is kept per leg and To tag.
 */
import type { SipResponse } from '../../sip/index.ts';

const seen = new WeakMap<object, Map<string, number>>();

/** True for a reliable provisional response whose RSeq was already seen on `leg`: a retransmission to drop. */
export function repeatedReliable(leg: object, response: SipResponse): boolean {
  if (response.status <= 100 || response.status >= 200) return false;
  const reliable = response.headers
    .values('Require')
    .flatMap((v) => v.split(','))
    .some((tag) => tag.trim().toLowerCase() === '100rel');
  const rseq = Number(response.headers.get('RSeq')?.trim());
  if (!reliable || !Number.isInteger(rseq) || rseq <= 0) return false;
  const toTag = response.to.params.get('tag') ?? '';
  let perDialog = seen.get(leg);
  if (!perDialog) seen.set(leg, (perDialog = new Map()));
  const last = perDialog.get(toTag);
  if (last !== undefined && rseq <= last) return true;
  perDialog.set(toTag, rseq);
  return false;
}
