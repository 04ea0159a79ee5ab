/**
 * Requests inside a call's dialogs (rfc3261#section-12.2.2): once the call is answered, BYE on either side ends both,
 * and re-INVITE, UPDATE and INFO are relayed across, each SDP through the media plane and the answer relayed back.
 * A task in progress (a consultation) sees each request first. A REFER goes to the call's owner. DTMF sent by SIP
 * INFO is reported like the relay's RFC 4733 digits; a carrier's INFO digit may be played as events instead of
 * relayed (see carrier-dtmf.ts).
 *
 * Also here: the 2xx we owe a party until its ACK (rfc3261#section-13.3.1.4), and offers that come in a 2xx and are
 * answered in the ACK (a late offer, rfc3261#section-13.2.1, or a re-INVITE without SDP, rfc3261#section-14.1).
 */
import type { Dialog, Flow, IncomingRequest, SipRequest, SipResponse } from '../../sip/index.ts';
import { isSdp, sdpHolds, sdpOf, type StoredSdp } from '../../media/index.ts';
import type { CallContext } from './call-context.ts';
import { infoDigit, takeCarrierInfo } from './carrier-dtmf.ts';
import { type CallSide, CallState, otherSide } from './call-types.ts';
import type { Leg } from './leg.ts';
import { sdpMessage } from './media-bridge.ts';

/** A re-INVITE without SDP relayed from `side`: the other side offered in its 2xx, and our ACK waits for the answer. */
interface ReinviteOffer {
  side: CallSide;
  from: Dialog;
  to: Dialog;
  cseq: number;
  offer: StoredSdp;
  answer?: StoredSdp;
}

export class InDialog {
  /** The 2xx we owe a party until its ACK comes (rfc3261#section-13.3.1.4). */
  private pending2xx: SipResponse | undefined;
  /** A late offer: the caller's INVITE had no SDP, the leg that answered offered in its 2xx (see RingRound). */
  lateOffer: Leg | undefined;
  private reinviteOffer: ReinviteOffer | undefined;

  constructor(private readonly call: CallContext) {}

  onRequest(req: IncomingRequest, from: Dialog): void {
    const call = this.call;
    if (!from.acceptRequest(req.message)) {
      req.reply(500, { reason: 'Server Internal Error (CSeq out of order)', headers: [['Retry-After', '1']] });
      return;
    }
    // A party that left (a transfer let it go) may still send its BYE, or a late request: it moves nothing.
    if (call.hasEnded(from)) {
      req.reply(req.message.method === 'BYE' ? 200 : 481);
      return;
    }
    if (call.task?.onRequest?.(req, from)) return;
    const to = from === call.callerDialog ? call.answered?.dialog : call.callerDialog;
    const method = req.message.method;
    if (method === 'REFER') {
      // The party who answered may transfer before its answer reached the caller: it waits until then.
      if (!to && call.state === CallState.Answered && from === call.answered?.dialog) call.toCaller(async () => this.refer(req, from));
      else this.refer(req, from);
      return;
    }
    if (method === 'BYE') {
      req.reply(200);
      call.markEnded(from);
      if (to) call.bye(to);
      call.end(from === call.callerDialog ? 'caller-hangup' : 'callee-hangup');
      return;
    }
    if (!to && from === call.callerDialog) {
      this.whileWaiting(req);
      return;
    }
    if (!to || call.state !== CallState.Answered) {
      req.reply(481);
      return;
    }
    const side: CallSide = from === call.callerDialog ? 'caller' : 'callee';
    if (method === 'INFO') {
      if (takeCarrierInfo(call, req, side)) return;
      const digit = infoDigit(req.message.headers.get('Content-Type'), req.message.body);
      if (digit) call.notices.dtmf(side, digit, 'info');
    }
    // re-INVITE (hold from a phone), UPDATE, INFO (DTMF): relayed across, the answer relayed back.
    this.relayAcross(req, side, from, to).catch((err: unknown) => {
      if (!req.transaction.finalSent) req.reply(500, { reason: 'Server Internal Error (media relay failed)' });
      call.mediaFailed(err);
    });
  }

  /** A REFER from a party of the answered call goes to the call's owner, unless the call cannot be transferred now. */
  private refer(req: IncomingRequest, from: Dialog): void {
    const { call } = this;
    const to = from === call.callerDialog ? call.answered?.dialog : call.callerDialog;
    if (call.state !== CallState.Answered || call.task || !to) req.reply(491, { reason: 'Request Pending (the call is not answered, or a transfer is in progress)' });
    else call.notices.refer(req, from === call.callerDialog ? 'caller' : 'callee', from);
  }

  /**
   * A request from the caller the PBX answered, while it waits: a new offer is answered by the relay for the PBX's
   * side again (a phone refreshing its session), DTMF is reported, the rest is acknowledged.
   */
  private whileWaiting(req: IncomingRequest): void {
    const call = this.call;
    const method = req.message.method;
    const offer = sdpOf(req.message);
    if (method === 'INFO') {
      const digit = infoDigit(req.message.headers.get('Content-Type'), req.message.body);
      if (digit) call.notices.dtmf('caller', digit, 'info');
    }
    if ((method !== 'INVITE' && method !== 'UPDATE') || !offer) {
      // An UPDATE without a body refreshes the session (rfc4028#section-10): its 2xx grants the timer again.
      req.reply(method === 'INVITE' ? 488 : 200, method === 'UPDATE' ? { headers: call.notices.answerHeaders(call.callerDialog as Dialog, req.message) } : undefined);
      return;
    }
    call.bridge
      .answerFromPbx(offer, req.flow)
      .then((answer) => {
        if (call.state === CallState.Ended) return req.reply(481);
        const dialog = call.callerDialog as Dialog;
        const headers: Array<[string, string]> = [...(method === 'INVITE' ? [['Contact', dialog.localContact] as [string, string]] : []), ...call.notices.answerHeaders(dialog, req.message)];
        const ok = req.reply(200, { body: Buffer.from(answer, 'utf8'), contentType: 'application/sdp', headers });
        if (method === 'INVITE') this.await2xxAck(ok, req.message, req.flow);
        return ok;
      })
      .catch((err: unknown) => {
        if (!req.transaction.finalSent) req.reply(500, { reason: 'Server Internal Error (media relay failed)' });
        call.mediaFailed(err);
      });
  }

  /** Sends an in-dialog request of `side` on to the other dialog, its SDP offer through the media plane first. */
  private async relayAcross(req: IncomingRequest, side: CallSide, from: Dialog, to: Dialog): Promise<void> {
    const { call } = this;
    const { bridge } = call;
    const method = req.message.method;
    const sdpOffer = (method === 'INVITE' || method === 'UPDATE') && isSdp(req.message.headers.get('Content-Type'), req.message.body);
    const body = sdpOffer
      ? await bridge.body('offer', req.message, bridge.tagOf(side), bridge.tagOf(otherSide(side)), to.flow)
      : req.message.body.length > 0 ? req.message.body : undefined;
    if (call.state === CallState.Ended) {
      req.reply(481);
      return;
    }
    const relay = to.createRequest(method, { body, contentType: req.message.headers.get('Content-Type') });
    call.stack.sendRequest(relay, to.flow, {
      onResponse: (response) => {
        if (response.status < 200) return;
        const offer = method === 'INVITE' && !sdpOffer && response.status < 300 ? sdpOf(response) : undefined;
        if (offer) {
          // The other side offered in its 2xx: the ACK carries the answer, once `side` gives it.
          const pending = this.reinviteOffer;
          if (pending?.to === to && pending.cseq === relay.cseq.seq) {
            if (pending.answer) this.ackWithAnswer(to, pending.cseq, pending.answer);
            return;
          }
          this.reinviteOffer = { side, from, to, cseq: relay.cseq.seq, offer };
        } else if (method === 'INVITE' && response.status < 300) call.stack.sendStateless(to.createRequest('ACK', { cseq: relay.cseq.seq }), to.flow);
        this.relayBack(req, side, from, response, sdpOffer).catch((err: unknown) => call.mediaFailed(err));
      },
      onTimeout: () => {
        if (!req.transaction.finalSent) req.reply(408);
      },
    });
  }

  /** The other side's final answer to a relayed request, back to `side` (its SDP through the media plane). */
  private async relayBack(req: IncomingRequest, side: CallSide, from: Dialog, response: SipResponse, sdpOffer: boolean): Promise<void> {
    const { call } = this;
    const { bridge } = call;
    const success = response.status < 300;
    const isInvite = req.message.method === 'INVITE';
    const offered = !sdpOffer && this.reinviteOffer?.from === from && isInvite && success;
    const there = bridge.tagOf(otherSide(side));
    const answered = offered
      ? await bridge.body('offer', response, there, bridge.tagOf(side), from.flow)
      : sdpOffer && success ? await bridge.body('answer', response, there, bridge.tagOf(side), from.flow) : undefined;
    if (side === 'caller' && answered && !offered) bridge.callerAnswer = answered.toString('utf8');
    const answer = req.reply(response.status, {
      reason: response.reason,
      body: answered ?? (response.body.length > 0 ? response.body : undefined),
      contentType: response.headers.get('Content-Type'),
      headers: [...(isInvite && success ? [['Contact', from.localContact] as [string, string]] : []), ...(success ? call.notices.answerHeaders(from, req.message) : [])],
    });
    if (isInvite && success) this.await2xxAck(answer, req.message, req.flow);
    if (sdpOffer && success) {
      bridge.note(side, req.message);
      bridge.note(otherSide(side), response);
      await bridge.setHolding(side, sdpHolds(req.message.body.toString('utf8')));
    }
  }

  /** Retransmits a 2xx (T1 doubling to T2) until its ACK; without one in 64*T1, the call ends. */
  await2xxAck(response: SipResponse, request: SipRequest, flow: Flow): void {
    const { call } = this;
    this.pending2xx = response;
    const { T1, T2 } = call.timerValues;
    let interval = T1;
    const retransmit = () => {
      if (this.pending2xx !== response) return;
      if (!flow.reliable) call.stack.sendResponse2xx(response, request, flow);
      interval = Math.min(interval * 2, T2);
      call.after(interval, retransmit);
    };
    call.after(interval, retransmit);
    call.after(64 * T1, () => {
      if (this.pending2xx === response) call.hangUpAll('ack-timeout');
    });
  }

  /** An ACK in one of the call's dialogs (`dialog`): the answer to the 2xx we owed, with a late offer's answer. */
  onAck(ack?: SipRequest, dialog?: Dialog): void {
    this.pending2xx = undefined;
    const leg = this.lateOffer;
    if (ack && leg && dialog !== undefined && dialog === this.call.callerDialog) this.lateAnswer(ack, leg);
    const reinvite = this.reinviteOffer;
    if (ack && reinvite && !reinvite.answer && dialog === reinvite.from) this.reinviteAnswer(ack, reinvite);
  }

  /**
   * The caller's ACK to a 2xx that carried a late offer: its SDP is the answer (rfc3264#section-4), which goes to the
   * leg that offered in its ACK, through the relay. An ACK without one leaves the session with no media agreed: the
   * call is hung up.
   */
  private lateAnswer(ack: SipRequest, leg: Leg): void {
    const { call } = this;
    this.lateOffer = undefined;
    const answer = sdpOf(ack);
    if (!answer) {
      leg.ackHeld = false;
      leg.ack(call.stack);
      call.hangUpAll('failed');
      return;
    }
    call.bridge.note('caller', ack);
    call.toCaller(async () => {
      const body = await call.bridge.body('answer', ack, call.bridge.callerTag, leg.id, leg.flow);
      if (body) leg.ackAnswer = { body, type: answer.type };
      leg.ackHeld = false;
      leg.ack(call.stack);
    });
  }

  /**
   * The ACK of the side whose re-INVITE had no SDP: its answer to the other side's offer goes on in our ACK to the
   * other side, through the relay (rfc3264#section-4). Without one, the other side is acknowledged as it is.
   */
  private reinviteAnswer(ack: SipRequest, r: ReinviteOffer): void {
    const { call } = this;
    const answer = sdpOf(ack);
    if (!answer || call.state !== CallState.Answered) {
      call.stack.sendStateless(r.to.createRequest('ACK', { cseq: r.cseq }), r.to.flow);
      return;
    }
    call.toCaller(async () => {
      const other = otherSide(r.side);
      const body = await call.bridge.body('answer', ack, call.bridge.tagOf(r.side), call.bridge.tagOf(other), r.to.flow);
      r.answer = { body: body ?? answer.body, type: answer.type };
      this.ackWithAnswer(r.to, r.cseq, r.answer);
      call.bridge.note(other, sdpMessage(r.offer));
      call.bridge.note(r.side, ack);
    });
  }

  private ackWithAnswer(to: Dialog, cseq: number, answer: StoredSdp): void {
    this.call.stack.sendStateless(to.createRequest('ACK', { cseq, body: answer.body, contentType: answer.type }), to.flow);
  }

  /** A re-INVITE in `dialog` (a transfer asks a party to talk with someone new), acknowledged when it succeeds. */
  reinvite(dialog: Dialog, body: Buffer | undefined, contentType: string | undefined): Promise<SipResponse> {
    const { stack } = this.call;
    return new Promise((resolve, reject) => {
      const invite = dialog.createRequest('INVITE', { body, contentType });
      stack.sendRequest(invite, dialog.flow, {
        onResponse: (response) => {
          if (response.status < 200) return;
          if (response.status < 300) stack.sendStateless(dialog.createRequest('ACK', { cseq: invite.cseq.seq }), dialog.flow);
          resolve(response);
        },
        onTimeout: () => reject(new Error('the re-INVITE to the caller timed out')),
      });
    });
  }

  /** The call ended: no 2xx is owed any more. */
  close(): void {
    this.pending2xx = undefined;
  }
}
