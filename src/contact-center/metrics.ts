/**
 * Contact-center metrics, computed from what the call sessions and the agents' activity log hold the moment they
 * are asked for: every call writes its session as it happens, so there is no batch job and nothing to wait for.
 * The formulas are pure functions (the README writes them out); the service only selects the rows.
 *
 * - Service level (app_queue's): queue calls answered within the queue's threshold / queue calls answered x 100.
 * - Service level counting abandoned calls: answered within the threshold / (answered + abandoned) x 100.
 * - ASA (average speed of answer, seed 001's avgWaitTime): the mean wait of answered calls.
 * - Talk time runs from answer to hang-up, so it includes the time on hold; AHT = (talk + wrap-up) / answered,
 *   which is talk without hold + hold + wrap-up.
 * - Abandon rate: abandoned queue calls / queue calls x 100.
 * - Availability: time logged in and not AWAY / time logged in (not OFFLINE) x 100.
 * - Occupancy: time on calls and in wrap-up (BUSY, WRAP_UP) / time ready or working (AVAILABLE, RINGING, BUSY,
 *   WRAP_UP) x 100.
 * With nothing to divide by, a percentage is 100 when nothing was missed (service level) and 0 otherwise.
 */
import { and, desc, eq, gte, inArray, lt, lte, or, type SQL } from 'drizzle-orm';
import { agentActivityLog, type AgentStatus, agentStatuses, callSessions, type Db } from '../db/index.ts';
import type { CallSession } from './call-session-state.ts';

export type SessionFigures = Pick<CallSession, 'status' | 'queueId' | 'extensionId' | 'answeredAt' | 'waitMs' | 'talkMs' | 'holdMs' | 'wrapUpMs' | 'disposition'> & { createdAt?: Date };

export interface CallMetrics {
  totalCalls: number;
  answeredCalls: number;
  abandonedCalls: number;
  missedCalls: number;
  /** Calls that went through a queue, and those answered within its service-level threshold. */
  queueCalls: number;
  answeredWithinThreshold: number;
  /** Seconds. avgWaitTime is the ASA. */
  avgWaitTime: number;
  avgAbandonWait: number;
  avgCallDuration: number;
  avgHoldTime: number;
  avgWrapUpTime: number;
  avgHandleTime: number;
  /** Percentages. */
  serviceLevel: number;
  serviceLevelWithAbandoned: number;
  abandonRate: number;
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
const mean = (values: number[]) => (values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length);
const seconds = (ms: number) => round(ms / 1000);
const percent = (part: number, whole: number, empty: number) => (whole === 0 ? empty : round((part / whole) * 100));

/** The call figures of a set of sessions; `thresholdOf` gives a queue's service-level threshold in seconds. */
export function callMetrics(rows: SessionFigures[], thresholdOf: (queueId: string) => number): CallMetrics {
  const answered = rows.filter((r) => r.answeredAt !== null);
  const abandoned = rows.filter((r) => r.status === 'ABANDONED');
  const queued = rows.filter((r) => r.queueId !== null);
  const queuedAnswered = queued.filter((r) => r.answeredAt !== null);
  const queuedAbandoned = queued.filter((r) => r.status === 'ABANDONED');
  const within = queuedAnswered.filter((r) => r.waitMs <= thresholdOf(r.queueId as string) * 1000).length;
  return {
    totalCalls: rows.length,
    answeredCalls: answered.length,
    abandonedCalls: abandoned.length,
    missedCalls: rows.filter((r) => r.status === 'MISSED').length,
    queueCalls: queued.length,
    answeredWithinThreshold: within,
    avgWaitTime: seconds(mean(answered.map((r) => r.waitMs))),
    avgAbandonWait: seconds(mean(abandoned.map((r) => r.waitMs))),
    avgCallDuration: seconds(mean(answered.map((r) => r.talkMs))),
    avgHoldTime: seconds(mean(answered.map((r) => r.holdMs))),
    avgWrapUpTime: seconds(mean(answered.map((r) => r.wrapUpMs))),
    avgHandleTime: seconds(mean(answered.map((r) => r.talkMs + r.wrapUpMs))),
    serviceLevel: percent(within, queuedAnswered.length, 100),
    serviceLevelWithAbandoned: percent(within, queuedAnswered.length + queuedAbandoned.length, 100),
    abandonRate: percent(queuedAbandoned.length, queued.length, 0),
  };
}

/**
 * Milliseconds an agent spent in each state between `from` and `to`: `initial` is its state at `from` (the last
 * change before it), `changes` the changes after, oldest first.
 */
export function timeInStates(initial: AgentStatus, changes: Array<{ at: Date; to: AgentStatus }>, from: Date, to: Date): Record<AgentStatus, number> {
  const spent = Object.fromEntries(agentStatuses.map((s) => [s, 0])) as Record<AgentStatus, number>;
  let state = initial;
  let since = from.getTime();
  for (const change of changes) {
    const at = Math.min(Math.max(change.at.getTime(), from.getTime()), to.getTime());
    spent[state] += Math.max(0, at - since);
    state = change.to;
    since = at;
  }
  spent[state] += Math.max(0, to.getTime() - since);
  return spent;
}

export interface AgentFigures {
  callsHandled: number;
  avgCallDuration: number;
  avgWrapUpTime: number;
  avgHandleTime: number;
  /** Percentages. */
  availability: number;
  occupancy: number;
  callsByDisposition: Record<string, number>;
  /** Seconds in each state over the period. */
  timeInStatus: Record<AgentStatus, number>;
}

/** An agent's figures: its answered sessions, and the time it spent in each state. */
export function agentFigures(handled: SessionFigures[], spent: Record<AgentStatus, number>): AgentFigures {
  const answered = handled.filter((r) => r.answeredAt !== null);
  const byDisposition: Record<string, number> = {};
  for (const r of answered) byDisposition[r.disposition ?? 'NONE'] = (byDisposition[r.disposition ?? 'NONE'] ?? 0) + 1;
  const loggedIn = agentStatuses.filter((s) => s !== 'OFFLINE').reduce((sum, s) => sum + spent[s], 0);
  const working = spent.BUSY + spent.WRAP_UP;
  const ready = spent.AVAILABLE + spent.RINGING + working;
  return {
    callsHandled: answered.length,
    avgCallDuration: seconds(mean(answered.map((r) => r.talkMs))),
    avgWrapUpTime: seconds(mean(answered.map((r) => r.wrapUpMs))),
    avgHandleTime: seconds(mean(answered.map((r) => r.talkMs + r.wrapUpMs))),
    availability: percent(loggedIn - spent.AWAY, loggedIn, 0),
    occupancy: percent(working, ready, 0),
    callsByDisposition: byDisposition,
    timeInStatus: Object.fromEntries(agentStatuses.map((s) => [s, seconds(spent[s])])) as Record<AgentStatus, number>,
  };
}

export interface Period {
  from: Date;
  to: Date;
}

/** The rows behind the metrics, selected per tenant. */
/** Which calls figures count: an agent's, a queue's, a direction's (inbound also means from the network), a number's. */
export interface MetricsFilter {
  extensionId?: string;
  queueId?: string;
  direction?: string;
  /** A phone number: the DID called, or the number outside (E.164), or an extension's or a queue's number. */
  number?: string;
}

/** The conditions on a session's direction and numbers (shared by the call log and the figures). */
export function carrierConditions(filter: { direction?: string; number?: string }): SQL[] {
  const conditions: SQL[] = [];
  if (filter.direction) conditions.push(eq(callSessions.direction, filter.direction as typeof callSessions.$inferSelect.direction));
  if (filter.number) {
    const n = filter.number;
    conditions.push(or(eq(callSessions.did, n), eq(callSessions.externalNumber, n), eq(callSessions.fromNumber, n), eq(callSessions.toNumber, n)) as SQL);
  }
  return conditions;
}

export class MetricsService {
  constructor(
    private readonly db: Db,
    private readonly thresholdOf: (queueId: string) => number,
  ) {}

  private async sessions(tenantId: string, period: Period, filter: MetricsFilter): Promise<SessionFigures[]> {
    const conditions: SQL[] = [eq(callSessions.tenantId, tenantId), gte(callSessions.createdAt, period.from), lte(callSessions.createdAt, period.to)];
    if (filter.extensionId) conditions.push(eq(callSessions.extensionId, filter.extensionId));
    if (filter.queueId) conditions.push(eq(callSessions.queueId, filter.queueId));
    conditions.push(...carrierConditions(filter));
    return this.db
      .select({
        status: callSessions.status,
        queueId: callSessions.queueId,
        extensionId: callSessions.extensionId,
        answeredAt: callSessions.answeredAt,
        waitMs: callSessions.waitMs,
        talkMs: callSessions.talkMs,
        holdMs: callSessions.holdMs,
        wrapUpMs: callSessions.wrapUpMs,
        disposition: callSessions.disposition,
        createdAt: callSessions.createdAt,
      })
      .from(callSessions)
      .where(and(...conditions));
  }

  /**
   * The period cut into buckets of `bucketMs` (calls by the time they came in), with each bucket's call figures:
   * the wallboard's chart of calls and service level over the day.
   */
  async timeline(tenantId: string, period: Period, bucketMs: number): Promise<Array<{ start: Date } & CallMetrics>> {
    const buckets: SessionFigures[][] = [];
    const count = Math.max(1, Math.ceil((period.to.getTime() - period.from.getTime()) / bucketMs));
    for (let i = 0; i < count; i++) buckets.push([]);
    for (const row of await this.sessions(tenantId, period, {})) {
      const i = Math.min(count - 1, Math.floor(((row.createdAt?.getTime() ?? period.from.getTime()) - period.from.getTime()) / bucketMs));
      buckets[i]?.push(row);
    }
    return buckets.map((rows, i) => ({ start: new Date(period.from.getTime() + i * bucketMs), ...callMetrics(rows, this.thresholdOf) }));
  }

  async calls(tenantId: string, period: Period, filter: MetricsFilter = {}): Promise<CallMetrics> {
    return callMetrics(await this.sessions(tenantId, period, filter), this.thresholdOf);
  }

  /** The call figures of every queue over the period, from one reading of the sessions. */
  async callsByQueue(tenantId: string, period: Period): Promise<Map<string, CallMetrics>> {
    const byQueue = new Map<string, SessionFigures[]>();
    for (const row of await this.sessions(tenantId, period, {})) {
      if (!row.queueId) continue;
      const rows = byQueue.get(row.queueId);
      if (rows) rows.push(row);
      else byQueue.set(row.queueId, [row]);
    }
    return new Map([...byQueue].map(([queueId, rows]) => [queueId, callMetrics(rows, this.thresholdOf)]));
  }

  /** The calls of the period per agent, and each one's time in states, for the agents named. */
  async agents(tenantId: string, period: Period, extensionIds: string[]): Promise<Map<string, AgentFigures>> {
    const out = new Map<string, AgentFigures>();
    if (extensionIds.length === 0) return out;
    const rows = await this.sessions(tenantId, period, {});
    // Time not yet passed is spent in no state.
    const until = new Date(Math.min(period.to.getTime(), Date.now()));
    const changes = await this.db
      .select({ extensionId: agentActivityLog.extensionId, to: agentActivityLog.toStatus, at: agentActivityLog.createdAt })
      .from(agentActivityLog)
      .where(and(eq(agentActivityLog.tenantId, tenantId), inArray(agentActivityLog.extensionId, extensionIds), gte(agentActivityLog.createdAt, period.from), lte(agentActivityLog.createdAt, period.to)))
      .orderBy(agentActivityLog.createdAt);
    // Each agent's state when the period began: its last change before it, all agents in one reading.
    const before = await this.db
      .selectDistinctOn([agentActivityLog.extensionId], { extensionId: agentActivityLog.extensionId, to: agentActivityLog.toStatus })
      .from(agentActivityLog)
      .where(and(eq(agentActivityLog.tenantId, tenantId), inArray(agentActivityLog.extensionId, extensionIds), lt(agentActivityLog.createdAt, period.from)))
      .orderBy(agentActivityLog.extensionId, desc(agentActivityLog.createdAt));
    const initial = new Map(before.map((b) => [b.extensionId, b.to]));
    for (const extensionId of extensionIds) {
      const spent = timeInStates(initial.get(extensionId) ?? 'OFFLINE', changes.filter((c) => c.extensionId === extensionId), period.from, until);
      out.set(extensionId, agentFigures(rows.filter((r) => r.extensionId === extensionId), spent));
    }
    return out;
  }
}
