/**
 * An agent's state, and the moves between states that reality allows. The table is the contract: a move it does
 * not list throws {@link AgentStateError}, so a bug cannot leave an agent in a state no event explains.
 *
 *   OFFLINE  --log in (a device is registered)-->  AVAILABLE
 *   AVAILABLE --queue offer--> RINGING --answered--> BUSY --hung up--> WRAP_UP --wrap-up time--> AVAILABLE
 *   RINGING --not answered--> AVAILABLE (or AWAY "Auto-pause")
 *   any but OFFLINE --last device gone--> OFFLINE;   a direct or outbound call --> BUSY --> the state before it
 *   AVAILABLE, WRAP_UP, AWAY --by hand--> AVAILABLE, AWAY (with a reason), OFFLINE
 */
import type { AgentStatus } from '../db/index.ts';

export const AgentState = {
  Offline: 'OFFLINE',
  Available: 'AVAILABLE',
  Ringing: 'RINGING',
  Busy: 'BUSY',
  WrapUp: 'WRAP_UP',
  Away: 'AWAY',
} as const satisfies Record<string, AgentStatus>;

export type { AgentStatus };

export const AGENT_TRANSITIONS: Record<AgentStatus, readonly AgentStatus[]> = {
  OFFLINE: ['AVAILABLE', 'AWAY', 'BUSY'],
  AVAILABLE: ['RINGING', 'BUSY', 'AWAY', 'OFFLINE'],
  RINGING: ['BUSY', 'AVAILABLE', 'AWAY', 'OFFLINE'],
  BUSY: ['WRAP_UP', 'AVAILABLE', 'AWAY', 'OFFLINE'],
  WRAP_UP: ['AVAILABLE', 'AWAY', 'OFFLINE', 'BUSY'],
  AWAY: ['AVAILABLE', 'AWAY', 'OFFLINE', 'BUSY'],
};

export class AgentStateError extends Error {
  override readonly name = 'AgentStateError';
}

export function canMove(from: AgentStatus, to: AgentStatus): boolean {
  return AGENT_TRANSITIONS[from].includes(to);
}

export function assertMove(from: AgentStatus, to: AgentStatus): void {
  if (!canMove(from, to)) throw new AgentStateError(`an agent cannot go from ${from} to ${to}`);
}

/** States an agent (or a manager) may ask for by hand; RINGING, BUSY and WRAP_UP follow calls, not people. */
export const SETTABLE_STATES = ['AVAILABLE', 'AWAY', 'OFFLINE'] as const;
export type SettableState = (typeof SETTABLE_STATES)[number];
