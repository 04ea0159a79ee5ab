/**
 * A fork: one round of ringing, every contact of every party at once, read as a forking proxy reads its branches
 * (rfc3261#section-16.7). Direct calls, routed offers, blind transfers, consultations and click-to-call all ring
 * through it; each says what an answer, a failure or the ring timeout means for it ({@link ForkHandler}).
 *
 * - The first 2xx wins: its owner takes it, and every other leg is cancelled. A 2xx after that (a second phone, or
 *   one whose CANCEL crossed its answer) is acknowledged and hung up at once.
 * - A 6xx is a global failure (rfc3261#section-21.6): the party who sent it does not want the call anywhere, so its
 *   other devices are cancelled at once, without waiting for them to time out (step 5). In a round that offers the
 *   call to several parties, a 6xx ends only its own party's legs: one person declining does not decline for all.
 * - Once every leg failed, the best response wins (step 6): a 6xx first, then busy, then any other final answer, and
 *   a leg we cancelled (487) or that never answered (408) only when nothing better came.
 * - The ring timeout cancels every leg still ringing.
 *
 *   Ringing --first 2xx--> Answered          Ringing --all legs failed--> Failed
 *   Ringing --ring timeout, stop()--> Over
 */
import type { Dialog, SipResponse, SipStack } from '../../sip/index.ts';
import type { LegRequest, RingTarget } from './call-types.ts';
import type { Leg } from './leg.ts';
import { repeatedReliable } from './reliable-provisional.ts';

/** A global failure (rfc3261#section-21.6): it ends the fork for its party. */
export function endsFork(status: number): boolean {
  return status >= 600 && status < 700;
}

/** The legs of `legs` still ringing for the same party as `leg`: its other devices, to cancel on a 6xx. */
export function sameParty(legs: readonly Leg[], leg: Leg): Leg[] {
  return legs.filter((l) => l !== leg && l.live && l.party.extensionId === leg.party.extensionId);
}

/** The final status a fork whose legs all failed answers with (rfc3261#section-16.7, step 6). */
export function bestFailure(statuses: readonly number[], fallback = 480): number {
  return (
    statuses.find((s) => endsFork(s)) ??
    statuses.find((s) => s === 486) ??
    statuses.find((s) => s !== 487 && s !== 408) ??
    fallback
  );
}

/** The legs to ring `target` with: one per contact, each with its branch and body, presented as the target asks. */
export function legsFor(target: RingTarget, branches: readonly string[], bodies: ReadonlyArray<Buffer | undefined>): Array<Pick<LegRequest, 'binding' | 'flow' | 'party' | 'branch' | 'body' | 'addressing'>> {
  return target.contacts.map((c, i) => ({ ...c, party: target.party, addressing: target.addressing, branch: branches[i] as string, body: bodies[i] }));
}

/** What a fork's owner makes of its legs' answers. */
export interface ForkHandler {
  /**
   * A provisional answer on a leg of the fork still ringing (not 100, nor a reliable one seen before); `first` when it
   * is the leg's first, which made it ringing.
   */
  onProvisional(leg: Leg, response: SipResponse, first: boolean): void;
  /**
   * The fork's first 2xx: true to take `leg` (it is acknowledged, unless its ACK is held, and the other legs are
   * cancelled), false to hang it up.
   */
  onAnswer(leg: Leg, response: SipResponse): boolean;
  /** Every leg failed; `status` is the best of their failures. */
  onFailed(status: number, legs: readonly Leg[]): void;
  /** Nobody answered in time: every leg still ringing was cancelled. */
  onTimeout(): void;
}

/** What a fork needs of its call: the stack, its timers, new legs, and hanging up a dialog once. */
export interface ForkHost {
  readonly stack: SipStack;
  newLeg(request: LegRequest): Leg;
  after(ms: number, fire: () => void): void;
  bye(dialog: Dialog): void;
}

export class Fork {
  readonly legs: Leg[] = [];
  /** The leg whose 2xx was taken. */
  winner: Leg | undefined;
  private over = false;

  constructor(
    private readonly host: ForkHost,
    private readonly handler: ForkHandler,
  ) {}

  /** Still ringing: nobody answered, and it was neither given up nor failed. */
  get ringing(): boolean {
    return !this.over && !this.winner;
  }

  /** Rings one more leg. */
  add(leg: Leg): void {
    this.legs.push(leg);
    leg.send(this.host.stack, {
      onResponse: (response) => this.onResponse(leg, response),
      onTimeout: () => this.onFailure(leg, 408),
    });
  }

  /** Places a leg to each contact, its INVITE built from `common` and the contact's own branch and body, and rings them for `seconds`. */
  ring(contacts: ReadonlyArray<Pick<LegRequest, 'binding' | 'flow' | 'party' | 'branch' | 'body' | 'addressing'>>, common: Omit<LegRequest, 'binding' | 'flow' | 'party' | 'branch' | 'body' | 'addressing'>, seconds: number): void {
    for (const contact of contacts) this.add(this.host.newLeg({ ...common, ...contact }));
    this.ringFor(seconds);
  }

  /** Gives up after `seconds` unless someone answered first. A fork with no leg at all fails at once with 480. */
  ringFor(seconds: number): void {
    if (this.legs.length === 0 && this.ringing) {
      this.over = true;
      this.handler.onFailed(480, this.legs);
      return;
    }
    this.host.after(seconds * 1000, () => {
      if (!this.ringing) return;
      this.stop();
      this.handler.onTimeout();
    });
  }

  /** Stops ringing: every leg still ringing is cancelled. */
  stop(): void {
    this.over = true;
    for (const leg of this.legs) leg.cancel(this.host.stack);
  }

  /** The connection of some legs closed before they answered: they failed as unavailable. */
  lost(flow: { id: string }): void {
    for (const leg of this.legs) if (leg.flow.id === flow.id && leg.live) this.onFailure(leg, 480);
  }

  private onResponse(leg: Leg, response: SipResponse): void {
    const { stack } = this.host;
    const status = response.status;
    if (status < 200) {
      if (leg.consumedProvisional(stack, status)) return;
      // A reliable 183 we did not ask for comes again until a PRACK: it is heard once.
      if (repeatedReliable(leg, response)) return;
      if (leg.live) leg.prack(stack, response);
      if (!this.ringing || !leg.live) return;
      this.handler.onProvisional(leg, response, leg.ringing());
      return;
    }
    if (status >= 300) {
      if ((status === 401 || status === 407) && this.ringing && leg.authenticate(stack, response)) return;
      if (status < 400 && this.ringing && leg.redirect(stack, response)) return;
      this.onFailure(leg, status);
      return;
    }
    // A retransmitted 2xx is acknowledged again (rfc3261#section-13.2.2.4).
    if (!leg.answer(response)) {
      leg.ack(stack);
      return;
    }
    if (!this.ringing || !leg.live || !this.handler.onAnswer(leg, response)) {
      leg.refused();
      leg.ackHeld = false;
      leg.ack(stack);
      this.host.bye(leg.dialog as Dialog);
      return;
    }
    this.winner = leg;
    leg.taken();
    leg.ack(stack);
    for (const other of this.legs) if (other !== leg) other.cancel(stack);
  }

  private onFailure(leg: Leg, status: number): void {
    if (!leg.fail(status) || !this.ringing) return;
    if (endsFork(status)) for (const other of sameParty(this.legs, leg)) other.cancel(this.host.stack);
    if (this.legs.some((l) => l.live)) return;
    this.over = true;
    this.handler.onFailed(bestFailure(this.legs.map((l) => l.finalStatus ?? 480)), this.legs);
  }
}
