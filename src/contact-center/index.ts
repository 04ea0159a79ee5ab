/**
 * The contact center: agents and their states, queues and the ACD, call sessions. Plain services over the database,
 * the event bus and the engine's interface; `startContactCenter` wires them and makes the queues the engine's router.
 */
import type { Db, WriteJournal } from '../db/index.ts';
import type { PbxEventBus } from '../events/index.ts';
import type { CallManager, LocationService } from '../telephony/index.ts';
import { AgentService } from './agents.ts';
import { CallControl, type SoftphoneAnswerer } from './call-control.ts';
import { CallSessionService } from './call-sessions.ts';
import { LiveCalls } from './live-calls.ts';
import { MetricsService } from './metrics.ts';
import { QueueService, type QueueTelephony } from './queues/index.ts';

export { AGENT_TRANSITIONS, AgentState, AgentStateError, canMove, SETTABLE_STATES, type SettableState } from './agent-state.ts';
export { AgentService, type AgentSnapshot, AUTO_PAUSE_REASON } from './agents.ts';
export { type CallActor, CallControl, type CallControlState, type SoftphoneAnswerer } from './call-control.ts';
export { CallSessionService, type CallSession, finalStatus } from './call-sessions.ts';
export { actorOf, CallId, ControlState, controlStateBody, DialCommand, HoldFields, isStaff, Muted, STAFF_ROLES, StatusChangeCommand, TransferFields } from './commands.ts';
export { assertSessionMove, CallSessionStateError, canMoveSession, FINAL_SESSION_STATES, SESSION_TRANSITIONS, SessionState } from './call-session-state.ts';
export { type CallView, type LiveCall, LiveCalls, viewOf } from './live-calls.ts';
export { type AgentFigures, agentFigures, type CallMetrics, callMetrics, MetricsService, type Period, type SessionFigures, timeInStates } from './metrics.ts';
export { callerPriority, type Queue, type QueueMember, QueueService, type QueueSettings } from './queues/index.ts';
export { type Candidate, orderCandidates } from './strategies.ts';

export interface ContactCenter {
  agents: AgentService;
  queues: QueueService;
  sessions: CallSessionService;
  /** The calls in progress: the one live view of them, and the events that tell of them. */
  calls: LiveCalls;
  control: CallControl;
  metrics: MetricsService;
  stop(): Promise<void>;
}

export async function startContactCenter(deps: {
  db: Db;
  bus: PbxEventBus;
  location: Pick<LocationService, 'lookup'>;
  calls: Pick<CallManager, 'setRouter' | 'contactsOf' | 'find' | 'originate' | 'activeCalls' | 'transferToRouter' | 'planOut' | 'outsideTarget' | 'sendOutside'>;
  findExtension: QueueTelephony['findExtension'];
  /** A queue's own caller ID for its calls out (its fallback to a number outside), or null: the route's. */
  callerIdOf?: QueueTelephony['callerIdOf'];
  onError: (err: unknown, context: string) => void;
  /** Where writes the database could not take wait; without one they wait in memory only. */
  journal?: WriteJournal;
  /** Asks agents' browser softphones to answer (the live API); without it, `answer` finds none to ask. */
  softphones?: SoftphoneAnswerer;
}): Promise<ContactCenter> {
  const calls = new LiveCalls(deps.bus);
  const sessions = new CallSessionService(deps.db, deps.bus, calls, deps.onError, deps.journal);
  await sessions.start();
  const agents = new AgentService(deps.db, deps.bus, { isRegistered: (id) => deps.location.lookup(id).length > 0 }, deps.onError, deps.journal);
  await agents.start();
  const queues = new QueueService(deps.db, deps.bus, agents, { contactsOf: (id) => deps.calls.contactsOf(id), findExtension: deps.findExtension, dialOut: (call, number, callerId) => deps.calls.sendOutside(call, number, callerId), callerIdOf: deps.callerIdOf }, deps.onError, undefined, deps.journal);
  await queues.start();
  deps.calls.setRouter(queues);
  const control = new CallControl(deps.calls, sessions, agents, deps.bus, deps.findExtension, (tenantId, number) => queues.findByNumber(tenantId, number) !== undefined, deps.softphones);
  // Last: what the live view tells of an event comes after the sessions, agents and queues have taken it.
  calls.start();
  let stopped: Promise<void> | undefined;
  return {
    agents,
    queues,
    sessions,
    calls,
    control,
    metrics: new MetricsService(deps.db, (queueId) => queues.thresholdOf(queueId)),
    stop() {
      stopped ??= (async () => {
        deps.calls.setRouter(undefined);
        calls.stop();
        await queues.stop();
        await agents.stop();
        await sessions.stop();
      })();
      return stopped;
    },
  };
}
