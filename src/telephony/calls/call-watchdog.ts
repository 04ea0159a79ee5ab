/**
 * Ends calls whose parties are gone. A phone that answers and then vanishes (no BYE, no RTP, no SIP: a crash, a
 * dropped network) would otherwise leave its call answered for ever, its parties busy and the relay's ports held.
 * Four guards, each ending the call with BYE to both sides and a cause of its own:
 *
 * - media: the relay counts the packets (RTP and RTCP) it received in the call; a count that did not move for
 *   `mediaTimeoutSeconds` means nobody sends any more (`media-timeout`, as Asterisk's rtptimeout). Only through the
 *   relay (with direct media the server sees no packet), and not while a side holds the other.
 * - session timers (RFC 4028) on each of the call's dialogs: a refresh the other side owed that did not come, or a
 *   refresh of ours answered 408 or 481 or not at all (`session-timer-expired`).
 * - in-dialog OPTIONS every `optionsProbeSeconds` to each party of an answered call: 408, 481 or no answer means the
 *   dialog is gone (`probe-failed`); any other answer, even 405 or 501, means the party is there.
 * - the tenant's longest call, counted from the call's start (`max-duration`, as Kamailio's dialog timeout).
 *
 *   a dialog's session timer:  granted --refresh (2xx to re-INVITE/UPDATE)--> granted again
 *                              granted --interval less min(32 s, a third) without refresh--> expired: BYE
 *                              granted (we refresh) --half the interval--> UPDATE --2xx--> granted again
 *                                                                                 --408/481/timeout--> expired: BYE
 */
import type { MediaPlane } from '../../media/index.ts';
import {
  type Dialog,
  listsTag,
  negotiateAsUas,
  type SessionTimerPolicy,
  readSessionExpires,
  SessionTimer,
  sessionTimerAnswer,
  sessionTimerOffer,
  type SipRequest,
  type SipStack,
} from '../../sip/index.ts';
import { type Call, CallState, type EndCause } from './call.ts';

export interface LivenessOptions {
  /** Seconds without a packet from any party (through the relay) before a call ends; 0 never. */
  mediaTimeoutSeconds: number;
  /** Seconds between in-dialog OPTIONS to each party of an answered call; 0 never. */
  optionsProbeSeconds: number;
  /** Session timers asked for and granted (RFC 4028); an interval of 0 turns them off. */
  sessionTimers: SessionTimerPolicy;
}

export const DEFAULT_LIVENESS: LivenessOptions = {
  mediaTimeoutSeconds: 60,
  optionsProbeSeconds: 60,
  sessionTimers: { sessionExpires: 1800, minSE: 90 },
};

/** What the watchdog keeps per call. */
interface Watch {
  /** The relay's packet count when last asked, and since when it has not moved. */
  packets: number | undefined;
  silentSince: number;
  lastSample: number;
  sampling: boolean;
  nextProbeAt: number | undefined;
  probing: Set<Dialog>;
  timers: Map<Dialog, SessionTimer>;
}

/** Once a second is fine enough for limits counted in seconds. */
const TICK_MS = 1000;
/** How long a tenant's limit is trusted before it is read again (a change made by another node shows by then). */
const LIMIT_TTL_MS = 300_000;

export class CallWatchdog {
  private readonly watches = new Map<Call, Watch>();
  private readonly limits = new Map<string, { seconds: number; readAt: number }>();
  private readonly reading = new Set<string>();
  private readonly tick: NodeJS.Timeout;

  constructor(
    private readonly stack: SipStack,
    private readonly plane: MediaPlane,
    private readonly options: LivenessOptions,
    /** The calls in progress. */
    private readonly calls: () => Iterable<Call>,
    /** A tenant's longest call, in seconds (0: no limit). */
    private readonly maxCallSecondsOf: (tenantId: string) => Promise<number>,
    private readonly onError: (err: unknown, context: string) => void,
  ) {
    this.tick = setInterval(() => this.sweep(), TICK_MS);
    this.tick.unref();
  }

  /** The header fields that ask the party an INVITE goes to for a session timer (rfc4028#section-7.1). */
  offerHeaders(): Array<[string, string]> {
    return sessionTimerOffer(this.options.sessionTimers);
  }

  /** The Min-SE to refuse a new INVITE with (422, rfc4028#section-8.1), when it asks for too short an interval. */
  refusal(invite: SipRequest): number | undefined {
    const decision = negotiateAsUas(invite.headers, this.options.sessionTimers, false);
    return 'reject' in decision ? decision.reject : undefined;
  }

  /**
   * A 2xx the call sends in `dialog` to `request` (the caller's INVITE, or a re-INVITE or UPDATE relayed across):
   * the session timer is negotiated as the UAS of that transaction (rfc4028#section-9), (re)started, and the header
   * fields that tell the party are answered. `refresher=uac` is the party, `uas` is us.
   */
  answerHeaders(call: Call, dialog: Dialog, request: SipRequest): Array<[string, string]> {
    // Only an INVITE or an UPDATE refreshes a session (rfc4028#section-1); an INFO's 2xx says nothing of it.
    // A call that ended meanwhile keeps nothing here (its watch is gone for good).
    if ((request.method !== 'INVITE' && request.method !== 'UPDATE') || call.state === CallState.Ended) return [];
    const decision = negotiateAsUas(request.headers, this.options.sessionTimers, listsTag(request.headers, 'Allow', 'UPDATE'));
    if ('reject' in decision) return [];
    const watch = this.watch(call);
    if (!('refresher' in decision)) {
      watch.timers.get(dialog)?.stop();
      watch.timers.delete(dialog);
      return [];
    }
    this.startTimer(call, watch, dialog, decision.interval, decision.refresher === 'uas');
    return sessionTimerAnswer(decision);
  }

  /** A dialog of the call was made by our INVITE's 2xx: the interval the party granted in it starts (rfc4028#section-7.2). */
  onDialog(call: Call, dialog: Dialog): void {
    const granted = dialog.sessionExpires;
    if (!granted || granted.interval <= 0 || this.options.sessionTimers.sessionExpires <= 0 || call.state === CallState.Ended) return;
    this.startTimer(call, this.watch(call), dialog, granted.interval, granted.refresher === 'uac');
  }

  /** The call ended: its timers go with it. */
  forget(call: Call): void {
    const watch = this.watches.get(call);
    if (!watch) return;
    this.watches.delete(call);
    for (const timer of watch.timers.values()) timer.stop();
  }

  /** The tenant's limit changed: it is read again. */
  limitChanged(tenantId: string, maxCallSeconds: number): void {
    this.limits.set(tenantId, { seconds: maxCallSeconds, readAt: Date.now() });
  }

  stop(): void {
    clearInterval(this.tick);
    for (const call of [...this.watches.keys()]) this.forget(call);
  }

  private watch(call: Call): Watch {
    let watch = this.watches.get(call);
    if (!watch) {
      watch = { packets: undefined, silentSince: Date.now(), lastSample: 0, sampling: false, nextProbeAt: undefined, probing: new Set(), timers: new Map() };
      this.watches.set(call, watch);
    }
    return watch;
  }

  /** The dialogs the call's parties are on now (a transfer may have let one go). */
  private liveDialogs(call: Call): Dialog[] {
    if (call.state === CallState.Ended) return [];
    const dialogs: Dialog[] = [];
    if (call.callerDialog) dialogs.push(call.callerDialog);
    if (call.state === CallState.Answered && call.answered?.dialog) dialogs.push(call.answered.dialog);
    return dialogs;
  }

  private end(call: Call, cause: EndCause): void {
    if (call.state === CallState.Ended) return;
    call.hangUpAll(cause);
  }

  private startTimer(call: Call, watch: Watch, dialog: Dialog, interval: number, local: boolean): void {
    const running = watch.timers.get(dialog);
    if (running) {
      running.refreshed({ interval, local });
      return;
    }
    const timer = new SessionTimer(interval, local, {
      onRefresh: () => this.refresh(call, dialog, timer),
      onExpired: () => {
        if (this.liveDialogs(call).includes(dialog)) this.end(call, 'session-timer-expired');
      },
    });
    watch.timers.set(dialog, timer);
  }

  /**
   * We are the refresher: an UPDATE without a body refreshes the session (rfc4028#section-10, rfc3311). Every dialog
   * the call still holds open is refreshed, not only its parties' now: a consultation's target is not a party until
   * the transfer completes, and a session left unrefreshed meanwhile would be ended by the target after the transfer.
   */
  private refresh(call: Call, dialog: Dialog, timer: SessionTimer): void {
    if (call.state === CallState.Ended || call.hasEnded(dialog)) {
      timer.stop();
      return;
    }
    const update = dialog.createRequest('UPDATE', { headers: [['Session-Expires', `${timer.seconds};refresher=uac`], ['Supported', 'timer']] });
    this.stack.sendRequest(update, dialog.flow, {
      onResponse: (response) => {
        if (response.status < 200) return;
        if (response.status === 408 || response.status === 481) {
          if (this.liveDialogs(call).includes(dialog)) this.end(call, 'session-timer-expired');
          return;
        }
        // Any other answer keeps the session (a 491 or a 500 only says "not now"): the next refresh is due again.
        const granted = response.status < 300 ? readSessionExpires(response.headers) : undefined;
        timer.refreshed(granted && granted.interval > 0 ? { interval: granted.interval, local: granted.refresher !== 'uas' } : undefined);
      },
      onTimeout: () => {
        if (this.liveDialogs(call).includes(dialog)) this.end(call, 'session-timer-expired');
      },
    });
  }

  private sweep(): void {
    const now = Date.now();
    for (const call of this.calls()) {
      try {
        this.check(call, now);
      } catch (err) {
        this.onError(err, 'call:watchdog');
      }
    }
  }

  private check(call: Call, now: number): void {
    if (call.state === CallState.Ended) return;
    const limit = this.limitOf(call.tenantId, now);
    if (limit !== undefined && limit > 0 && now - call.createdAt >= limit * 1000) {
      this.end(call, 'max-duration');
      return;
    }
    // Media flows once the caller has a dialog: answered by a party, or by the PBX (waiting with music).
    if (!call.callerDialog) return;
    const watch = this.watch(call);
    this.checkMedia(call, watch, now);
    this.probe(call, watch, now);
  }

  /** A tenant's limit, read in the background when not known (or too old); undefined until it is known. */
  private limitOf(tenantId: string, now: number): number | undefined {
    const known = this.limits.get(tenantId);
    if ((!known || now - known.readAt > LIMIT_TTL_MS) && !this.reading.has(tenantId)) {
      this.reading.add(tenantId);
      this.maxCallSecondsOf(tenantId)
        .then((seconds) => this.limits.set(tenantId, { seconds, readAt: Date.now() }))
        .catch((err: unknown) => this.onError(err, 'call:watchdog limit'))
        .finally(() => this.reading.delete(tenantId));
    }
    return known?.seconds;
  }

  /** Asks the relay how many packets it received, a few times per timeout; ends the call when the count stood still. */
  private checkMedia(call: Call, watch: Watch, now: number): void {
    const timeoutMs = this.options.mediaTimeoutSeconds * 1000;
    if (timeoutMs <= 0 || this.plane.kind !== 'rtpengine') return;
    if (call.holding.size > 0) {
      // A held phone may send nothing at all (a=inactive): silence is counted from the resume on, as Asterisk keeps
      // a separate hold timeout. Session timers and probes still watch a held call.
      watch.packets = undefined;
      watch.silentSince = now;
      return;
    }
    if (watch.sampling || now - watch.lastSample < Math.max(TICK_MS, timeoutMs / 4)) return;
    watch.sampling = true;
    watch.lastSample = now;
    this.plane
      .activity(call.mediaId)
      .then((packets) => {
        if (packets === undefined || call.state === CallState.Ended || call.holding.size > 0) return;
        const at = Date.now();
        if (packets !== watch.packets) {
          // The first count: packets before it came at some point; silence is counted from now on.
          if (watch.packets !== undefined || packets > 0) watch.silentSince = at;
          watch.packets = packets;
          return;
        }
        if (at - watch.silentSince >= timeoutMs) this.end(call, 'media-timeout');
      })
      .catch((err: unknown) => this.onError(err, 'call:watchdog media'))
      .finally(() => (watch.sampling = false));
  }

  /** In-dialog OPTIONS to each party of an answered call, every `optionsProbeSeconds`. */
  private probe(call: Call, watch: Watch, now: number): void {
    const everyMs = this.options.optionsProbeSeconds * 1000;
    if (everyMs <= 0 || call.state !== CallState.Answered) return;
    watch.nextProbeAt ??= now + everyMs;
    if (now < watch.nextProbeAt) return;
    watch.nextProbeAt = now + everyMs;
    for (const dialog of this.liveDialogs(call)) {
      if (watch.probing.has(dialog)) continue;
      watch.probing.add(dialog);
      const gone = () => {
        watch.probing.delete(dialog);
        if (this.liveDialogs(call).includes(dialog)) this.end(call, 'probe-failed');
      };
      this.stack.sendRequest(dialog.createRequest('OPTIONS'), dialog.flow, {
        onResponse: (response) => {
          if (response.status < 200) return;
          // rfc4028#section-10 and rfc3261#section-12.2.1.2: 481 and 408 say the dialog is gone; the rest, that the
          // party is there (an OPTIONS it does not take still proves it alive).
          if (response.status === 408 || response.status === 481) gone();
          else watch.probing.delete(dialog);
        },
        onTimeout: gone,
      });
    }
  }
}
