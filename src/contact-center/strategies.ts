/**
 * The ACD strategies, with the meaning Asterisk's app_queue gives them. Each orders the members that may be offered
 * a call now; the queue offers the first (or, for `ringall`, every member of the best penalty tier at once).
 *
 * - `ringall`: every available member at once.
 * - `leastrecent`: the member whose last call of this queue ended longest ago (never is the longest).
 * - `fewestcalls`: the member who has taken the fewest calls of this queue.
 * - `random`: any member, uniformly.
 * - `rrmemory`: round robin, starting after the member who was offered the queue's last call.
 * - `rrordered`: the same, over the members in the order they were added, which never changes.
 * - `linear`: the members in the order they were added, always from the first.
 * - `wrandom`: random, weighted by penalty: a member's draw is random in [0, (penalty + 1) * 1000).
 *
 * Penalties form tiers (app_queue's meaning): a higher penalty is tried only when no one of a lower one may be. For
 * `wrandom` the penalty is the weight instead.
 */
import type { QueueStrategy } from '../db/index.ts';

export interface Candidate {
  extensionId: string;
  penalty: number;
  /** Position among the queue's members, by when each was added. */
  position: number;
  /** When the member's last call of this queue ended (ms since epoch); 0 if never. */
  lastCallEndedAt: number;
  /** Calls of this queue the member has taken. */
  callsTaken: number;
}

export interface StrategyMemory {
  /** The position of the member offered the last call (rrmemory, rrordered). */
  lastPosition: number;
}

export type Random = () => number;

function lowestTier(candidates: Candidate[]): Candidate[] {
  const lowest = Math.min(...candidates.map((c) => c.penalty));
  return candidates.filter((c) => c.penalty === lowest);
}

/** Orders candidates best first; `ringall` answers the whole tier (every one is offered at once). */
export function orderCandidates(strategy: QueueStrategy, candidates: Candidate[], memory: StrategyMemory, random: Random = Math.random): Candidate[] {
  if (candidates.length === 0) return [];
  if (strategy === 'wrandom') {
    return candidates
      .map((c) => ({ c, draw: Math.floor(random() * (c.penalty + 1) * 1000) }))
      .sort((a, b) => a.draw - b.draw || a.c.position - b.c.position)
      .map((x) => x.c);
  }
  const tier = lowestTier(candidates);
  const byPosition = [...tier].sort((a, b) => a.position - b.position);
  switch (strategy) {
    case 'ringall':
    case 'linear':
      return byPosition;
    case 'leastrecent':
      return [...tier].sort((a, b) => a.lastCallEndedAt - b.lastCallEndedAt || a.position - b.position);
    case 'fewestcalls':
      return [...tier].sort((a, b) => a.callsTaken - b.callsTaken || a.position - b.position);
    case 'random':
      return tier
        .map((c) => ({ c, draw: random() }))
        .sort((a, b) => a.draw - b.draw)
        .map((x) => x.c);
    case 'rrmemory':
    case 'rrordered': {
      // The first after the one offered last, wrapping round.
      const after = byPosition.filter((c) => c.position > memory.lastPosition);
      const before = byPosition.filter((c) => c.position <= memory.lastPosition);
      return [...after, ...before];
    }
  }
}
