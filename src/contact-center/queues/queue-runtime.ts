/**
 * What the ACD keeps of each queue in memory only: the callers waiting, the members' calls taken and last call
 * ended (for `leastrecent` and `fewestcalls`), and the answered calls still in progress; and the order callers wait
 * in. The ACD changes it; the figures read it.
 */
import type { Call } from '../../telephony/index.ts';

export interface Waiting {
  call: Call;
  queueId: string;
  priority: number;
  enteredAt: number;
  /** Place on entering (1 = first), for the queue log. */
  originalPosition: number;
  /** The agents rung now, if an offer is in progress. */
  offering: string[] | undefined;
  /** Agents offered this round: the next offer goes to someone else until everyone was tried. */
  tried: Set<string>;
  notBefore: number;
  hops: number;
  maxWaitTimer: NodeJS.Timeout | undefined;
}

export interface MemberStats {
  lastCallEndedAt: number;
  callsTaken: number;
}

export interface Runtime {
  waiting: Waiting[];
  lastPosition: number;
  stats: Map<string, MemberStats>;
  /** Answered calls of the queue still in progress: who took them, for COMPLETECALLER/COMPLETEAGENT. */
  connected: Map<string, { extensionId: string; answeredAt: number; wait: number }>;
}

/** RFC 3261 section 20.26's Priority values, as waiting order (higher waits in front). */
export function callerPriority(header: string | undefined): number {
  switch (header?.trim().toLowerCase()) {
    case 'emergency':
      return 3;
    case 'urgent':
      return 2;
    case 'non-urgent':
      return -1;
    default:
      return 0;
  }
}

/** A caller just arrived, not yet in any waiting list. */
export function newCaller(call: Call, queueId: string, priority: number, hops: number): Waiting {
  return {
    call,
    queueId,
    priority,
    enteredAt: Date.now(),
    originalPosition: 0,
    offering: undefined,
    tried: new Set(),
    notBefore: 0,
    hops,
    maxWaitTimer: undefined,
  };
}

/** Each queue's runtime, by queue id. */
export class QueueRuntimes {
  private readonly runtime = new Map<string, Runtime>();

  /** The queue's runtime, made empty on first use. */
  of(queueId: string): Runtime {
    let rt = this.runtime.get(queueId);
    if (!rt) {
      rt = { waiting: [], lastPosition: -1, stats: new Map(), connected: new Map() };
      this.runtime.set(queueId, rt);
    }
    return rt;
  }

  /** The queue's runtime if it has one yet. */
  peek(queueId: string): Runtime | undefined {
    return this.runtime.get(queueId);
  }

  all(): IterableIterator<Runtime> {
    return this.runtime.values();
  }
}

/** The waiting callers in the order they are offered: higher priority first, then who came first. */
export function ordered(rt: Runtime): Waiting[] {
  return [...rt.waiting].sort((a, b) => b.priority - a.priority || a.enteredAt - b.enteredAt);
}

/** Seconds the caller has waited so far. */
export function waited(w: Waiting): number {
  return Math.round((Date.now() - w.enteredAt) / 1000);
}
