/**
 * Dialling a party outside through trunks, one after the other: each attempt is a round of ringing toward one
 * carrier, whose 18x and early media reach the caller as any callee's do. A carrier that fails in a way another may
 * not (5xx, 408: it is down or overloaded) hands the call to the next trunk; any other failure (busy, declined,
 * not found) is the called party's answer, and the caller gets it. Nobody to try at all is 503. A carrier's 3xx is
 * followed by its leg (see Leg.redirect).
 */
import { CallState, type RingOutcome, type RingTarget } from '../call-types.ts';
import type { CallContext } from '../call-context.ts';
import { failureCause, RingRound } from './ring.ts';

/** Whether another trunk may carry a call this one failed with: its server errors and its silence, not the called party's answer. */
export function failsOver(status: number): boolean {
  return status === 408 || (status >= 500 && status < 600);
}

/**
 * Rings `attempts` in order (each one carrier's leg) until one answers, the caller leaves, or a failure that
 * another carrier would not change. `attempts` may be built lazily (a trunk is looked at when its turn comes).
 */
export async function dialOut(call: CallContext, attempts: Iterable<Promise<RingTarget | undefined>>, ringTimeoutSeconds: number): Promise<RingOutcome> {
  let status = 503;
  for (const next of attempts) {
    const target = await next;
    if (call.state === CallState.Ended) return 'ended';
    if (!target) continue;
    let failed: number | undefined;
    const outcome = await RingRound.start(call, [target], ringTimeoutSeconds, { onFailure: (s) => (failed = s) });
    if (failed === undefined) {
      // Nobody answered in time: a caller the PBX answered (a routed one) is let go too, not left with its music.
      if (outcome === 'no-answer' && (call.state as CallState) !== CallState.Ended) call.giveUp(480, 'no-answer');
      return outcome;
    }
    status = failed;
    if (!failsOver(failed)) break;
  }
  if (call.state === CallState.Ended) return 'ended';
  // A carrier's silence is the caller's 480 (the called party could not be reached), as for a phone that never answered.
  call.refuseCaller(status === 408 ? 480 : status);
  call.end(failureCause(status));
  return failureCause(status);
}
