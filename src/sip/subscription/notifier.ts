/**
 * The notifier's side of SIP-specific event notification (RFC 6665 section 4.2). A SUBSCRIBE the application has
 * accepted creates a dialog (section 4.1.2.1: the notifier's 200 carries its tag); a NOTIFY goes at once with the
 * current state, and again whenever the application says the state changed; the subscription lasts for the expiry
 * agreed in the 200 and ends, unless refreshed, with a final NOTIFY `terminated;reason=timeout`.
 *
 * Subscription states (section 4.1.3, with the NOTIFY's Subscription-State):
 *
 *   active ──(refresh: SUBSCRIBE in the dialog)──> active
 *   active ──(Expires: 0, expiry, application ends it)──> terminated   final NOTIFY, then forgotten
 *   active ──(NOTIFY failed, or the flow closed)──> terminated        forgotten without a NOTIFY
 *
 * NOTIFYs of one subscription leave one at a time, each after the previous one's final response (section 4.2.2
 * lets a notifier queue them), so the subscriber sees the changes in order. The notifier knows nothing of what the
 * events mean: the application renders each body.
 */
import { contactHeader, Dialog, dialogKey } from '../dialog/dialog.ts';
import { parseDecimal, SipSyntaxError, type SipResponse } from '../message/index.ts';
import type { IncomingRequest, SipStack } from '../stack.ts';
import type { Flow } from '../transport/flow.ts';

/** rfc6665#section-4.1.3: why a subscription ended, as the final NOTIFY says. */
export type TerminationReason = 'deactivated' | 'probation' | 'rejected' | 'timeout' | 'giveup' | 'noresource' | 'invariant';

export interface NotifierOptions {
  /** Below this a SUBSCRIBE's expiry is answered 423 Interval Too Brief (rfc6665#section-4.2.1.1). */
  minExpires: number;
  /** Above this the expiry is shortened in the 200. */
  maxExpires: number;
  /** For a SUBSCRIBE without Expires (rfc4235#section-3.2 and most packages: 3600). */
  defaultExpires: number;
}

/** One NOTIFY's body, rendered by the application. */
export interface NotifyContent {
  body: Buffer;
  contentType: string;
}

/** What the application gives a subscription: how to render its state, and who to tell when it ended. */
export interface SubscriptionOwner<C> {
  /** The body of the next NOTIFY; `sequence` counts the subscription's NOTIFYs from 0. */
  render(subscription: Subscription<C>, sequence: number): NotifyContent;
  /** The subscription ended (after its final NOTIFY, if one could be sent). */
  onEnded?(subscription: Subscription<C>, reason: TerminationReason): void;
}

/** The event package a SUBSCRIBE or NOTIFY names: `Event: dialog;id=7` is `{ name: 'dialog', id: '7' }`. */
export interface EventType {
  name: string;
  id: string | undefined;
}

/** rfc6665#section-8.2.1: the Event header's package (case-insensitive token) and its `id` parameter. */
export function eventOf(value: string | undefined): EventType | undefined {
  if (value === undefined) return undefined;
  const [name, ...params] = value.split(';');
  const token = name?.trim().toLowerCase();
  if (!token || !/^[a-z0-9\-.!%*_+`'~]+$/.test(token)) return undefined;
  const id = params.map((p) => /^\s*id\s*=\s*(\S+)\s*$/i.exec(p)?.[1]).find((v) => v !== undefined);
  return { name: token, id };
}

/** Whether the SUBSCRIBE's Accept (rfc6665#section-4.1.2) allows `contentType`; no Accept means the package default. */
export function accepts(acceptValues: string[], contentType: string): boolean {
  if (acceptValues.length === 0) return true;
  const [type, subtype] = contentType.toLowerCase().split('/');
  return acceptValues.some((range) => {
    const [t, s] = (range.split(';')[0] ?? '').trim().toLowerCase().split('/');
    return (t === '*' || t === type) && (s === '*' || s === subtype);
  });
}

export class Subscription<C> {
  state: 'active' | 'terminated' = 'active';
  /** Milliseconds since the epoch at which the subscription runs out. */
  expiresAt = 0;
  /** NOTIFYs rendered so far. */
  sequence = 0;
  /** Rendered NOTIFYs waiting for the one in flight to be answered. */
  readonly queue: Array<{ content: NotifyContent; final?: TerminationReason }> = [];
  inFlight = false;
  timer: NodeJS.Timeout | undefined;
  /** The owner was told the subscription ended. */
  ended = false;

  constructor(
    readonly event: EventType,
    readonly dialog: Dialog,
    /** What the application keeps with the subscription (the resource watched, the subscriber). */
    readonly context: C,
    readonly owner: SubscriptionOwner<C>,
  ) {}

  /** Whole seconds left, for Subscription-State's `expires` (rfc6665#section-4.1.3). */
  get secondsLeft(): number {
    return Math.max(0, Math.round((this.expiresAt - Date.now()) / 1000));
  }

  get flow(): Flow {
    return this.dialog.flow;
  }
}

export class SubscriptionNotifier {
  private readonly subscriptions = new Map<string, Subscription<unknown>>();

  constructor(
    private readonly stack: SipStack,
    private readonly options: NotifierOptions,
  ) {}

  get size(): number {
    return this.subscriptions.size;
  }

  /** Every active subscription. */
  all(): Array<Subscription<unknown>> {
    return [...this.subscriptions.values()];
  }

  /**
   * The expiry a SUBSCRIBE asks for, bounded (rfc6665#section-4.2.1.1): the default when absent, the maximum when
   * above it. Answers undefined after replying itself: 400 for an unreadable Expires, 423 with Min-Expires for one
   * too brief (0 is never too brief: it ends or fetches).
   */
  expiryOf(req: IncomingRequest): number | undefined {
    const raw = req.message.headers.get('Expires');
    let expires: number;
    try {
      expires = raw === undefined ? this.options.defaultExpires : parseDecimal(raw, 0xffffffff, 'Expires');
    } catch (err) {
      if (!(err instanceof SipSyntaxError)) throw err;
      req.reply(400, { reason: 'Bad Request (invalid Expires)' });
      return undefined;
    }
    if (expires !== 0 && expires < this.options.minExpires) {
      req.reply(423, { headers: [['Min-Expires', String(this.options.minExpires)]] });
      return undefined;
    }
    return Math.min(expires, this.options.maxExpires);
  }

  /**
   * Accepts a new SUBSCRIBE the application authorized (rfc6665#section-4.2.1.1): 200 with the expiry granted and
   * our Contact, then the first NOTIFY at once (section 4.2.1.2). An Expires of 0 is a fetch: one NOTIFY with the
   * state, terminated. Answers the subscription, or undefined when the request was answered otherwise (423).
   */
  accept<C>(req: IncomingRequest, event: EventType, context: C, owner: SubscriptionOwner<C>): Subscription<C> | undefined {
    if (req.message.contacts.length === 0) {
      req.reply(400, { reason: 'Bad Request (a SUBSCRIBE needs a Contact)' });
      return undefined;
    }
    const expires = this.expiryOf(req);
    if (expires === undefined) return undefined;
    const flow = req.flow;
    const contact = contactHeader('notifier', this.stack.advertisedHost(flow), this.stack.advertisedPort(flow.protocol), flow.protocol);
    const dialog = Dialog.asUas(req.message, req.transaction.toTag, flow, contact);
    const subscription = new Subscription(event, dialog, context, owner);
    req.reply(200, { headers: [['Expires', String(expires)], ['Contact', contact]] });
    if (expires === 0) {
      this.enqueue(subscription, 'timeout');
      return subscription;
    }
    this.subscriptions.set(dialog.key, subscription as Subscription<unknown>);
    this.schedule(subscription, expires);
    this.notify(subscription);
    return subscription;
  }

  /**
   * A SUBSCRIBE inside a subscription's dialog (rfc6665#section-4.2.1.2 and 4.2.1.4): a refresh, answered 200 with
   * the new expiry and followed by a NOTIFY of the current state; or, with Expires: 0, an unsubscription, followed by
   * the final NOTIFY. A dialog we do not know is 481; another event package in it, 489.
   */
  onInDialogSubscribe(req: IncomingRequest): void {
    const subscription = this.subscriptions.get(dialogKey(Dialog.idOfIncoming(req.message)));
    if (!subscription) {
      req.reply(481);
      return;
    }
    const event = eventOf(req.message.headers.get('Event'));
    if (!event || event.name !== subscription.event.name || event.id !== subscription.event.id) {
      req.reply(489, { reason: 'Bad Event', headers: [['Allow-Events', subscription.event.name]] });
      return;
    }
    if (!subscription.dialog.acceptRequest(req.message)) {
      req.reply(500, { reason: 'Server Internal Error (out of order SUBSCRIBE)', headers: [['Retry-After', '1']] });
      return;
    }
    const expires = this.expiryOf(req);
    if (expires === undefined) return;
    // A SUBSCRIBE is a target refresh request (rfc6665#section-4.1.2.2): its Contact is where NOTIFYs go now.
    const contact = req.message.contacts[0];
    if (contact) subscription.dialog.remoteTarget = contact.uri;
    req.reply(200, { headers: [['Expires', String(expires)], ['Contact', subscription.dialog.localContact]] });
    if (expires === 0) {
      this.terminate(subscription, 'timeout');
      return;
    }
    this.schedule(subscription, expires);
    this.notify(subscription);
  }

  /** Tells the subscriber the current state: a NOTIFY after those already queued. */
  notify<C>(subscription: Subscription<C>): void {
    if (subscription.state !== 'active') return;
    this.enqueue(subscription);
  }

  /** Ends a subscription with a final NOTIFY whose Subscription-State is `terminated;reason=...`. */
  terminate<C>(subscription: Subscription<C>, reason: TerminationReason): void {
    if (subscription.state !== 'active') return;
    this.enqueue(subscription, reason);
  }

  /** A connection closed: subscriptions over it can be told nothing any more, and end (rfc6665#section-4.2.2). */
  onFlowClosed(flow: Flow): void {
    for (const subscription of [...this.subscriptions.values()]) if (subscription.flow === flow) this.forget(subscription, 'noresource');
  }

  /** Ends every subscription, each with a final NOTIFY `deactivated`: the subscriber may subscribe again at once. */
  close(): void {
    for (const subscription of [...this.subscriptions.values()]) this.terminate(subscription, 'deactivated');
  }

  private schedule<C>(subscription: Subscription<C>, seconds: number): void {
    clearTimeout(subscription.timer);
    subscription.expiresAt = Date.now() + seconds * 1000;
    // rfc6665#section-4.2.2: a subscription not refreshed in time ends, and the subscriber is told why.
    subscription.timer = setTimeout(() => this.terminate(subscription, 'timeout'), seconds * 1000);
    subscription.timer.unref();
  }

  private enqueue<C>(subscription: Subscription<C>, final?: TerminationReason): void {
    const content = subscription.owner.render(subscription, subscription.sequence++);
    if (final) {
      subscription.state = 'terminated';
      clearTimeout(subscription.timer);
      this.subscriptions.delete(subscription.dialog.key);
    }
    subscription.queue.push({ content, final });
    this.sendNext(subscription);
  }

  private sendNext<C>(subscription: Subscription<C>): void {
    if (subscription.inFlight) return;
    const next = subscription.queue.shift();
    if (!next) return;
    const { event, dialog } = subscription;
    const state = next.final ? `terminated;reason=${next.final}` : `active;expires=${subscription.secondsLeft}`;
    const notify = dialog.createRequest('NOTIFY', {
      body: next.content.body,
      contentType: next.content.contentType,
      headers: [
        ['Event', event.id === undefined ? event.name : `${event.name};id=${event.id}`],
        ['Subscription-State', state],
      ],
    });
    subscription.inFlight = true;
    const done = (ok: boolean) => {
      subscription.inFlight = false;
      if (next.final) {
        this.finish(subscription, next.final);
        return;
      }
      // rfc6665#section-4.2.2: a NOTIFY that failed (no answer, 481, any other error) ends the subscription.
      if (!ok) this.forget(subscription, 'giveup');
      else this.sendNext(subscription);
    };
    this.stack.sendRequest(notify, subscription.flow, {
      onResponse: (response: SipResponse) => {
        if (response.status >= 200) done(response.status < 300);
      },
      onTimeout: () => done(false),
    });
  }

  /** Drops a subscription without a NOTIFY (the subscriber cannot be reached). */
  private forget<C>(subscription: Subscription<C>, reason: TerminationReason): void {
    subscription.state = 'terminated';
    clearTimeout(subscription.timer);
    subscription.queue.length = 0;
    this.subscriptions.delete(subscription.dialog.key);
    this.finish(subscription, reason);
  }

  /** The owner hears once that the subscription ended. */
  private finish<C>(subscription: Subscription<C>, reason: TerminationReason): void {
    if (subscription.ended) return;
    subscription.ended = true;
    subscription.owner.onEnded?.(subscription, reason);
  }
}
