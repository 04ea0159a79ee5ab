/**
 * Client transactions (RFC 3261 section 17.1, with RFC 6026's Accepted state for INVITE 2xx).
 *
 * INVITE (rfc3261#section-17.1.1, rfc6026#section-8.4):
 *
 *   Calling --1xx--> Proceeding --2xx--> Accepted --Timer M--> Terminated
 *   Calling/Proceeding --3xx-6xx (ACK sent)--> Completed --Timer D--> Terminated
 *   Calling --Timer B--> Terminated (timeout: the TU hears 408)
 *
 * Non-INVITE (rfc3261#section-17.1.2):
 *
 *   Trying --1xx--> Proceeding --final--> Completed --Timer K--> Terminated
 *   Trying/Proceeding --Timer F--> Terminated (timeout)
 *
 * Over UDP the request is retransmitted (Timer A from T1 doubling for INVITE while Calling; Timer E from T1 doubling
 * up to T2 for others). Every 2xx of an INVITE reaches the TU (forked answers included); the ACK for a 2xx is the
 * TU's, the ACK for a failure the transaction's own.
 */
import { SipHeaders, SipRequest, type SipResponse } from '../message/index.ts';
import type { Flow } from '../transport/flow.ts';
import type { TransactionTimers } from './server-transaction.ts';
import { StateMachine } from './state-machine.ts';

export enum ClientTransactionState {
  Calling = 'calling',
  Trying = 'trying',
  Proceeding = 'proceeding',
  Completed = 'completed',
  Accepted = 'accepted',
  Terminated = 'terminated',
}

export interface ClientTransactionUser {
  onResponse(response: SipResponse): void;
  /** Timer B or F fired: no final response came. */
  onTimeout(): void;
}

/** A transaction user that wants nothing: for requests whose answer does not matter (a BYE, a CANCEL). */
export const NO_USER: ClientTransactionUser = { onResponse() {}, onTimeout() {} };

const LEGAL: Record<ClientTransactionState, readonly ClientTransactionState[]> = {
  [ClientTransactionState.Calling]: [ClientTransactionState.Proceeding, ClientTransactionState.Completed, ClientTransactionState.Accepted, ClientTransactionState.Terminated],
  [ClientTransactionState.Trying]: [ClientTransactionState.Proceeding, ClientTransactionState.Completed, ClientTransactionState.Terminated],
  [ClientTransactionState.Proceeding]: [ClientTransactionState.Completed, ClientTransactionState.Accepted, ClientTransactionState.Terminated],
  [ClientTransactionState.Completed]: [ClientTransactionState.Terminated],
  [ClientTransactionState.Accepted]: [ClientTransactionState.Terminated],
  [ClientTransactionState.Terminated]: [],
};

export abstract class ClientTransaction extends StateMachine<ClientTransactionState> {
  /** The request and its bytes, until the final response: a finished transaction keeps only what it must. */
  protected request: SipRequest | undefined;
  protected bytes: Buffer | undefined;

  constructor(
    readonly key: string,
    request: SipRequest,
    readonly flow: Flow,
    protected readonly timerValues: TransactionTimers,
    protected user: ClientTransactionUser,
    initial: ClientTransactionState,
  ) {
    super(initial, LEGAL, ClientTransactionState.Terminated, 'client transaction');
    this.request = request;
    this.bytes = request.toBuffer();
  }

  abstract start(): void;
  abstract receiveResponse(response: SipResponse): void;

  /**
   * The TU is done with this transaction: responses that still come until the transaction ends go to `next`
   * (by default nobody), and the TU is not kept alive for them. The ACK of a failure, the transaction's own, still goes.
   */
  release(next: ClientTransactionUser = NO_USER): void {
    this.user = next;
  }

  protected send(): void {
    if (this.bytes && !this.flow.send(this.bytes)) {
      // The connection is gone: nothing will ever answer.
      this.moveTo(ClientTransactionState.Terminated);
      this.user.onTimeout();
    }
  }
}

export class NonInviteClientTransaction extends ClientTransaction {
  constructor(key: string, request: SipRequest, flow: Flow, timers: TransactionTimers, user: ClientTransactionUser) {
    super(key, request, flow, timers, user, ClientTransactionState.Trying);
  }

  start(): void {
    const { T1, T2 } = this.timerValues;
    this.send();
    if (!this.flow.reliable) {
      let interval = T1;
      const timerE = () => {
        if (this.state !== ClientTransactionState.Trying && this.state !== ClientTransactionState.Proceeding) return;
        this.send();
        interval = this.state === ClientTransactionState.Proceeding ? T2 : Math.min(interval * 2, T2);
        this.after(interval, timerE);
      };
      this.after(interval, timerE);
    }
    this.after(64 * T1, () => {
      // Timer F
      if (this.state === ClientTransactionState.Trying || this.state === ClientTransactionState.Proceeding) {
        this.moveTo(ClientTransactionState.Terminated);
        this.user.onTimeout();
      }
    });
  }

  receiveResponse(response: SipResponse): void {
    if (this.state !== ClientTransactionState.Trying && this.state !== ClientTransactionState.Proceeding) return;
    if (response.status < 200) {
      if (this.state === ClientTransactionState.Trying) this.moveTo(ClientTransactionState.Proceeding);
      this.user.onResponse(response);
      return;
    }
    this.clearTimers();
    this.moveTo(ClientTransactionState.Completed);
    this.request = this.bytes = undefined;
    this.user.onResponse(response);
    this.after(this.flow.reliable ? 0 : this.timerValues.T4, () => this.moveTo(ClientTransactionState.Terminated)); // Timer K
  }
}

export class InviteClientTransaction extends ClientTransaction {
  private ack: Buffer | undefined;

  constructor(key: string, request: SipRequest, flow: Flow, timers: TransactionTimers, user: ClientTransactionUser) {
    super(key, request, flow, timers, user, ClientTransactionState.Calling);
  }

  start(): void {
    const { T1 } = this.timerValues;
    this.send();
    if (!this.flow.reliable) {
      let interval = T1;
      const timerA = () => {
        if (this.state !== ClientTransactionState.Calling) return;
        this.send();
        interval *= 2;
        this.after(interval, timerA);
      };
      this.after(interval, timerA);
    }
    this.after(64 * T1, () => {
      // Timer B
      if (this.state === ClientTransactionState.Calling) {
        this.moveTo(ClientTransactionState.Terminated);
        this.user.onTimeout();
      }
    });
  }

  receiveResponse(response: SipResponse): void {
    const { T1 } = this.timerValues;
    switch (this.state) {
      case ClientTransactionState.Calling:
      case ClientTransactionState.Proceeding:
        if (response.status < 200) {
          if (this.state === ClientTransactionState.Calling) {
            this.clearTimers();
            this.moveTo(ClientTransactionState.Proceeding);
          }
          this.user.onResponse(response);
        } else if (response.status < 300) {
          this.clearTimers();
          this.moveTo(ClientTransactionState.Accepted);
          this.request = this.bytes = undefined;
          this.after(64 * T1, () => this.moveTo(ClientTransactionState.Terminated)); // Timer M
          this.user.onResponse(response);
        } else {
          this.clearTimers();
          this.moveTo(ClientTransactionState.Completed);
          this.sendAck(response);
          this.request = this.bytes = undefined;
          this.after(this.flow.reliable ? 0 : 32_000, () => this.moveTo(ClientTransactionState.Terminated)); // Timer D
          this.user.onResponse(response);
        }
        return;
      case ClientTransactionState.Accepted:
        // rfc6026#section-8.4: further 2xx (retransmissions, other forks) go to the TU.
        if (response.status >= 200 && response.status < 300) this.user.onResponse(response);
        return;
      case ClientTransactionState.Completed:
        if (response.status >= 300 && this.ack) this.flow.send(this.ack); // a retransmitted failure: ACK again
        return;
      default:
    }
  }

  /** rfc3261#section-17.1.1.3: the ACK for a failure, in the same transaction (same branch, To with the tag). */
  private sendAck(response: SipResponse): void {
    if (!this.request) return;
    const headers = new SipHeaders();
    headers.add('Via', this.request.headers.getAll('Via')[0] as string);
    for (const route of this.request.headers.getAll('Route')) headers.add('Route', route);
    headers.add('Max-Forwards', '70');
    headers.add('From', this.request.headers.get('From') as string);
    headers.add('To', response.headers.get('To') as string);
    headers.add('Call-ID', this.request.callId);
    headers.add('CSeq', `${this.request.cseq.seq} ACK`);
    const ack = new SipRequest('ACK', this.request.uri, headers);
    this.ack = ack.toBuffer();
    this.flow.send(this.ack);
  }

  /**
   * CANCEL (rfc3261#section-9.1): same Request-URI, Call-ID, From, To, CSeq number and top Via as the INVITE.
   * Undefined once a final response came: there is nothing left to cancel.
   */
  createCancel(): SipRequest | undefined {
    if (!this.request) return undefined;
    const headers = new SipHeaders();
    headers.add('Via', this.request.headers.getAll('Via')[0] as string);
    for (const route of this.request.headers.getAll('Route')) headers.add('Route', route);
    headers.add('Max-Forwards', '70');
    headers.add('From', this.request.headers.get('From') as string);
    headers.add('To', this.request.headers.get('To') as string);
    headers.add('Call-ID', this.request.callId);
    headers.add('CSeq', `${this.request.cseq.seq} CANCEL`);
    return new SipRequest('CANCEL', this.request.uri, headers);
  }
}
