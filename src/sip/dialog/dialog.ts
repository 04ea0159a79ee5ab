/**
 * Dialogs (RFC 3261 section 12): the peer-to-peer relationship an INVITE's 2xx creates, identified by Call-ID,
 * local tag and remote tag. A dialog builds its in-dialog requests (section 12.2.1.1): Request-URI from the remote
 * target, Route from the route set, CSeq counting up, From/To with the tags. Requests go out on the dialog's flow,
 * the path the peer was reached on, which also keeps phones behind NAT reachable.
 */
import { randomBytes } from 'node:crypto';
import { SipHeaders, SipRequest, type SipResponse, type Uri } from '../message/index.ts';
import type { Flow } from '../transport/flow.ts';
import { readSessionExpires, type SessionExpires } from './session-timer.ts';

export interface DialogId {
  callId: string;
  localTag: string;
  remoteTag: string;
}

export function dialogKey(id: DialogId): string {
  return `${id.callId}|${id.localTag}|${id.remoteTag}`;
}

function withoutTag(header: string): string {
  return header.replace(/;\s*tag\s*=\s*[^;,\s]+/i, '');
}

export class Dialog {
  readonly id: DialogId;
  localSeq: number;
  remoteSeq: number | undefined;
  /** From/To as we send them: the local and remote addresses, without tags. */
  private readonly localAddress: string;
  private readonly remoteAddress: string;
  remoteTarget: Uri;
  readonly routeSet: string[];
  /**
   * The session timer the UAS granted in the 2xx that made this dialog, on the UAC side (rfc4028#section-7.2); a
   * UAS's own decision is the application's.
   */
  sessionExpires: SessionExpires | undefined = undefined;

  private constructor(
    id: DialogId,
    options: { localAddress: string; remoteAddress: string; remoteTarget: Uri; routeSet: string[]; localSeq: number; remoteSeq: number | undefined },
    readonly flow: Flow,
    readonly localContact: string,
  ) {
    this.id = id;
    this.localAddress = options.localAddress;
    this.remoteAddress = options.remoteAddress;
    this.remoteTarget = options.remoteTarget;
    this.routeSet = options.routeSet;
    this.localSeq = options.localSeq;
    this.remoteSeq = options.remoteSeq;
  }

  get key(): string {
    return dialogKey(this.id);
  }

  /** rfc3261#section-12.1.1: the UAS side, from the INVITE and the tag of our 2xx. */
  static asUas(invite: SipRequest, localTag: string, flow: Flow, localContact: string): Dialog {
    const contact = invite.contacts[0];
    return new Dialog(
      { callId: invite.callId, localTag, remoteTag: invite.from.params.get('tag') ?? '' },
      {
        localAddress: withoutTag(invite.headers.get('To') as string),
        remoteAddress: withoutTag(invite.headers.get('From') as string),
        remoteTarget: contact ? contact.uri : invite.from.uri,
        routeSet: invite.headers.values('Record-Route'),
        localSeq: randomBytes(2).readUInt16BE(0) + 1,
        remoteSeq: invite.cseq.seq,
      },
      flow,
      localContact,
    );
  }

  /** rfc3261#section-12.1.2: the UAC side, from our INVITE and its 2xx (route set reversed). */
  static asUac(invite: SipRequest, response: SipResponse, flow: Flow, localContact: string): Dialog {
    const contact = response.contacts[0];
    const dialog = new Dialog(
      { callId: invite.callId, localTag: invite.from.params.get('tag') ?? '', remoteTag: response.to.params.get('tag') ?? '' },
      {
        localAddress: withoutTag(invite.headers.get('From') as string),
        remoteAddress: withoutTag(invite.headers.get('To') as string),
        remoteTarget: contact ? contact.uri : invite.uri,
        routeSet: response.headers.values('Record-Route').reverse(),
        localSeq: invite.cseq.seq,
        remoteSeq: undefined,
      },
      flow,
      localContact,
    );
    dialog.sessionExpires = readSessionExpires(response.headers);
    return dialog;
  }

  /** A request inside the dialog; the CSeq counts up, except for ACK and CANCEL, which reuse `cseq`. */
  createRequest(method: string, options: { body?: Buffer; contentType?: string; headers?: Array<[string, string]>; cseq?: number } = {}): SipRequest {
    const headers = new SipHeaders();
    // Loose routing (rfc3261#section-12.2.1.1): the remote target is the Request-URI, the route set goes in Route.
    for (const route of this.routeSet) headers.add('Route', route);
    headers.add('Max-Forwards', '70');
    headers.add('From', `${this.localAddress};tag=${this.id.localTag}`);
    headers.add('To', `${this.remoteAddress};tag=${this.id.remoteTag}`);
    headers.add('Call-ID', this.id.callId);
    const seq = options.cseq ?? (method === 'ACK' || method === 'CANCEL' ? this.localSeq : ++this.localSeq);
    headers.add('CSeq', `${seq} ${method}`);
    if (method !== 'BYE' && method !== 'CANCEL' && method !== 'INFO') headers.add('Contact', this.localContact);
    for (const [name, value] of options.headers ?? []) headers.add(name, value);
    const body = options.body ?? Buffer.alloc(0);
    if (body.length > 0) headers.set('Content-Type', options.contentType ?? 'application/sdp');
    return new SipRequest(method, this.remoteTarget, headers, body);
  }

  /**
   * rfc3261#section-12.2.2: an in-dialog request must come in order; a lower CSeq is answered 500. A target refresh
   * (re-INVITE, UPDATE) with a Contact moves the remote target.
   */
  acceptRequest(request: SipRequest): boolean {
    const seq = request.cseq.seq;
    if (request.method !== 'ACK' && request.method !== 'CANCEL') {
      if (this.remoteSeq !== undefined && seq <= this.remoteSeq) return false;
      this.remoteSeq = seq;
    }
    if ((request.method === 'INVITE' || request.method === 'UPDATE') && request.headers.has('Contact')) {
      const contact = request.contacts[0];
      if (contact) this.remoteTarget = contact.uri;
    }
    return true;
  }

  /** The ids an incoming in-dialog request names, seen from our side. */
  static idOfIncoming(request: SipRequest): DialogId {
    return { callId: request.callId, localTag: request.to.params.get('tag') ?? '', remoteTag: request.from.params.get('tag') ?? '' };
  }
}

/** The Contact header value we give in a dialog: a SIP URI at our address, over the peer's transport. */
export function contactHeader(user: string, host: string, port: number | undefined, transport: string): string {
  return `<sip:${user}@${host}${port ? `:${port}` : ''};transport=${transport.toLowerCase()}>`;
}
