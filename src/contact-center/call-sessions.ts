/**
 * Call sessions: every call (internal, queue, outbound) as the contact center sees it, one row each, kept up to date
 * from the engine's and the queues' events as they happen: created, queued, offered, connected, held, ended, and
 * the agent's wrap-up after it. Writes of one session go in order. A session still open when the server starts
 * (a crash) is closed as FAILED with the cause `restart`. A call in progress keeps its session in the contact
 * center's live view ({@link LiveCalls}); its status moves as `call-session-state.ts` allows.
 */
import { and, desc, eq, getTableColumns, gte, inArray, isNull, lte, or, type SQL, sql } from 'drizzle-orm';
import { callSessions, type CallSessionStatus, type Db, recordings } from '../db/index.ts';
import { inSlices, WriteBehind } from '../db/write-behind.ts';
import type { WriteJournal } from '../db/write-journal.ts';
import { PbxError } from '../errors/index.ts';
import type { PbxEventBus } from '../events/index.ts';
import { assertSessionMove, type CallSession } from './call-session-state.ts';
import type { LiveCall, LiveCalls } from './live-calls.ts';
import { carrierConditions } from './metrics.ts';

export type { CallSession } from './call-session-state.ts';

/** Every column but the id takes the new row's value when the row exists already. */
const UPSERT_SET = Object.fromEntries(
  Object.entries(getTableColumns(callSessions))
    .filter(([key]) => key !== 'id')
    .map(([key, column]) => [key, sql.raw(`excluded.${column.name}`)]),
);

export interface SessionFilter {
  from?: Date;
  to?: Date;
  extensionId?: string;
  queueId?: string;
  /** inbound (also from the network), outbound (also to it), internal. */
  direction?: string;
  /** A DID, a number outside, or an extension's or a queue's number. */
  number?: string;
  status?: CallSessionStatus[];
  limit: number;
  offset: number;
}

/** Ends of a queue call that are not the caller giving up: the queue let it go, or a user hung it up. */
const QUEUE_EXITS = new Set(['queue-timeout', 'queue-full', 'queue-empty', 'hangup']);

/** The session status a call ends in, from how it ended. */
export function finalStatus(row: Pick<CallSession, 'answeredAt' | 'queueId'>, cause: string): CallSessionStatus {
  if (row.answeredAt) return 'COMPLETED';
  if (cause === 'failed' || cause === 'media-failed' || cause === 'media-lost' || cause === 'shutdown' || cause === 'ack-timeout') return 'FAILED';
  if (row.queueId && !QUEUE_EXITS.has(cause)) return 'ABANDONED';
  return 'MISSED';
}

export class CallSessionService {
  /** Sessions of calls that ended, by call id, until their last change is written. */
  private readonly ended = new Map<string, LiveCall>();
  /**
   * A row changes four or five times in a short call: the changes of every session are written behind, one
   * statement per batch, instead of one statement per change.
   */
  private readonly writer: WriteBehind<CallSession>;
  /** The session an agent's wrap-up belongs to, by extension. */
  private readonly wrapUps = new Map<string, { callId: string; since: number }>();
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    private readonly db: Db,
    private readonly bus: PbxEventBus,
    /** The calls in progress: their sessions live there. */
    private readonly calls: LiveCalls,
    private readonly onError: (err: unknown, context: string) => void,
    journal?: WriteJournal,
  ) {
    this.writer = new WriteBehind({
      name: 'sessions',
      // A call changes its row four or five times in its first seconds: gathered, a busy second is a few statements.
      gatherMs: 50,
      write: (rows) =>
        inSlices(rows, 500, (slice) =>
          this.db
            .insert(callSessions)
            .values(slice.map(({ recordingId: _ignored, ...row }) => row))
            .onConflictDoUpdate({ target: callSessions.id, set: UPSERT_SET }),
        ),
      onError: this.onError,
      journal,
    });
  }

  async start(): Promise<void> {
    // What an earlier run journaled (sessions it could not write before it stopped) lands before open ones are closed.
    await this.writer.flush();
    const now = new Date();
    await this.db
      .update(callSessions)
      .set({ status: 'FAILED', endCause: 'restart', endedAt: now, updatedAt: now })
      .where(isNull(callSessions.endedAt));
    const { bus } = this;
    this.unsubscribe.push(
      bus.on('call.created', (e) => {
        const at = new Date();
        const row: CallSession = {
          id: crypto.randomUUID(),
          tenantId: e.tenantId,
          callId: e.callId,
          // A call from the telephone network is inbound, one to it outbound, whatever it rings first.
          direction: e.carrier ? e.carrier.direction : e.originated ? 'outbound' : e.routed ? 'inbound' : 'internal',
          fromNumber: e.from,
          toNumber: e.to,
          queueId: null,
          extensionId: e.calleeExtensionId ?? null,
          callerExtensionId: e.callerExtensionId ?? null,
          status: 'INITIATED',
          queuedAt: null,
          offeredAt: null,
          answeredAt: null,
          endedAt: null,
          waitMs: 0,
          talkMs: 0,
          holdMs: 0,
          wrapUpMs: 0,
          endCause: null,
          disposition: null,
          notes: null,
          contactId: null,
          recordingId: null,
          trunkId: e.carrier?.trunkId ?? null,
          externalNumber: e.carrier?.externalNumber ?? null,
          did: e.carrier?.did ?? null,
          callerIdPresented: e.carrier?.callerId ?? null,
          createdAt: at,
          updatedAt: at,
        };
        this.save(this.calls.open(e, row));
      }),
      bus.on('call.trunk', (e) => this.change(e.callId, { trunkId: e.trunkId })),
      bus.on('queue.entered', (e) => this.change(e.callId, { status: 'QUEUED', queueId: e.queueId, queuedAt: new Date() })),
      bus.on('queue.offered', (e) => this.change(e.callId, { status: 'RINGING', offeredAt: new Date(), extensionId: e.extensionIds[0] ?? null })),
      // An offer nobody answered: the caller waits in the queue again.
      bus.on('queue.event', (e) => {
        if (e.event === 'RINGNOANSWER' && e.callId && this.calls.get(e.callId)?.session.status === 'RINGING') this.change(e.callId, { status: 'QUEUED' });
      }),
      bus.on('leg.ringing', (e) => {
        const live = this.calls.get(e.callId);
        if (live && !live.session.queueId && live.session.status === 'INITIATED') this.change(e.callId, { status: 'RINGING', offeredAt: new Date() });
      }),
      bus.on('call.answered', (e) => {
        const live = this.calls.get(e.callId);
        if (!live) return;
        const at = new Date();
        const waitFrom = live.session.queuedAt ?? live.session.createdAt;
        // A caller an agent sent to a queue keeps its first answer, and its waits add up.
        const waitMs = (live.session.answeredAt ? live.session.waitMs : 0) + at.getTime() - waitFrom.getTime();
        this.change(e.callId, { status: 'CONNECTED', answeredAt: live.session.answeredAt ?? at, extensionId: e.calleeExtensionId, waitMs });
      }),
      bus.on('call.transferring', (e) => this.change(e.callId, { status: 'TRANSFERRING' })),
      bus.on('call.consulting', (e) => this.change(e.callId, { status: 'TRANSFERRING' })),
      // A consultation that ended without a transfer: the caller is back with the agent (its hold ends next).
      bus.on('call.consultation.ended', (e) => {
        const live = this.calls.get(e.callId);
        if (live?.session.status === 'TRANSFERRING') this.change(e.callId, { status: live.holdStartedAt === undefined ? 'CONNECTED' : 'ON_HOLD' });
      }),
      bus.on('call.transferred', (e) => this.change(e.callId, { status: 'CONNECTED', extensionId: e.toExtensionId })),
      bus.on('call.hold', (e) => {
        const live = this.calls.get(e.callId);
        if (!live) return;
        if (e.held && live.holdStartedAt === undefined) {
          live.holdStartedAt = Date.now();
          this.change(e.callId, { status: 'ON_HOLD' });
        } else if (!e.held && live.holdStartedAt !== undefined) {
          const held = Date.now() - live.holdStartedAt;
          live.holdStartedAt = undefined;
          this.change(e.callId, { status: 'CONNECTED', holdMs: live.session.holdMs + held });
        }
      }),
      bus.on('call.ended', (e) => {
        const live = this.calls.get(e.callId);
        if (!live) return;
        const at = new Date();
        const holdMs = live.session.holdMs + (live.holdStartedAt === undefined ? 0 : at.getTime() - live.holdStartedAt);
        const waitingAgain = live.session.status === 'QUEUED' || live.session.status === 'RINGING';
        const waitFrom = live.session.queuedAt ?? live.session.createdAt;
        this.change(e.callId, {
          status: finalStatus(live.session, e.cause),
          endedAt: at,
          endCause: e.cause,
          talkMs: e.durations.talk,
          holdMs,
          // A caller sent to a queue after its answer, still waiting there, adds that wait to the ones before.
          waitMs: (live.session.answeredAt ? live.session.waitMs : 0) + (!live.session.answeredAt || waitingAgain ? at.getTime() - waitFrom.getTime() : 0),
        });
        // The row stays in memory until it is written, for those who read it as the call ends; the live view lets
        // the call go once it has told of its end.
        this.ended.set(e.callId, live);
        this.forgetWhenWritten(live);
      }),
      bus.on('agent.status.changed', (e) => {
        if (e.to === 'WRAP_UP' && e.callId) {
          this.wrapUps.set(e.extensionId, { callId: e.callId, since: e.at.getTime() });
        } else if (e.from === 'WRAP_UP') {
          const w = this.wrapUps.get(e.extensionId);
          this.wrapUps.delete(e.extensionId);
          if (w) void this.patchByCall(w.callId, { wrapUpMs: e.at.getTime() - w.since });
        }
      }),
    );
  }

  async stop(): Promise<void> {
    for (const off of this.unsubscribe.splice(0)) off();
    await this.writer.close();
  }

  /** The live session of a call in progress, if any. */
  ofCall(callId: string): CallSession | undefined {
    return this.calls.get(callId)?.session;
  }

  /** The sessions of a tenant's calls in progress. */
  liveSessions(tenantId: string): CallSession[] {
    return this.calls.list(tenantId).map((c) => c.session);
  }

  /** The live session of a call in progress, by the call's id or the session's. */
  liveSession(tenantId: string, idOrCallId: string): CallSession | undefined {
    return this.calls.find(tenantId, idOrCallId)?.session;
  }

  /** Names the contact (a CRM record) a live call is about, as a click-to-call gives it. */
  attachContact(callId: string, contactId: string): void {
    this.change(callId, { contactId });
  }

  private change(callId: string, patch: Partial<CallSession>): void {
    const live = this.calls.get(callId);
    if (!live) return;
    if (patch.status !== undefined) assertSessionMove(live.session.status, patch.status);
    Object.assign(live.session, patch, { updatedAt: new Date() });
    this.save(live);
    this.bus.emit('session.updated', {
      tenantId: live.session.tenantId,
      sessionId: live.session.id,
      callId,
      status: live.session.status,
      extensionId: live.session.extensionId,
      queueId: live.session.queueId,
    });
  }

  /** Queues the row's current state for writing. */
  private save(live: LiveCall): Promise<void> {
    this.writer.put(live.session.id, live.session);
    live.written = this.writer.flushSoon();
    return live.written;
  }

  /** Changes a session still in memory, and settles when the change is written. */
  private patchKept(kept: LiveCall, patch: Partial<CallSession>): Promise<void> {
    Object.assign(kept.session, patch, { updatedAt: new Date() });
    return this.save(kept);
  }

  private forgetWhenWritten(live: LiveCall): void {
    const last = live.written;
    void last.then(() => {
      if (live.written !== last) this.forgetWhenWritten(live);
      // While the database is away the row waits in the writer's backlog: kept here too, so a late change (the
      // wrap-up's length, notes) joins it instead of going to a database that cannot take it.
      else if (this.writer.failing) setTimeout(() => this.forgetWhenWritten(live), 1000).unref();
      else if (this.ended.get(live.session.callId) === live) this.ended.delete(live.session.callId);
    });
  }

  /** A change of a session after its call: in memory while the row is still there, else in the database. */
  private async patchByCall(callId: string, patch: Partial<CallSession>): Promise<void> {
    const kept = this.calls.get(callId) ?? this.ended.get(callId);
    if (kept) {
      await this.patchKept(kept, patch);
      return;
    }
    try {
      await this.writer.flush();
      await this.db.update(callSessions).set({ ...patch, updatedAt: new Date() }).where(eq(callSessions.callId, callId));
    } catch (err) {
      this.onError(err, 'sessions:patch');
    }
  }

  async get(tenantId: string, idOrCallId: string): Promise<CallSession> {
    const kept = this.calls.get(idOrCallId) ?? this.ended.get(idOrCallId);
    if (kept && kept.session.tenantId === tenantId) return kept.session;
    const isUuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(idOrCallId);
    const where = isUuid ? sql`(${callSessions.id} = ${idOrCallId} or ${callSessions.callId} = ${idOrCallId})` : eq(callSessions.callId, idOrCallId);
    const [row] = await this.select(and(eq(callSessions.tenantId, tenantId), where) as SQL, 1, 0);
    if (!row) throw new PbxError('PBX_ERR_CALL_NOT_FOUND');
    return row;
  }

  async list(tenantId: string, f: SessionFilter): Promise<{ sessions: CallSession[]; total: number }> {
    const conditions: SQL[] = [eq(callSessions.tenantId, tenantId)];
    if (f.from) conditions.push(gte(callSessions.createdAt, f.from));
    if (f.to) conditions.push(lte(callSessions.createdAt, f.to));
    // An agent's calls: those it took and those it placed.
    if (f.extensionId) conditions.push(or(eq(callSessions.extensionId, f.extensionId), eq(callSessions.callerExtensionId, f.extensionId)) as SQL);
    if (f.queueId) conditions.push(eq(callSessions.queueId, f.queueId));
    if (f.status?.length) conditions.push(inArray(callSessions.status, f.status));
    conditions.push(...carrierConditions(f));
    const where = and(...conditions) as SQL;
    const [count] = await this.db.select({ n: sql<number>`count(*)::int` }).from(callSessions).where(where);
    return { sessions: await this.select(where, f.limit, f.offset), total: count?.n ?? 0 };
  }

  private async select(where: SQL, limit: number, offset: number): Promise<CallSession[]> {
    const rows = await this.db
      .select({ s: callSessions, recordingId: recordings.id })
      .from(callSessions)
      .leftJoin(recordings, eq(recordings.callId, callSessions.callId))
      .where(where)
      .orderBy(desc(callSessions.createdAt))
      .limit(limit)
      .offset(offset);
    return rows.map((r) => ({ ...r.s, recordingId: r.recordingId }));
  }

  /** Notes and disposition, during the call or after it (wrap-up). */
  async setNotes(tenantId: string, idOrCallId: string, notes: string, disposition: string | undefined): Promise<CallSession> {
    const session = await this.get(tenantId, idOrCallId);
    const patch = { notes, ...(disposition === undefined ? {} : { disposition }) };
    const live = this.calls.get(session.callId);
    if (live) {
      this.change(session.callId, patch);
      await live.written;
      return live.session;
    }
    const ended = this.ended.get(session.callId);
    if (ended) {
      await this.patchKept(ended, patch);
      return ended.session;
    }
    await this.writer.flush();
    await this.db.update(callSessions).set({ ...patch, updatedAt: new Date() }).where(eq(callSessions.id, session.id));
    return { ...session, ...patch };
  }
}
