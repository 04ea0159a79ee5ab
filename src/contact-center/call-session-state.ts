/**
 * A call session's status, and the moves between statuses that calls make. The table is the contract: a move it
 * does not list throws {@link CallSessionStateError}, so a bug cannot leave a session in a status no event explains.
 *
 *   INITIATED --callee's device rings--> RINGING --answered--> CONNECTED
 *   INITIATED --queue's number--> QUEUED --offered--> RINGING --not answered--> QUEUED
 *   QUEUED --a fallback extension answers--> CONNECTED;   INITIATED --answered at once--> CONNECTED
 *   CONNECTED <--hold / resume--> ON_HOLD
 *   CONNECTED, ON_HOLD --transfer or consultation--> TRANSFERRING --target answered / consultation over--> CONNECTED
 *   TRANSFERRING --the caller held during the consultation--> ON_HOLD;   TRANSFERRING --to a queue--> QUEUED
 *   CONNECTED --a queue's offer that crossed the answer--> RINGING: the queue tells its offer only once it has
 *     looked up the members' devices, and an answer can come in between (seen with ringall)
 *   any open status --the call ended--> COMPLETED (it was answered), ABANDONED, MISSED or FAILED (see finalStatus)
 *
 * A final status is never left. A change that keeps the status (a new agent, notes, a contact) is not a move.
 */
import type { callSessions, CallSessionStatus } from '../db/index.ts';

/** One call as the contact center records it (a `call_sessions` row, with its recording). */
export type CallSession = typeof callSessions.$inferSelect & { recordingId: string | null };

export const SessionState = {
  Initiated: 'INITIATED',
  Ringing: 'RINGING',
  Queued: 'QUEUED',
  Connected: 'CONNECTED',
  OnHold: 'ON_HOLD',
  Transferring: 'TRANSFERRING',
  Completed: 'COMPLETED',
  Abandoned: 'ABANDONED',
  Missed: 'MISSED',
  Failed: 'FAILED',
} as const satisfies Record<string, CallSessionStatus>;

export type { CallSessionStatus };

/** The statuses a session ends in: they are set once, when its call ends. */
export const FINAL_SESSION_STATES: readonly CallSessionStatus[] = ['COMPLETED', 'ABANDONED', 'MISSED', 'FAILED'];

const ENDS = FINAL_SESSION_STATES;

export const SESSION_TRANSITIONS: Record<CallSessionStatus, readonly CallSessionStatus[]> = {
  INITIATED: ['RINGING', 'QUEUED', 'CONNECTED', ...ENDS],
  RINGING: ['QUEUED', 'CONNECTED', ...ENDS],
  QUEUED: ['RINGING', 'CONNECTED', ...ENDS],
  CONNECTED: ['ON_HOLD', 'TRANSFERRING', 'RINGING', ...ENDS],
  ON_HOLD: ['CONNECTED', 'TRANSFERRING', ...ENDS],
  TRANSFERRING: ['CONNECTED', 'ON_HOLD', 'QUEUED', ...ENDS],
  COMPLETED: [],
  ABANDONED: [],
  MISSED: [],
  FAILED: [],
};

export class CallSessionStateError extends Error {
  override readonly name = 'CallSessionStateError';
}

export function canMoveSession(from: CallSessionStatus, to: CallSessionStatus): boolean {
  return SESSION_TRANSITIONS[from].includes(to);
}

/** Throws unless `from` may become `to`; keeping the status is not a move, and always allowed. */
export function assertSessionMove(from: CallSessionStatus, to: CallSessionStatus): void {
  if (from !== to && !canMoveSession(from, to)) throw new CallSessionStateError(`a call session cannot go from ${from} to ${to}`);
}
