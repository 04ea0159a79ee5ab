/**
 * Busy-lamp keys: SUBSCRIBE to an extension's dialogs (the dialog event package, RFC 4235) and NOTIFYs with its
 * `application/dialog-info+xml` whenever it rings, answers or hangs up.
 *
 * A new SUBSCRIBE is checked in this order: an event package other than `dialog` is 489 Bad Event (with
 * Allow-Events); an Accept that excludes dialog-info is 406; the subscriber (From) must be an extension of a tenant's
 * domain and authenticate by digest as for a call (407, its own credentials); the watched extension is the
 * Request-URI's user and must be in the subscriber's tenant (another domain: 403; no such extension: 404); a
 * subscriber holds at most `perExtension` subscriptions (403 beyond). The notifier then answers 200 and sends the
 * full state at once. Refreshes and unsubscriptions come in the subscription's dialog, whose identifiers (Call-ID
 * and both tags, ours random) stand for the authentication, as for a call's BYE.
 *
 * Every NOTIFY carries the full state (rfc4235#section-4.1: `state="full"`), its `version` counting up from 0 per
 * subscription.
 */
import type { PbxEventBus } from '../events/index.ts';
import { accepts, eventOf, type Flow, type IncomingRequest, isSipUri, type NotifierOptions, type SipStack, type Subscription, SubscriptionNotifier } from '../sip/index.ts';
import type { ExtensionDialog, ExtensionDialogs } from './extension-dialogs.ts';
import type { AuthOutcome, Registrar } from './registrar.ts';

export const DIALOG_INFO = 'application/dialog-info+xml';

export interface DialogSubscriptionOptions extends NotifierOptions {
  /** Subscriptions one extension may hold at once. */
  perExtension: number;
}

/** rfc4235#section-3.2: a dialog subscription lasts an hour unless asked otherwise. */
export const DEFAULT_DIALOG_SUBSCRIPTION_OPTIONS: DialogSubscriptionOptions = { minExpires: 60, maxExpires: 3600, defaultExpires: 3600, perExtension: 50 };

interface Watch {
  tenantId: string;
  /** The watched extension, its number and its tenant's domain. */
  extensionId: string;
  number: number;
  domain: string;
  /** The extension that subscribed. */
  subscriberId: string;
  /** A change being told: the dialogs to render, those that just ended included; else the current ones are. */
  change: ExtensionDialog[] | undefined;
}

interface Directory {
  findExtension(tenantId: string, number: number): Promise<{ extensionId: string; number: number; isActive: boolean } | undefined>;
}

export class DialogSubscriptions {
  readonly notifier: SubscriptionNotifier;
  /** Watched extension → its subscriptions. */
  private readonly watchers = new Map<string, Set<Subscription<Watch>>>();
  /** Subscribing extension → how many subscriptions it holds. */
  private readonly held = new Map<string, number>();
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    stack: SipStack,
    private readonly registrar: Registrar,
    private readonly directory: Directory,
    private readonly isKnownDomain: (domain: string) => boolean,
    private readonly dialogs: ExtensionDialogs,
    bus: PbxEventBus,
    private readonly options: DialogSubscriptionOptions = DEFAULT_DIALOG_SUBSCRIPTION_OPTIONS,
  ) {
    this.notifier = new SubscriptionNotifier(stack, options);
    // An extension that is gone, or whose secret changed, is no longer watched nor watching (rfc6665#section-4.1.3).
    const gone = (e: { extensionId: string }) => {
      for (const s of this.notifier.all() as Array<Subscription<Watch>>) {
        if (s.context.extensionId === e.extensionId) this.notifier.terminate(s, 'noresource');
        else if (s.context.subscriberId === e.extensionId) this.notifier.terminate(s, 'rejected');
      }
    };
    this.unsubscribe.push(
      dialogs.onChange((change) => {
        const watching = this.watchers.get(change.extensionId);
        if (!watching) return;
        const dialogs = change.dialogs();
        for (const s of watching) {
          // The NOTIFY is rendered at once, so the change is its body and no later one's.
          s.context.change = dialogs;
          this.notifier.notify(s);
          s.context.change = undefined;
        }
      }),
      bus.on('extension.deleted', gone),
      bus.on('extension.credentials.changed', gone),
    );
  }

  /** Subscriptions alive. */
  get size(): number {
    return this.notifier.size;
  }

  async onSubscribe(req: IncomingRequest, onOutcome: (outcome: AuthOutcome) => void): Promise<void> {
    const msg = req.message;
    if (msg.to.params.has('tag')) {
      this.notifier.onInDialogSubscribe(req);
      return;
    }
    const event = eventOf(msg.headers.get('Event'));
    // rfc6665#section-4.2.1.1: a package we do not serve is 489, and Allow-Events names those we do.
    if (!event || event.name !== 'dialog') {
      req.reply(489, { reason: 'Bad Event', headers: [['Allow-Events', 'dialog']] });
      return;
    }
    if (!accepts(msg.headers.values('Accept'), DIALOG_INFO)) {
      req.reply(406, { headers: [['Accept', DIALOG_INFO]] });
      return;
    }
    const from = msg.from.uri;
    if (!isSipUri(from) || !from.user || !this.isKnownDomain(from.host)) {
      req.reply(403, { reason: 'Forbidden (unknown domain)' });
      return;
    }
    const subscriber = await this.registrar.authenticate(req, from.host, from.user, onOutcome);
    if (!subscriber) return;
    const target = msg.uri;
    if (!isSipUri(target) || target.host.toLowerCase() !== from.host.toLowerCase()) {
      req.reply(403, { reason: 'Forbidden (the watched extension is not in your domain)' });
      return;
    }
    const watched = target.user && /^\d{1,9}$/.test(target.user) ? await this.directory.findExtension(subscriber.tenantId, Number(target.user)) : undefined;
    if (!watched || !watched.isActive) {
      req.reply(404, { reason: 'Not Found (no such extension)' });
      return;
    }
    const held = this.held.get(subscriber.extensionId) ?? 0;
    if (held >= this.options.perExtension) {
      req.reply(403, { reason: `Forbidden (at most ${this.options.perExtension} subscriptions per extension)` });
      return;
    }
    const watch: Watch = {
      tenantId: subscriber.tenantId,
      extensionId: watched.extensionId,
      number: watched.number,
      domain: from.host.toLowerCase(),
      subscriberId: subscriber.extensionId,
      change: undefined,
    };
    const subscription = this.notifier.accept(req, event, watch, {
      render: (s, sequence) => {
        const dialogs = s.context.change ?? this.dialogs.dialogsOf(s.context.extensionId);
        return { body: Buffer.from(dialogInfo({ ...s.context, dialogs }, sequence), 'utf8'), contentType: DIALOG_INFO };
      },
      onEnded: (s) => this.forget(s),
    });
    if (!subscription || subscription.state !== 'active') return;
    let set = this.watchers.get(watch.extensionId);
    if (!set) this.watchers.set(watch.extensionId, (set = new Set()));
    set.add(subscription);
    this.held.set(subscriber.extensionId, held + 1);
  }

  onFlowClosed(flow: Flow): void {
    this.notifier.onFlowClosed(flow);
  }

  close(): void {
    for (const off of this.unsubscribe) off();
    this.notifier.close();
  }

  private forget(s: Subscription<Watch>): void {
    const set = this.watchers.get(s.context.extensionId);
    if (!set?.delete(s)) return;
    if (set.size === 0) this.watchers.delete(s.context.extensionId);
    const held = (this.held.get(s.context.subscriberId) ?? 1) - 1;
    if (held > 0) this.held.set(s.context.subscriberId, held);
    else this.held.delete(s.context.subscriberId);
  }
}

function xml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * rfc4235#section-4: the watched extension's dialogs as a full-state document. Each dialog says its state (with why
 * it ended), how long it has lasted, and who is at either end.
 */
export function dialogInfo(watch: { number: number; domain: string; dialogs: ExtensionDialog[] }, version: number): string {
  const entity = `sip:${watch.number}@${watch.domain}`;
  const now = Date.now();
  const dialogs = watch.dialogs.map((d) => {
    const local = `sip:${d.local || watch.number}@${watch.domain}`;
    const remote = `sip:${d.remote}@${watch.domain}`;
    const party = d.remote ? `    <remote><identity>${xml(remote)}</identity><target uri="${xml(remote)}"/></remote>` : undefined;
    return [
      `  <dialog id="${xml(d.id)}" direction="${d.direction}">`,
      `    <state${d.state === 'terminated' && d.event ? ` event="${d.event}"` : ''}>${d.state}</state>`,
      `    <duration>${Math.max(0, Math.round((now - d.since) / 1000))}</duration>`,
      `    <local><identity>${xml(local)}</identity><target uri="${xml(local)}"/></local>`,
      ...(party ? [party] : []),
      '  </dialog>',
    ].join('\n');
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="${version}" state="full" entity="${xml(entity)}">`,
    ...dialogs,
    '</dialog-info>',
    '',
  ].join('\n');
}
