/**
 * DTMF with a carrier that does not take RFC 4733 events (its trunk's `dtmfMode`), while the relay carries the call:
 *
 * - `info`: a phone's digit, seen by the relay as RFC 4733 events (which the relay stops there, see MediaBridge),
 *   goes to the carrier as SIP INFO in the carrier's dialog, `application/dtmf-relay` with `Signal` and `Duration`
 *   (the body Asterisk and most carriers use). The carrier's INFO digit is answered 200 by us, reported once, and
 *   played to the phone as RFC 4733 events by the relay; the INFO itself is not relayed, since a phone that speaks
 *   RFC 4733 need not understand it and would hear the digit twice if it did.
 * - `inband`: the relay turns a phone's events into tones toward the carrier, and the carrier's tones reach the
 *   phone as the audio they are: nothing to do here (see MediaBridge's SDP steps).
 *
 * With direct media nothing here applies: SDP, events and INFO pass between the ends as they are (see
 * CarrierCalls.applyDtmfMode).
 */
import { type Dialog, type IncomingRequest, NO_USER } from '../../sip/index.ts';
import type { CallContext } from './call-context.ts';
import type { CallSide } from './call-types.ts';

/** The digit of a SIP INFO DTMF body (application/dtmf-relay `Signal=5`, or application/dtmf `5`). */
export function infoDigit(contentType: string | undefined, body: Buffer): string | undefined {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  const text = body.toString('utf8');
  const raw = type === 'application/dtmf-relay' ? /^\s*Signal\s*=\s*(\S+)\s*$/im.exec(text)?.[1] : type === 'application/dtmf' ? text.trim() : undefined;
  if (!raw) return undefined;
  const digit = raw === '10' ? '*' : raw === '11' ? '#' : raw.toUpperCase();
  return /^[0-9*#A-D]$/.test(digit) ? digit : undefined;
}

/** The duration a digit's INFO says when the relay reported none (160 ms, as Asterisk sends). */
const DEFAULT_DURATION_MS = 160;

/** The dialog with the carrier, when the carrier takes its digits as SIP INFO and the call is answered. */
function infoDialog(call: CallContext): Dialog | undefined {
  const carrier = call.bridge.carrierDtmf;
  if (carrier?.mode !== 'info') return undefined;
  return carrier.side === 'caller' ? call.callerDialog : call.answered?.dialog;
}

/** A phone's digit, seen in the media, goes to a carrier that takes SIP INFO as INFO in its dialog. */
export function sendDigitAsInfo(call: CallContext, digit: string, durationMs: number): void {
  const dialog = infoDialog(call);
  if (!dialog || call.hasEnded(dialog)) return;
  const body = Buffer.from(`Signal=${digit}\r\nDuration=${durationMs > 0 ? durationMs : DEFAULT_DURATION_MS}\r\n`, 'utf8');
  call.stack.sendRequest(dialog.createRequest('INFO', { body, contentType: 'application/dtmf-relay' }), dialog.flow, NO_USER);
}

/**
 * An INFO from the carrier of an `info` trunk (`side`): a digit is answered 200, reported and played to the phone as
 * RFC 4733 events; true when it was taken here (anything else in INFO is relayed as before).
 */
export function takeCarrierInfo(call: CallContext, req: IncomingRequest, side: CallSide): boolean {
  const carrier = call.bridge.carrierDtmf;
  if (carrier?.mode !== 'info' || carrier.side !== side) return false;
  const digit = infoDigit(req.message.headers.get('Content-Type'), req.message.body);
  if (!digit) return false;
  req.reply(200);
  call.notices.dtmf(side, digit, 'info');
  const duration = Number(/^\s*Duration\s*=\s*(\d+)\s*$/im.exec(req.message.body.toString('utf8'))?.[1] ?? DEFAULT_DURATION_MS);
  call.bridge.playCarrierDigit(call.bridge.tagOf(side), digit, duration).catch((err: unknown) => call.bridge.media.onError(err, 'call:play dtmf'));
  return true;
}
