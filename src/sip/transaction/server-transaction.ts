/**
 * Server transactions (RFC 3261 section 17.2, with RFC 6026's Accepted state for INVITE 2xx).
 *
 * Non-INVITE (rfc3261#section-17.2.2):
 *
 *   Trying --1xx--> Proceeding --final--> Completed --Timer J--> Terminated
 *   Trying ------------------final-----> Completed
 *
 * INVITE (rfc3261#section-17.2.1, rfc6026#section-7.1):
 *
 *   Proceeding --3xx-6xx--> Completed --ACK--> Confirmed --Timer I--> Terminated
 *   Proceeding --2xx------> Accepted --Timer L--> Terminated
 *   Completed  --Timer H--> Terminated (no ACK came)
 *
 * A retransmitted request gets the last response again; in Completed, Timer G retransmits an INVITE's final
 * response over UDP, doubling from T1 up to T2. Over reliable transports Timers G, I and J are zero.
 */
import type { SipRequest, SipResponse } from '../message/index.ts';
import type { Flow } from '../transport/flow.ts';
import { InvalidStateError, StateMachine } from './state-machine.ts';

export interface TransactionTimers {
  /** RTT estimate (500 ms). */
  T1: number;
  /** Longest retransmit interval for non-INVITE requests and INVITE responses (4 s). */
  T2: number;
  /** Longest a message stays in the network (5 s). */
  T4: number;
}

export const DEFAULT_TIMERS: TransactionTimers = { T1: 500, T2: 4000, T4: 5000 };

export enum ServerTransactionState {
  Trying = 'trying',
  Proceeding = 'proceeding',
  Completed = 'completed',
  Confirmed = 'confirmed',
  Accepted = 'accepted',
  Terminated = 'terminated',
}

const LEGAL: Record<ServerTransactionState, readonly ServerTransactionState[]> = {
  [ServerTransactionState.Trying]: [ServerTransactionState.Proceeding, ServerTransactionState.Completed, ServerTransactionState.Terminated],
  [ServerTransactionState.Proceeding]: [ServerTransactionState.Completed, ServerTransactionState.Accepted, ServerTransactionState.Terminated],
  [ServerTransactionState.Completed]: [ServerTransactionState.Confirmed, ServerTransactionState.Terminated],
  [ServerTransactionState.Confirmed]: [ServerTransactionState.Terminated],
  [ServerTransactionState.Accepted]: [ServerTransactionState.Terminated],
  [ServerTransactionState.Terminated]: [],
};

export abstract class ServerTransaction extends StateMachine<ServerTransactionState> {
  /** The To tag of every response this transaction sends that needs one. */
  readonly toTag: string;
  /** The last response as bytes: all a finished transaction needs to answer a retransmission. */
  protected lastResponse: Buffer | undefined;
  protected lastStatus = 0;
  /** The request, until the final response: a finished transaction keeps only what it must. */
  request: SipRequest | undefined;

  constructor(
    readonly key: string,
    request: SipRequest,
    readonly flow: Flow,
    protected readonly timerValues: TransactionTimers,
    /** Puts a response on the wire, routed as RFC 3261 section 18.2.2 says. */
    protected readonly transmit: (response: Buffer) => void,
    initial: ServerTransactionState,
    toTag: string,
  ) {
    super(initial, LEGAL, ServerTransactionState.Terminated, 'server transaction');
    this.request = request;
    this.toTag = toTag;
  }

  /** The TU's answer. A response after the final one is an error. */
  abstract respond(response: SipResponse): void;

  /** The same request again: the last response goes out again. */
  receiveRetransmission(): void {
    if (this.lastResponse && this.state !== ServerTransactionState.Terminated) this.transmit(this.lastResponse);
  }

  get finalSent(): boolean {
    return this.lastStatus >= 200;
  }
}

export class NonInviteServerTransaction extends ServerTransaction {
  constructor(
    key: string,
    request: SipRequest,
    flow: Flow,
    timers: TransactionTimers,
    transmit: (r: Buffer) => void,
    toTag: string,
    /**
     * Takes over the Completed state over UDP (absorbing retransmissions until Timer J), so this object can end at
     * its final response; without it, the object waits for Timer J itself.
     */
    private readonly retire?: (finalResponse: Buffer) => void,
  ) {
    super(key, request, flow, timers, transmit, ServerTransactionState.Trying, toTag);
  }

  respond(response: SipResponse): void {
    if (this.finalSent || this.state === ServerTransactionState.Terminated) {
      throw new InvalidStateError('a final response was already sent');
    }
    this.lastResponse = response.toBuffer();
    this.lastStatus = response.status;
    this.transmit(this.lastResponse);
    if (response.status < 200) {
      if (this.state === ServerTransactionState.Trying) this.moveTo(ServerTransactionState.Proceeding);
      return;
    }
    this.request = undefined;
    this.moveTo(ServerTransactionState.Completed);
    if (this.retire && !this.flow.reliable) {
      this.retire(this.lastResponse);
      this.moveTo(ServerTransactionState.Terminated);
      return;
    }
    // Timer J: absorb retransmissions for 64*T1 over UDP; zero over reliable transports.
    const timerJ = this.flow.reliable ? 0 : 64 * this.timerValues.T1;
    this.after(timerJ, () => this.moveTo(ServerTransactionState.Terminated));
  }
}

export class InviteServerTransaction extends ServerTransaction {
  private cancelListeners: Array<() => void> = [];
  cancelled = false;

  constructor(key: string, request: SipRequest, flow: Flow, timers: TransactionTimers, transmit: (r: Buffer) => void, toTag: string) {
    super(key, request, flow, timers, transmit, ServerTransactionState.Proceeding, toTag);
  }

  respond(response: SipResponse): void {
    if (this.state !== ServerTransactionState.Proceeding) throw new InvalidStateError(`cannot respond in ${this.state}`);
    const bytes = response.toBuffer();
    this.lastResponse = bytes;
    this.lastStatus = response.status;
    this.transmit(bytes);
    if (response.status < 200) return;
    this.request = undefined;
    // rfc3261#section-9.2: a CANCEL after the final response has no effect; its listeners (the call) can go.
    this.cancelListeners = [];
    const { T1, T2 } = this.timerValues;
    if (response.status < 300) {
      // rfc6026#section-7.1: Accepted absorbs retransmitted INVITEs; the TU retransmits the 2xx itself.
      this.moveTo(ServerTransactionState.Accepted);
      this.after(64 * T1, () => this.moveTo(ServerTransactionState.Terminated)); // Timer L
      return;
    }
    this.moveTo(ServerTransactionState.Completed);
    if (!this.flow.reliable) {
      let interval = T1;
      const timerG = () => {
        if (this.state !== ServerTransactionState.Completed) return;
        this.transmit(bytes);
        interval = Math.min(interval * 2, T2);
        this.after(interval, timerG);
      };
      this.after(interval, timerG);
    }
    this.after(64 * T1, () => this.moveTo(ServerTransactionState.Terminated)); // Timer H
  }

  /** In Accepted, a retransmitted INVITE is absorbed (the TU's 2xx retransmissions cover it). */
  override receiveRetransmission(): void {
    if (this.state === ServerTransactionState.Accepted) return;
    super.receiveRetransmission();
  }

  /** The ACK for a 3xx-6xx: stop retransmitting, absorb ACK copies for Timer I. */
  receiveAck(): void {
    if (this.state !== ServerTransactionState.Completed) return;
    this.moveTo(ServerTransactionState.Confirmed);
    this.after(this.flow.reliable ? 0 : this.timerValues.T4, () => this.moveTo(ServerTransactionState.Terminated)); // Timer I
  }

  /** A CANCEL matched this INVITE (rfc3261#section-9.2); listeners decide what to do, typically answer 487. */
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    const listeners = this.cancelListeners;
    this.cancelListeners = [];
    for (const l of listeners) l();
  }

  onCancel(listener: () => void): void {
    if (this.cancelled) listener();
    else if (!this.finalSent) this.cancelListeners.push(listener);
  }
}

