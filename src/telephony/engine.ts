/**
 * The PBX engine's SIP side: it runs the SIP stack and decides what each request is for. REGISTER goes to the
 * registrar, INVITE and in-dialog requests to the calls, SUBSCRIBE to the extensions' dialog subscriptions (busy-lamp
 * keys), OPTIONS is answered as a keepalive; other methods (MESSAGE, PUBLISH) get 405 with Allow.
 * Requests for SIP domains that no tenant owns are refused before anything touches the database, and addresses
 * that keep failing authentication are banned for a while.
 */
import { createHmac } from 'node:crypto';
import type { Db, WriteJournal } from '../db/index.ts';
import type { PbxEventBus } from '../events/index.ts';
import { type ConnectionLimits, DEFAULT_TIMERS, DigestAuthenticator, type IncomingRequest, isSipUri, type ListenSpec, SipStack, type TransactionTimers } from '../sip/index.ts';
import { DirectMediaPlane } from '../media/index.ts';
import { CallManager } from './calls/call-manager.ts';
import { DEFAULT_LIVENESS, type LivenessOptions } from './calls/call-watchdog.ts';
import type { CallMedia } from './calls/call.ts';
import { AbuseGuard, type AbuseGuardOptions } from './abuse-guard.ts';
import { DirectoryCache } from './directory-cache.ts';
import type { TelephonyDirectory } from './directory.ts';
import { DEFAULT_DIALOG_SUBSCRIPTION_OPTIONS, type DialogSubscriptionOptions, DialogSubscriptions } from './dialog-subscriptions.ts';
import { ExtensionDialogs } from './extension-dialogs.ts';
import { CarrierLinks } from './trunks/carrier-links.ts';
import type { CarrierDirectory } from './trunks/types.ts';
import { LocationService } from './location-service.ts';
import { DEFAULT_REGISTRAR_OPTIONS, Registrar, type RegistrarOptions } from './registrar.ts';

export interface TelephonyOptions {
  listen: ListenSpec[];
  directory: TelephonyDirectory;
  db: Db;
  bus: PbxEventBus;
  /** Signs digest nonces; derived from a server secret so nonces outlive a restart. */
  secret: string;
  /** Offered in challenges, in order; credentials of either algorithm are accepted. */
  digestAlgorithms?: Array<'MD5' | 'SHA-256'>;
  abuse: AbuseGuardOptions;
  registrar?: Partial<RegistrarOptions>;
  /** Bounds of dialog subscriptions (busy-lamp keys). */
  subscriptions?: Partial<DialogSubscriptionOptions>;
  timers?: Partial<TransactionTimers>;
  serverName?: string;
  /** Advertised in Via and Contact instead of the bound address. */
  publicHost?: string;
  /** Bounds on the connections phones open over TCP, TLS and WebSocket. */
  connections?: ConnectionLimits;
  /** When calls whose parties are gone are ended: media timeout, session timers, OPTIONS probes. */
  liveness?: LivenessOptions;
  /** The media plane calls go through; direct media when absent. */
  media?: Omit<CallMedia, 'onError'>;
  onError?: (err: unknown, context: string) => void;
  /** Where writes the database could not take wait (see `db/write-journal.ts`). */
  journal?: WriteJournal;
  /** Trunks, phone numbers and outbound routes: calls reach the telephone network through them (none: calls stay inside). */
  carriers?: CarrierDirectory;
  /** Things worth a log line that are no error (a carrier's call to an unknown number). */
  onWarning?: (message: string, details: Record<string, unknown>) => void;
}

const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, REFER, SUBSCRIBE';
/** Option tags a request may require of us: Path (RFC 3327), which an edge proxy may require of its registrar, and session timers (rfc4028). */
const SUPPORTED: string[] = ['path', 'timer'];

export class TelephonyEngine {
  private readonly unsubscribe: Array<() => void> = [];

  readonly calls: CallManager;
  /** Registrations with carriers, their health, and calls out; none without carriers. */
  readonly carriers: CarrierLinks | undefined;
  readonly dialogs: ExtensionDialogs;
  readonly subscriptions: DialogSubscriptions;

  private constructor(
    private domains: Set<string>,
    readonly stack: SipStack,
    readonly location: LocationService,
    private readonly registrar: Registrar,
    private readonly abuse: AbuseGuard,
    private readonly directory: DirectoryCache,
    private readonly options: TelephonyOptions,
  ) {
    const timers = { ...DEFAULT_TIMERS, ...options.timers };
    const onError = options.onError ?? (() => {});
    const media: CallMedia = { ...(options.media ?? { plane: new DirectMediaPlane('no media plane was given'), holdMusic: undefined, ringback: undefined }), onError };
    this.calls = new CallManager(stack, location, registrar, directory, options.bus, timers, (d) => this.domains.has(d.toLowerCase()), media, options.liveness ?? DEFAULT_LIVENESS);
    if (options.carriers) {
      const carriers = new CarrierLinks(options.carriers, stack, this.calls, { warn: options.onWarning ?? (() => {}), error: onError });
      this.carriers = carriers;
      this.calls.setCarriers(carriers);
    }
    this.dialogs = new ExtensionDialogs(options.bus, this.calls);
    this.subscriptions = new DialogSubscriptions(stack, registrar, directory, (d) => this.domains.has(d.toLowerCase()), this.dialogs, options.bus, {
      ...DEFAULT_DIALOG_SUBSCRIPTION_OPTIONS,
      ...options.subscriptions,
    });
  }

  /** The extension a number dials in a tenant, from the engine's memory (no database read once it is known). */
  findExtension(tenantId: string, number: number): ReturnType<DirectoryCache['findExtension']> {
    return this.directory.findExtension(tenantId, number);
  }

  static async start(options: TelephonyOptions): Promise<TelephonyEngine> {
    const location = new LocationService(options.db, options.bus, undefined, options.onError, options.journal);
    await location.start();
    const digest = new DigestAuthenticator({
      secret: createHmac('sha256', options.secret).update('sip-digest-nonce').digest(),
      algorithms: options.digestAlgorithms,
    });
    const directory = new DirectoryCache(options.directory);
    await directory.warm();
    const registrar = new Registrar(directory, location, digest, { ...DEFAULT_REGISTRAR_OPTIONS, ...options.registrar });
    const abuse = new AbuseGuard(options.abuse);
    const domains = new Set((await options.directory.listDomains()).map((d) => d.toLowerCase()));
    const holder: { engine?: TelephonyEngine } = {};
    const onError = options.onError ?? (() => {});
    let stack: SipStack;
    try {
      stack = await SipStack.start(
        { listen: options.listen, timers: options.timers, serverName: options.serverName, publicHost: options.publicHost, connections: options.connections },
        {
          onRequest: (req) => holder.engine?.onRequest(req),
          onAck: (ack, flow) => holder.engine?.calls.onAck(ack, flow),
          onFlowClosed: (flow) => {
            holder.engine?.calls.onFlowClosed(flow);
            holder.engine?.subscriptions.onFlowClosed(flow);
            void location.flowClosed(flow).catch((err: unknown) => onError(err, 'location:flowClosed'));
          },
        },
      );
    } catch (err) {
      await location.stop();
      throw err;
    }
    const engine = new TelephonyEngine(domains, stack, location, registrar, abuse, directory, options);
    holder.engine = engine;
    engine.subscribe();
    void engine.carriers?.sync();
    return engine;
  }

  private subscribe(): void {
    const { bus } = this.options;
    const drop = (e: { extensionId: string }) => {
      this.directory.invalidate(e.extensionId);
      return this.location.removeAll(e.extensionId, 'credentials-changed');
    };
    const warm = (extensionId: string) => this.directory.warm(extensionId).catch((err: unknown) => this.options.onError?.(err, 'engine:directory'));
    this.unsubscribe.push(
      bus.on('extension.credentials.changed', drop),
      bus.on('extension.deleted', drop),
      bus.on('extension.updated', (e) => {
        this.directory.invalidate(e.extensionId);
        return warm(e.extensionId);
      }),
      bus.on('extension.created', (e) => {
        this.directory.forgetMisses();
        return warm(e.extensionId);
      }),
      bus.on('tenant.call-limits.changed', (e) => this.calls.watchdog.limitChanged(e.tenantId, e.maxCallSeconds)),
      bus.on('tenant.created', () => {
        this.directory.forgetMisses();
        return this.refreshDomains();
      }),
    );
  }

  async refreshDomains(): Promise<void> {
    this.domains = new Set((await this.options.directory.listDomains()).map((d) => d.toLowerCase()));
  }

  private async onRequest(req: IncomingRequest): Promise<void> {
    const address = req.flow.remoteAddress;
    const verdict = this.abuse.check(address);
    if (verdict === 'ignore') {
      req.transaction.terminate();
      return;
    }
    if (verdict === 'refuse') {
      req.reply(403, { reason: 'Forbidden (too many failed authentications)' });
      return;
    }
    const msg = req.message;
    // rfc3261#section-8.2.2.3: extensions we do not support are refused with 420.
    const required = msg.headers.values('Require').filter((r) => !SUPPORTED.includes(r.toLowerCase()));
    if (required.length > 0 && msg.method !== 'CANCEL' && msg.method !== 'ACK') {
      req.reply(420, { headers: [['Unsupported', required.join(', ')]] });
      return;
    }
    switch (msg.method) {
      case 'REGISTER': {
        const to = msg.to.uri;
        if (!isSipUri(to) || !this.domains.has(to.host)) {
          req.reply(403, { reason: 'Forbidden (unknown domain)' });
          return;
        }
        await this.registrar.onRegister(req, (outcome) => {
          if (outcome === 'failed') this.abuse.fail(address);
        });
        return;
      }
      case 'OPTIONS':
        // In a dialog, a phone's probe of its call (as ours of it): 481 once the call is gone (rfc3261#section-12.2.2).
        if (msg.to.params.has('tag') && !this.calls.knowsDialog(msg)) {
          req.reply(481);
          return;
        }
        req.reply(200, { headers: [['Allow', ALLOW], ['Accept', 'application/sdp'], ['Allow-Events', 'dialog']] });
        return;
      case 'SUBSCRIBE':
        await this.subscriptions.onSubscribe(req, (outcome) => {
          if (outcome === 'failed') this.abuse.fail(address);
        });
        return;
      case 'INVITE':
        if (msg.to.params.has('tag')) {
          this.calls.onInDialogRequest(req);
          return;
        }
        await this.calls.onInvite(req, (outcome) => {
          if (outcome === 'failed') this.abuse.fail(address);
        });
        return;
      case 'BYE':
      case 'INFO':
      case 'UPDATE':
      case 'REFER':
        this.calls.onInDialogRequest(req);
        return;
      default:
        req.reply(405, { headers: [['Allow', ALLOW]] });
    }
  }

  async close(): Promise<void> {
    // Every call in flight ends cleanly: both sides hear BYE (or CANCEL), and call.ended says why.
    this.calls.closeAll('shutdown');
    this.calls.watchdog.stop();
    this.subscriptions.close();
    this.dialogs.close();
    await new Promise((r) => setTimeout(r, 50));
    for (const off of this.unsubscribe) off();
    // Our registrations with carriers are withdrawn (briefly bounded) while the stack can still send.
    await this.carriers?.close();
    await this.location.stop();
    await this.stack.close();
  }
}
