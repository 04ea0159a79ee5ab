/**
 * The registrar (RFC 3261 section 10.3; Kamailio's `save`). A REGISTER is authenticated by digest against the HA1
 * of the extension named in its To URI, in the tenant whose SIP domain is the To host; then each Contact is bound,
 * refreshed or removed, and the answer lists every current binding with its expiry.
 *
 * Bounds: an expiry below {@link RegistrarOptions.minExpires} is answered 423 with Min-Expires; above
 * `maxExpires` it is shortened; without one, `defaultExpires`. `Contact: *` with `Expires: 0` removes them all.
 *
 * Path (RFC 3327): a REGISTER relayed by an edge proxy carries the proxies' Path values; they are stored with each
 * binding, in order, and requests to the contact are routed through them (see CallManager.contactsOf). They are
 * echoed in the 200 to a phone that said `Supported: path` (section 5.3). One that did not is registered all the
 * same, as Kamailio's `lazy` path mode does: the edge, not the phone, wrote the Path, and refusing it with 420
 * would turn away the many phones that never say they support it while gaining nothing (the phone never sees it).
 */
import { type DigestAlgorithm, type DigestAuthenticator, type IncomingRequest, isSipUri, parseDecimal, parseDigestCredentials, SipSyntaxError } from '../sip/index.ts';
import type { LocationService } from './location-service.ts';

/** What the registrar needs to know of an extension; the directory provides it. */
export interface ExtensionCredentials {
  tenantId: string;
  extensionId: string;
  number: number;
  realm: string;
  ha1Md5: string;
  ha1Sha256: string;
  isActive: boolean;
}

export interface CredentialStore {
  findCredentials(domain: string, user: string): Promise<ExtensionCredentials | undefined>;
  /** HA1s of other passwords good now for these credentials (a browser softphone's short-lived ones). */
  alternateHa1s?(credentials: ExtensionCredentials, algorithm: DigestAlgorithm): string[];
}

export interface RegistrarOptions {
  minExpires: number;
  maxExpires: number;
  defaultExpires: number;
}

export const DEFAULT_REGISTRAR_OPTIONS: RegistrarOptions = { minExpires: 60, maxExpires: 3600, defaultExpires: 3600 };

/** Outcome of an authentication, for abuse accounting. */
export type AuthOutcome = 'ok' | 'challenged' | 'failed';

export class Registrar {
  constructor(
    private readonly credentials: CredentialStore,
    private readonly location: LocationService,
    private readonly digest: DigestAuthenticator,
    private readonly options: RegistrarOptions = DEFAULT_REGISTRAR_OPTIONS,
  ) {}

  /**
   * Authenticates a request from an extension of `domain`: answers the credentials on success; otherwise replies
   * itself (401 challenge, 401 stale, 403) and answers undefined. `headerName` is Authorization for a registrar
   * (401) and Proxy-Authorization for other requests (407).
   */
  async authenticate(
    req: IncomingRequest,
    domain: string,
    user: string,
    onOutcome: (outcome: AuthOutcome) => void,
  ): Promise<ExtensionCredentials | undefined> {
    const isRegister = req.message.method === 'REGISTER';
    const challengeStatus = isRegister ? 401 : 407;
    const authHeader = isRegister ? 'Authorization' : 'Proxy-Authorization';
    const challengeHeader = isRegister ? 'WWW-Authenticate' : 'Proxy-Authenticate';
    const challenge = (stale: boolean) => {
      onOutcome('challenged');
      req.reply(challengeStatus, { headers: this.digest.challenge(domain, stale).map((v) => [challengeHeader, v] as [string, string]) });
      return undefined;
    };
    const offered = req.message.headers.getAll(authHeader).filter((v) => /^\s*Digest\s/i.test(v));
    if (offered.length === 0) return challenge(false);
    let credentials;
    try {
      credentials = parseDigestCredentials(offered[0] as string);
    } catch (err) {
      if (!(err instanceof SipSyntaxError)) throw err;
      onOutcome('failed');
      req.reply(400, { reason: `Bad Request (${err.message})` });
      return undefined;
    }
    // Only the extension itself may register or call as itself.
    const record = credentials.username === user ? await this.credentials.findCredentials(domain, user) : undefined;
    const store = this.credentials;
    // The permanent secret's HA1 first; the others are computed only when it does not match.
    const lookup = (_username: string, algorithm: DigestAlgorithm) =>
      record && record.isActive
        ? (function* () {
            yield algorithm === 'MD5' ? record.ha1Md5 : record.ha1Sha256;
            yield* store.alternateHa1s?.(record, algorithm) ?? [];
          })()
        : undefined;
    const verdict = this.digest.verify(credentials, req.message.method, record?.realm ?? domain, lookup);
    if (verdict.ok && record) {
      onOutcome('ok');
      return record;
    }
    if (!verdict.ok && verdict.stale) return challenge(true);
    onOutcome('failed');
    req.reply(403, { reason: 'Forbidden (wrong credentials)' });
    return undefined;
  }

  async onRegister(req: IncomingRequest, onOutcome: (outcome: AuthOutcome) => void): Promise<void> {
    const msg = req.message;
    const to = msg.to.uri;
    if (!isSipUri(to) || !to.user) {
      req.reply(404, { reason: 'Not Found (the To URI must name an extension)' });
      return;
    }
    const record = await this.authenticate(req, to.host, to.user, onOutcome);
    if (!record) return;

    // rfc3261#section-10.3 step 6: the expiry of each contact.
    let headerExpires: number | undefined;
    try {
      const raw = msg.headers.get('Expires');
      headerExpires = raw === undefined ? undefined : parseDecimal(raw, 0xffffffff, 'Expires');
    } catch {
      req.reply(400, { reason: 'Bad Request (invalid Expires)' });
      return;
    }

    const existing = this.location.lookup(record.extensionId);
    if (msg.isWildcardContact) {
      if (headerExpires !== 0) {
        req.reply(400, { reason: 'Bad Request (Contact: * needs Expires: 0)' });
        return;
      }
      for (const b of existing) {
        if (b.callId === msg.callId && msg.cseq.seq <= b.cseq) {
          req.reply(500, { reason: 'Server Internal Error (out of order REGISTER)', headers: [['Retry-After', '1']] });
          return;
        }
      }
      await this.location.removeAll(record.extensionId, 'unregistered');
      req.reply(200, { headers: [['Date', new Date().toUTCString()]] });
      return;
    }

    const updates: Array<{ contact: string; expires: number }> = [];
    for (const c of msg.contacts) {
      let expires = headerExpires ?? this.options.defaultExpires;
      const param = c.params.get('expires');
      if (param !== undefined && param !== null) {
        try {
          expires = parseDecimal(param, Number.MAX_SAFE_INTEGER, 'expires');
        } catch {
          expires = this.options.maxExpires;
        }
      }
      if (expires !== 0 && expires < this.options.minExpires) {
        req.reply(423, { headers: [['Min-Expires', String(this.options.minExpires)]] });
        return;
      }
      updates.push({ contact: c.uriText, expires: Math.min(expires, this.options.maxExpires) });
    }

    // rfc3261#section-10.3 step 7: a binding from the same Call-ID with a CSeq not higher is out of order.
    for (const u of updates) {
      const b = existing.find((x) => x.contact === u.contact);
      if (b && b.callId === msg.callId && msg.cseq.seq <= b.cseq) {
        req.reply(500, { reason: 'Server Internal Error (out of order REGISTER)', headers: [['Retry-After', '1']] });
        return;
      }
    }

    const path = msg.headers.values('Path');
    const now = Date.now();
    const flow = req.flow;
    for (const u of updates) {
      const current = existing.find((x) => x.contact === u.contact);
      if (u.expires === 0) {
        if (current) await this.location.remove(current, 'unregistered');
        continue;
      }
      await this.location.save({
        tenantId: record.tenantId,
        extensionId: record.extensionId,
        number: record.number,
        contact: u.contact,
        callId: msg.callId,
        cseq: msg.cseq.seq,
        transport: flow.protocol,
        sourceAddress: flow.remoteAddress,
        sourcePort: flow.remotePort,
        userAgent: msg.headers.get('User-Agent') ?? null,
        expiresAt: new Date(now + u.expires * 1000),
        registeredAt: new Date(now),
        // Through an edge, the connection is the edge's, not the phone's: the Path is the way back.
        flow: flow.reliable && path.length === 0 ? flow : undefined,
        path,
      });
    }

    const contacts = this.location.lookup(record.extensionId).map(
      (b) => ['Contact', `<${b.contact}>;expires=${Math.max(0, Math.round((b.expiresAt.getTime() - now) / 1000))}`] as [string, string],
    );
    const supportsPath = msg.headers.values('Supported').some((tag) => tag.toLowerCase() === 'path');
    const echoed = supportsPath ? path.map((p) => ['Path', p] as [string, string]) : [];
    req.reply(200, { headers: [...contacts, ...echoed, ['Date', new Date(now).toUTCString()]] });
  }
}
