/**
 * Session timers (RFC 4028): a dialog's session is refreshed by a re-INVITE or UPDATE every so often, and a session
 * that nobody refreshed in time is over, so a party that vanished without BYE cannot keep it open for ever.
 *
 * The values travel in `Session-Expires: <delta-seconds>[;refresher=uac|uas]` (rfc4028#section-4) and
 * `Min-SE: <delta-seconds>` (rfc4028#section-5); `Supported: timer` says a party knows the extension and
 * `Require: timer` in a 2xx tells the party that it is bound by it. A request whose interval is below what the UAS
 * accepts is refused with 422 and the UAS's Min-SE (rfc4028#section-8.1).
 *
 * This file negotiates the values and keeps one dialog's timer: the refresher refreshes at half the interval
 * (rfc4028#section-10), the other side ends the session when no refresh came a little before the interval ran out
 * (the interval less the smaller of 32 seconds and a third of it, rfc4028#section-10).
 */
import type { SipHeaders } from '../message/index.ts';

/** Who refreshes the session: the dialog's UAC (the party that sent the initial INVITE) or its UAS. */
export type Refresher = 'uac' | 'uas';

/** A Session-Expires header field: the interval in seconds and, when given, who refreshes. */
export interface SessionExpires {
  interval: number;
  refresher: Refresher | undefined;
}

/** What this side asks for and accepts. */
export interface SessionTimerPolicy {
  /** The interval asked for or granted, in seconds; 0 turns session timers off. */
  sessionExpires: number;
  /** The smallest interval accepted (rfc4028#section-5 says 90 seconds or more). */
  minSE: number;
}

/** The default lowest interval (rfc4028#section-4: "it MUST NOT be less than 90 seconds"). */
export const RFC4028_MIN_SE = 90;

/** Reads `Session-Expires` (the parser folds its compact form `x`); undefined when absent or not a number. */
export function readSessionExpires(headers: SipHeaders): SessionExpires | undefined {
  const raw = headers.get('Session-Expires');
  if (raw === undefined) return undefined;
  const [value, ...params] = raw.split(';');
  if (!/^\s*\d{1,10}\s*$/.test(value ?? '')) return undefined;
  let refresher: Refresher | undefined;
  for (const param of params) {
    const [name, v] = param.split('=').map((s) => s.trim().toLowerCase());
    if (name === 'refresher' && (v === 'uac' || v === 'uas')) refresher = v;
  }
  return { interval: Number(value), refresher };
}

/** Reads `Min-SE`; undefined when absent or not a number. */
export function readMinSE(headers: SipHeaders): number | undefined {
  const value = headers.get('Min-SE')?.split(';')[0]?.trim();
  return value !== undefined && /^\d{1,10}$/.test(value) ? Number(value) : undefined;
}

/** Whether a header field that lists option tags (Supported, Require) or methods (Allow) names `tag`. */
export function listsTag(headers: SipHeaders, name: string, tag: string): boolean {
  const wanted = tag.toLowerCase();
  return headers.values(name).some((value) => value.split(',').some((t) => t.trim().toLowerCase() === wanted));
}

/** The header fields a UAC puts in an INVITE to ask for a session timer (rfc4028#section-7.1). */
export function sessionTimerOffer(policy: SessionTimerPolicy): Array<[string, string]> {
  if (policy.sessionExpires <= 0) return [];
  return [
    ['Supported', 'timer'],
    ['Session-Expires', String(policy.sessionExpires)],
    ['Min-SE', String(policy.minSE)],
  ];
}

/** A UAS's decision on an INVITE or UPDATE (rfc4028#section-9). */
export type UasSessionTimer =
  /** The interval asked for is too small: answer 422 with this Min-SE. */
  | { reject: number }
  /** No session timer in this dialog. */
  | { interval: 0 }
  /** The session is refreshed by `refresher` every `interval` seconds; `require` says the 2xx carries Require: timer. */
  | { interval: number; refresher: Refresher; require: boolean };

/**
 * The UAS side of the negotiation (rfc4028#section-9), for a request with `headers`. A UAC that supports the
 * extension keeps its interval (lowered to ours when larger, never below its own Min-SE) and its choice of refresher,
 * and refreshes itself when it did not choose. A UAC that does not support it can still have a session timer with
 * the UAS as the refresher, when the UAS can refresh: `canRefresh` (the UAC allows UPDATE, say).
 */
export function negotiateAsUas(headers: SipHeaders, policy: SessionTimerPolicy, canRefresh: boolean): UasSessionTimer {
  if (policy.sessionExpires <= 0) return { interval: 0 };
  const asked = readSessionExpires(headers);
  if (asked && asked.interval < policy.minSE) return { reject: policy.minSE };
  const supported = listsTag(headers, 'Supported', 'timer') || listsTag(headers, 'Require', 'timer');
  const floor = Math.max(readMinSE(headers) ?? 0, policy.minSE);
  const interval = Math.max(floor, Math.min(asked?.interval ?? policy.sessionExpires, policy.sessionExpires));
  if (supported) return { interval, refresher: asked?.refresher ?? 'uac', require: true };
  // rfc4028#section-9: without the UAC's support, only the UAS can refresh.
  return canRefresh ? { interval, refresher: 'uas', require: false } : { interval: 0 };
}

/** The header fields of a UAS's 2xx for its decision (rfc4028#section-9). */
export function sessionTimerAnswer(decision: UasSessionTimer): Array<[string, string]> {
  if (!('refresher' in decision)) return [];
  const fields: Array<[string, string]> = [['Session-Expires', `${decision.interval};refresher=${decision.refresher}`]];
  if (decision.require) fields.push(['Require', 'timer']);
  return fields;
}

/** When the side that does not refresh gives up on the session: before it expires (rfc4028#section-10). */
export function expiryMs(interval: number): number {
  return (interval - Math.min(32, interval / 3)) * 1000;
}

export interface SessionTimerDelegate {
  /** Time to refresh (this side is the refresher): send a re-INVITE or UPDATE, then call {@link SessionTimer.refreshed}. */
  onRefresh(): void;
  /** No refresh came in time: the session is over (rfc4028#section-10 says send BYE). */
  onExpired(): void;
}

/**
 * One dialog's session timer. The refresher's side fires {@link SessionTimerDelegate.onRefresh} at half the
 * interval; the other side fires {@link SessionTimerDelegate.onExpired} when no refresh came. Each refresh (a 2xx
 * to a re-INVITE or UPDATE, either way) starts the interval again, possibly with new values.
 */
export class SessionTimer {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private interval: number,
    /** Whether this side refreshes the session. */
    private local: boolean,
    private readonly delegate: SessionTimerDelegate,
  ) {
    this.arm();
  }

  get seconds(): number {
    return this.interval;
  }

  get refreshesLocally(): boolean {
    return this.local;
  }

  /** The session was refreshed: the interval starts again (with the values the refresh agreed, when given). */
  refreshed(values?: { interval: number; local: boolean }): void {
    if (this.stopped) return;
    if (values) {
      this.interval = values.interval;
      this.local = values.local;
    }
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private arm(): void {
    clearTimeout(this.timer);
    const local = this.local;
    this.timer = setTimeout(() => {
      if (this.stopped) return;
      if (local) this.delegate.onRefresh();
      else this.delegate.onExpired();
    }, local ? (this.interval * 1000) / 2 : expiryMs(this.interval));
    this.timer.unref();
  }
}
