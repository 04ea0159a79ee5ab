/**
 * A leg: the B2BUA's side of one SIP dialog it places toward a party's contact, from its INVITE to its end. A call
 * has the inbound caller's dialog and one leg per contact it rings; a fork rings several legs at once.
 *
 *   Trying --18x--> Ringing --2xx--> Answered --call over--> Ended
 *   Trying/Ringing --3xx-6xx, timeout--> Failed --call over--> Ended
 *   Trying/Ringing --we cancel (another answered, ring timeout, caller gone)--> Cancelled --call over--> Ended
 *
 * Only Trying and Ringing are live. A move the table does not allow throws InvalidStateError.
 */
import {
  type ClientTransactionUser,
  Dialog,
  type Flow,
  type InviteClientTransaction,
  NO_USER,
  parseUri,
  randomToken,
  SipHeaders,
  SipRequest,
  type SipResponse,
  type SipStack,
  StateMachine,
} from '../../sip/index.ts';
import type { StoredSdp } from '../../media/index.ts';
import type { CallParty, LegAuth, LegRequest, LegTarget } from './call-types.ts';

export enum LegState {
  Trying = 'trying',
  Ringing = 'ringing',
  Answered = 'answered',
  Failed = 'failed',
  Cancelled = 'cancelled',
  Ended = 'ended',
}

export const LEG_MOVES: Record<LegState, readonly LegState[]> = {
  [LegState.Trying]: [LegState.Ringing, LegState.Answered, LegState.Failed, LegState.Cancelled, LegState.Ended],
  [LegState.Ringing]: [LegState.Answered, LegState.Failed, LegState.Cancelled, LegState.Ended],
  [LegState.Answered]: [LegState.Ended],
  [LegState.Failed]: [LegState.Ended],
  [LegState.Cancelled]: [LegState.Ended],
  [LegState.Ended]: [],
};

/** The INVITE of a new leg to `request.party`'s contact, from `from` (the caller, usually), with `extra` header fields before and after its Route set. */
export function inviteFor(request: LegRequest, from: CallParty, domain: string, contact: string, extra: { before: Array<[string, string]>; after: Array<[string, string]> }): SipRequest {
  const { binding, party, maxForwards, display, body, contentType, addressing } = request;
  const displayName = display === undefined ? '' : `"${display.replace(/(["\\])/g, '\\$1')}" `;
  const headers = new SipHeaders()
    .add('Max-Forwards', String(maxForwards))
    .add('From', `${addressing?.from ?? `${displayName}<sip:${from.number}@${domain}>`};tag=${randomToken()}`)
    .add('To', addressing?.to ?? `<sip:${party.number}@${domain}>`)
    .add('Call-ID', `${randomToken(12)}@switchboard`)
    .add('CSeq', '1 INVITE')
    .add('Contact', contact);
  for (const [name, value] of extra.before) headers.add(name, value);
  for (const [name, value] of addressing?.headers ?? []) headers.add(name, value);
  // A contact registered through an edge: its Path is the pre-loaded Route set (RFC 3327 section 5.3).
  for (const route of binding.path) headers.add('Route', route);
  for (const [name, value] of extra.after) headers.add(name, value);
  if (body && contentType) headers.add('Content-Type', contentType);
  return new SipRequest('INVITE', parseUri(binding.contact), headers, body ?? Buffer.alloc(0));
}

function hasTag(message: SipRequest | SipResponse, header: string, tag: string): boolean {
  return message.headers
    .values(header)
    .flatMap((v) => v.split(','))
    .some((t) => t.trim().toLowerCase() === tag);
}

/** Whether an INVITE said it speaks reliable provisional responses (`Supported: 100rel` or `Require: 100rel`). */
/** How many redirections (3xx) one carrier's leg follows. */
const MAX_REDIRECTS = 3;

export function offers100rel(invite: SipRequest): boolean {
  return hasTag(invite, 'Supported', '100rel') || hasTag(invite, 'Require', '100rel');
}

/** Whether a provisional response is sent reliably (rfc3262#section-3: `Require: 100rel`). */
export function isReliable(response: SipResponse): boolean {
  return response.status > 100 && response.status < 200 && hasTag(response, 'Require', '100rel');
}

export class Leg extends StateMachine<LegState> {
  tx: InviteClientTransaction | undefined;
  /** The INVITE as last sent: a challenge (401/407) answered with credentials sends it again, CSeq one higher. */
  invite: SipRequest;
  private user: ClientTransactionUser | undefined;
  dialog: Dialog | undefined;
  /** The final failure the leg was answered with, or 408 when it timed out. */
  finalStatus: number | undefined;
  /** Redirections (3xx) this leg followed. */
  private redirects = 0;
  /** A CANCEL waits for the first provisional response (rfc3261#section-9.1). */
  private cancelWhenProvisional = false;
  /**
   * A late offer (rfc3261#section-13.2.1): the leg offered in its 2xx, and its ACK waits for the caller's answer;
   * once known, the answer goes in every ACK of that 2xx.
   */
  ackHeld = false;
  ackAnswer: StoredSdp | undefined;
  /** Early dialogs a PRACK was sent in, by To tag: the dialog the 2xx confirms counts its CSeq on from there. */
  private readonly early = new Map<string, Dialog>();

  constructor(
    readonly binding: LegTarget,
    invite: SipRequest,
    readonly flow: Flow,
    /** The leg's media tag and branch. */
    readonly id: string,
    /** Whom the leg rings. */
    readonly party: CallParty,
    /** Credentials for a carrier's challenge; none for a phone (we never answer a phone's challenge). */
    private readonly auth?: LegAuth,
    /** A carrier's leg follows its redirections (3xx); a phone's 3xx is its answer. */
    private readonly followsRedirects = false,
  ) {
    super(LegState.Trying, LEG_MOVES, LegState.Ended, 'leg');
    this.invite = invite;
  }

  /** Still waiting for its final answer. */
  get live(): boolean {
    return this.state === LegState.Trying || this.state === LegState.Ringing;
  }

  /** Sends the leg's INVITE; its responses go to `user`. */
  send(stack: SipStack, user: ClientTransactionUser): void {
    this.user = user;
    this.tx = stack.sendRequest(this.invite, this.flow, user) as InviteClientTransaction;
  }

  /**
   * A challenge (401/407) to the leg's INVITE, answered once with the carrier's credentials (rfc3261#section-22.2):
   * the same INVITE in a new transaction, CSeq one higher. False when there is nothing to answer it with (no
   * credentials, or they were refused already): the challenge is then the leg's failure.
   */
  authenticate(stack: SipStack, challenge: SipResponse): boolean {
    if (!this.live || !this.user || this.cancelWhenProvisional) return false;
    const retry = this.auth?.retry(this.invite, challenge);
    if (!retry) return false;
    this.invite = retry;
    this.tx = stack.sendRequest(retry, this.flow, this.user) as InviteClientTransaction;
    return true;
  }

  /** A provisional answer: true the first time, when the leg starts ringing. */
  ringing(): boolean {
    if (this.state !== LegState.Trying) return false;
    this.moveTo(LegState.Ringing);
    return true;
  }

  /** The leg's 2xx: its dialog is made from the first one. True for the first. */
  answer(response: SipResponse): boolean {
    if (this.dialog) return false;
    this.dialog = Dialog.asUac(this.invite, response, this.flow, this.invite.headers.get('Contact') as string);
    // A PRACK went in this dialog while it was early: later requests count on from its CSeq (rfc3261#section-12.2.1.1).
    const early = this.early.get(response.to.params.get('tag') ?? '');
    if (early) this.dialog.localSeq = early.localSeq;
    return true;
  }

  /**
   * A reliable provisional response (rfc3262#section-4) to an INVITE that offered 100rel (a carrier's leg): its PRACK,
   * in the early dialog the response makes, with RAck naming it. Sent once per new RSeq; a retransmitted response is
   * dropped before it gets here, and the PRACK's own transaction retransmits it until answered.
   */
  prack(stack: SipStack, response: SipResponse): void {
    if (!offers100rel(this.invite) || !isReliable(response)) return;
    const rseq = Number(response.headers.get('RSeq')?.trim());
    if (!Number.isInteger(rseq) || rseq <= 0) return;
    const tag = response.to.params.get('tag') ?? '';
    let early = this.early.get(tag);
    if (!early) {
      early = Dialog.asUac(this.invite, response, this.flow, this.invite.headers.get('Contact') as string);
      this.early.set(tag, early);
    }
    stack.sendRequest(early.createRequest('PRACK', { headers: [['RAck', `${rseq} ${this.invite.cseq.seq} INVITE`]] }), this.flow, NO_USER);
  }

  /**
   * A carrier's redirection (3xx): the INVITE again, to the first Contact as its Request-URI, CSeq one higher, same
   * Call-ID, From and To (rfc3261#section-8.1.3.4), a few times at most. It still goes to the same carrier (its server,
   * or its proxy): never straight to an address a 3xx names, which would hand our credentials, and a relay, to
   * whoever answers a carrier's call with a redirection. False when the leg does not follow it: the 3xx is its failure.
   */
  redirect(stack: SipStack, response: SipResponse): boolean {
    const target = response.contacts[0]?.uri;
    if (!this.followsRedirects || !target || !this.live || !this.user || this.cancelWhenProvisional || this.redirects >= MAX_REDIRECTS) return false;
    this.redirects++;
    const headers = this.invite.headers.clone();
    headers.remove('Via');
    headers.set('CSeq', `${this.invite.cseq.seq + 1} INVITE`);
    this.invite = new SipRequest('INVITE', target, headers, this.invite.body);
    this.tx = stack.sendRequest(this.invite, this.flow, this.user) as InviteClientTransaction;
    return true;
  }

  /** The leg is the one its fork took. */
  taken(): void {
    if (this.state !== LegState.Answered) this.moveTo(LegState.Answered);
  }

  /** A 2xx nobody wants any more (another leg won, or the call is over): it will be hung up. */
  refused(): void {
    if (this.live) this.moveTo(LegState.Cancelled);
  }

  /** A final failure: false if the leg was not waiting for one (cancelled already, or answered). */
  fail(status: number): boolean {
    if (!this.live) return false;
    this.moveTo(LegState.Failed);
    this.finalStatus = status;
    return true;
  }

  /** Gives up on the leg: CANCEL now, or after its first provisional response (rfc3261#section-9.1). */
  cancel(stack: SipStack): void {
    if (!this.live || !this.tx) return;
    const wasTrying = this.state === LegState.Trying;
    this.moveTo(LegState.Cancelled);
    if (wasTrying) this.cancelWhenProvisional = true;
    else this.sendCancel(stack);
  }

  private sendCancel(stack: SipStack): void {
    const cancel = this.tx?.createCancel();
    if (cancel) stack.sendRequest(cancel, this.flow, NO_USER, { keepVia: true });
  }

  /** A provisional response that needs nothing more: 100, or the first one after a CANCEL held back, sent now. */
  consumedProvisional(stack: SipStack, status: number): boolean {
    if (status === 100) return true;
    if (!this.cancelWhenProvisional) return false;
    this.cancelWhenProvisional = false;
    this.sendCancel(stack);
    return true;
  }

  /**
   * The ACK for the leg's 2xx, ours to send end to end (rfc3261#section-13.2.2.4), again for each retransmission. A
   * late offer's ACK carries the caller's answer: none before it is known, the same one after.
   */
  ack(stack: SipStack): void {
    if (!this.dialog || this.ackHeld) return;
    const answer = this.ackAnswer;
    stack.sendStateless(this.dialog.createRequest('ACK', { cseq: this.invite.cseq.seq, body: answer?.body, contentType: answer?.type }), this.flow);
  }

  /**
   * The call is over. The INVITE transaction outlives it by up to 32 s (Timers B, D and M): one with its final
   * answer needs nothing more; one still waiting for it (a phone that never answered, not even 100) is looked after
   * without the call: a provisional answer lets the held-back CANCEL go, a 2xx is acknowledged and hung up.
   */
  release(stack: SipStack): void {
    const tx = this.tx;
    if (tx) {
      if (tx.state === 'accepted' || tx.state === 'completed' || tx.state === 'terminated') tx.release();
      else tx.release(this.lateAnswers(stack));
    }
    this.terminate();
  }

  private lateAnswers(stack: SipStack): ClientTransactionUser {
    return {
      onResponse: (response) => {
        if (response.status < 200) {
          if (response.status > 100) this.consumedProvisional(stack, response.status);
          return;
        }
        if (response.status >= 300) return;
        const first = this.answer(response);
        this.ackHeld = false;
        this.ack(stack);
        const dialog = this.dialog as Dialog;
        if (first) stack.sendRequest(dialog.createRequest('BYE'), dialog.flow, NO_USER);
      },
      onTimeout() {},
    };
  }
}
