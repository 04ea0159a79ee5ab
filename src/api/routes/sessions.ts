/**
 * Call sessions (seed 000's `/api/pbx/calls/sessions`), notes and disposition (seed 001's POST and seed 000's PUT
 * `/api/pbx/calls/:callId/notes`, one handler), the tenant's away reasons, and seed 001's live manager views of
 * agents and queues. Agents see their own sessions only; staff see the tenant's.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import type { CallSession, ContactCenter } from '../../contact-center/index.ts';
import { callSessionStatuses } from '../../db/index.ts';
import type { Directory, Principal } from '../../directory/index.ts';
import { PbxError } from '../../errors/index.ts';
import { isStaff, principalOf, STAFF } from '../plugins/access.ts';
import { AgentStatus, DateTime, errors, Nullable, Uuid } from '../schemas.ts';

const Status = Type.Union(callSessionStatuses.map((s) => Type.Literal(s)));

export const CallSessionBody = Type.Object({
  id: Uuid,
  tenantId: Uuid,
  callId: Type.String(),
  direction: Type.String(),
  fromNumber: Type.String(),
  toNumber: Type.String(),
  queueId: Nullable(Uuid),
  agentId: Nullable(Uuid),
  status: Status,
  createdAt: DateTime,
  queuedAt: Nullable(DateTime),
  offeredAt: Nullable(DateTime),
  answeredAt: Nullable(DateTime),
  endedAt: Nullable(DateTime),
  waitTime: Type.Number({ description: 'Seconds waiting (queue or ringing)' }),
  talkTime: Type.Number({ description: 'Seconds of conversation' }),
  holdTime: Type.Number({ description: 'Seconds on hold' }),
  wrapUpTime: Type.Number({ description: "Seconds of the agent's wrap-up after it" }),
  duration: Type.Number({ description: 'Seconds of conversation (seed 001)' }),
  endCause: Nullable(Type.String()),
  disposition: Nullable(Type.String()),
  notes: Nullable(Type.String()),
  contactId: Nullable(Type.String()),
  recordingId: Nullable(Uuid),
  trunkId: Nullable(Type.String({ format: 'uuid', description: 'The trunk a call from or to the telephone network used' })),
  externalNumber: Nullable(Type.String({ description: 'The number outside (E.164, or an emergency number as dialled)' })),
  did: Nullable(Type.String({ description: "The tenant's phone number a call from the network dialled" })),
  callerIdPresented: Nullable(Type.String({ description: 'The caller ID presented outside on a call out' })),
});

export function callSessionBody(s: CallSession) {
  return {
    id: s.id,
    tenantId: s.tenantId,
    callId: s.callId,
    direction: s.direction,
    fromNumber: s.fromNumber,
    toNumber: s.toNumber,
    queueId: s.queueId,
    agentId: s.extensionId,
    status: s.status,
    createdAt: s.createdAt,
    queuedAt: s.queuedAt,
    offeredAt: s.offeredAt,
    answeredAt: s.answeredAt,
    endedAt: s.endedAt,
    waitTime: s.waitMs / 1000,
    talkTime: s.talkMs / 1000,
    holdTime: s.holdMs / 1000,
    wrapUpTime: s.wrapUpMs / 1000,
    duration: s.talkMs / 1000,
    endCause: s.endCause,
    disposition: s.disposition,
    notes: s.notes,
    contactId: s.contactId,
    recordingId: s.recordingId,
    trunkId: s.trunkId,
    externalNumber: s.externalNumber,
    did: s.did,
    callerIdPresented: s.callerIdPresented,
  };
}

const ListQuery = Type.Object({
  startDate: Type.Optional(Type.String({ format: 'date-time' })),
  endDate: Type.Optional(Type.String({ format: 'date-time' })),
  agentId: Type.Optional(Uuid),
  queueId: Type.Optional(Uuid),
  direction: Type.Optional(Type.Union([Type.Literal('inbound'), Type.Literal('outbound'), Type.Literal('internal')], { description: 'inbound also means from the telephone network, outbound to it' })),
  number: Type.Optional(Type.String({ minLength: 1, maxLength: 32, pattern: '^\\+?[0-9*#]+$', description: 'A phone number (DID), a number outside (E.164), or an extension\'s or a queue\'s number' })),
  status: Type.Optional(Type.String({ pattern: `^(${callSessionStatuses.join('|')})(,(${callSessionStatuses.join('|')}))*$`, description: 'One status or several, comma-separated' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
});

const CallParams = Type.Object({ callId: Type.String({ minLength: 1, maxLength: 100 }) });
const NotesBody = Type.Object(
  {
    callId: Type.Optional(Type.String({ maxLength: 100, description: 'Seed 001 repeats it in the body; the path wins' })),
    notes: Type.String({ maxLength: 10_000 }),
    disposition: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  },
  { additionalProperties: false },
);


export function sessionRoutes(app: FastifyInstance, directory: Directory, cc: ContactCenter): void {
  const security = [{ bearerAuth: [] }];
  const tags = ['calls'];

  /** The agent's own extension, for the rules that limit agents to their own calls. */
  const ownExtension = (p: Principal) => cc.agents.ofUser(p.tenantId, p.userId)?.extensionId;

  async function visibleSession(p: Principal, id: string): Promise<CallSession> {
    const session = await cc.sessions.get(p.tenantId, id);
    if (!isStaff(p)) {
      const own = ownExtension(p);
      const mine = own !== undefined && (session.extensionId === own || session.callerExtensionId === own || cc.agents.find(own)?.calls.includes(session.callId));
      if (!mine) throw new PbxError('PBX_ERR_CALL_NOT_FOUND');
    }
    return session;
  }

  app.get<{ Querystring: Static<typeof ListQuery> }>('/api/pbx/calls/sessions', {
    schema: {
      tags,
      summary: 'List call sessions, newest first (an agent sees its own)',
      security,
      querystring: ListQuery,
      response: { 200: Type.Object({ sessions: Type.Array(CallSessionBody), total: Type.Integer(), limit: Type.Integer(), offset: Type.Integer() }), ...errors() },
    },
  }, async (request) => {
    const p = principalOf(request);
    const q = request.query;
    const extensionId = isStaff(p) ? q.agentId : (ownExtension(p) ?? '00000000-0000-0000-0000-000000000000');
    const limit = q.limit ?? 50;
    const offset = q.offset ?? 0;
    const { sessions, total } = await cc.sessions.list(p.tenantId, {
      from: q.startDate ? new Date(q.startDate) : undefined,
      to: q.endDate ? new Date(q.endDate) : undefined,
      extensionId,
      queueId: q.queueId,
      direction: q.direction,
      number: q.number,
      status: q.status?.split(',') as CallSession['status'][] | undefined,
      limit,
      offset,
    });
    return { sessions: sessions.map(callSessionBody), total, limit, offset };
  });

  app.get<{ Params: { id: string } }>('/api/pbx/calls/sessions/:id', {
    schema: { tags, summary: 'Get a call session (by its id or its call id)', security, params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) }), response: { 200: CallSessionBody, ...errors(404) } },
  }, async (request) => callSessionBody(await visibleSession(principalOf(request), request.params.id)));

  const notes = async (request: FastifyRequest<{ Params: Static<typeof CallParams>; Body: Static<typeof NotesBody> }>) => {
    const p = principalOf(request);
    const session = await visibleSession(p, request.params.callId);
    const updated = await cc.sessions.setNotes(p.tenantId, session.id, request.body.notes, request.body.disposition);
    request.auditTarget = { type: 'call_session', id: session.id, details: { disposition: request.body.disposition ?? null } };
    return callSessionBody(updated);
  };
  const notesSchema = { tags, summary: 'Set the notes and disposition of a call, during it or after (wrap-up)', security, params: CallParams, body: NotesBody, response: { 200: CallSessionBody, ...errors(404) } };
  app.post('/api/pbx/calls/:callId/notes', { config: { audit: 'call.notes' }, schema: notesSchema }, notes);
  app.put('/api/pbx/calls/:callId/notes', { config: { audit: 'call.notes' }, schema: notesSchema }, notes);

  const Reasons = Type.Object({ awayReasons: Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 50 }) }, { additionalProperties: false });
  app.get('/api/pbx/agent/away-reasons', {
    schema: { tags: ['agents'], summary: "The tenant's reasons for AWAY", security, response: { 200: Reasons, ...errors() } },
  }, async (request) => ({ awayReasons: cc.agents.awayReasonsOf(principalOf(request).tenantId) }));
  app.put<{ Body: Static<typeof Reasons> }>('/api/pbx/agent/away-reasons', {
    config: { roles: ['ADMIN', 'MANAGER'], audit: 'agent.away_reasons' },
    schema: { tags: ['agents'], summary: "Set the tenant's reasons for AWAY", security, body: Reasons, response: { 200: Reasons, ...errors() } },
  }, async (request) => ({ awayReasons: await cc.agents.setAwayReasons(principalOf(request).tenantId, request.body.awayReasons) }));

  const ManagerAgent = Type.Object({
    id: Uuid,
    userId: Uuid,
    name: Type.String(),
    extension: Type.String(),
    status: AgentStatus,
    statusReason: Nullable(Type.String()),
    since: DateTime,
    registered: Type.Boolean(),
    currentCall: Type.Optional(CallSessionBody),
  });
  app.get('/api/pbx/manager/agents', {
    config: { roles: [...STAFF] },
    schema: { tags: ['manager'], summary: 'Every agent with its live status and current call (seed 001)', security, response: { 200: Type.Object({ agents: Type.Array(ManagerAgent) }), ...errors() } },
  }, async (request) => {
    const p = principalOf(request);
    const users = new Map((await directory.users.list(p.tenantId)).map((u) => [u.id, u]));
    const agents = cc.agents.list(p.tenantId).sort((a, b) => a.number - b.number);
    return {
      agents: agents.map((a) => {
        const call = a.calls[0] === undefined ? undefined : cc.sessions.ofCall(a.calls[0]);
        return {
          id: a.extensionId,
          userId: a.userId,
          name: users.get(a.userId)?.name ?? '',
          extension: String(a.number),
          status: a.status,
          statusReason: a.reason,
          since: a.since,
          registered: a.registered,
          ...(call ? { currentCall: callSessionBody(call) } : {}),
        };
      }),
    };
  });

  app.get('/api/pbx/manager/queues', {
    config: { roles: [...STAFF] },
    schema: {
      tags: ['manager'],
      summary: 'Every queue with its live figures (seed 001)',
      security,
      response: { 200: Type.Object({ queues: Type.Array(Type.Object({ id: Uuid, name: Type.String(), number: Type.String(), waiting: Type.Integer(), agents: Type.Integer(), available: Type.Integer(), longestWait: Type.Integer() })) }), ...errors() },
    },
  }, async (request) => {
    const p = principalOf(request);
    return { queues: cc.queues.list(p.tenantId).map((q) => ({ id: q.id, name: q.name, number: String(q.number), ...cc.queues.figures(q) })) };
  });
}
