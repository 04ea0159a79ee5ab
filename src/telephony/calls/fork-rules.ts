/**
 * How a round of ringing (a fork: every contact of every party rung at once) reads its legs' failures, as a
 * forking proxy does (rfc3261#section-16.7):
 * - a 6xx is a global failure: the party who sent it does not want the call anywhere, so its other devices are
 *   cancelled at once and the 6xx goes back, without waiting for the other branches to time out (step 5);
 * - once every branch failed, the best response wins: a 6xx first, then busy, then any other final answer, and a
 *   branch we cancelled (487) or that never answered (408) only when nothing better came.
 * In a round that rings several parties (a queue's ringall), a 6xx ends only its own party's branches: one agent
 * declining an offer does not decline it for the others.
 */
import type { OutboundLeg } from './call.ts';

/** A global failure (rfc3261#section-21.6): it ends the fork for its party. */
export function endsFork(status: number): boolean {
  return status >= 600 && status < 700;
}

/** The legs of `legs` still ringing for the same party as `leg`: its other devices, to cancel on a 6xx. */
export function sameParty(legs: readonly OutboundLeg[], leg: OutboundLeg): OutboundLeg[] {
  return legs.filter((l) => l !== leg && l.live && l.party.extensionId === leg.party.extensionId);
}

/** The final status a fork whose branches all failed answers with (rfc3261#section-16.7, step 6). */
export function bestFailure(statuses: readonly number[], fallback = 480): number {
  return (
    statuses.find((s) => endsFork(s)) ??
    statuses.find((s) => s === 486) ??
    statuses.find((s) => s !== 487 && s !== 408) ??
    fallback
  );
}
