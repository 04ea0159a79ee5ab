/**
 * Seed 000's queues (`/api/pbx/queues`: create, list, get, status, update, delete) and their members at runtime
 * (QueueAdd, QueueRemove, QueuePause in app_queue's words). Administrators and managers change queues; supervisors
 * may also add, remove and pause members; every staff role reads them. Agents see the queues they are members of.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import type { AgentService, Queue, QueueService, QueueSettings } from '../../contact-center/index.ts';
import { queueStrategies } from '../../db/index.ts';
import { isStaff, principalOf, STAFF } from '../plugins/access.ts';
import { DateTime, errors, IdParams, Nullable, Uuid } from '../schemas.ts';

const Number_ = Type.Union([Type.String({ pattern: '^[0-9]{1,9}$' }), Type.Integer({ minimum: 0, maximum: 999_999_999 })], { description: 'The number callers dial, e.g. "2001"' });
const Strategy = Type.Union(queueStrategies.map((s) => Type.Literal(s)), { description: "app_queue's strategies" });
const Fallback = Type.Union([
  Type.Object({ type: Type.Literal('hangup') }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('queue'), target: Type.String({ pattern: '^[0-9]{1,9}$' }) }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('extension'), target: Type.String({ pattern: '^[0-9]{1,9}$' }) }, { additionalProperties: false }),
  Type.Object(
    { type: Type.Literal('external'), target: Type.String({ pattern: '^\\+?[0-9]{2,20}$', description: "A phone number outside (E.164 or as dialled), through the tenant's outbound routes" }) },
    { additionalProperties: false },
  ),
]);

const settingsProps = {
  strategy: Type.Optional(Strategy),
  ringTimeout: Type.Optional(Type.Integer({ minimum: 1, maximum: 600, description: 'Seconds an offer rings (default 15)' })),
  retryDelay: Type.Optional(Type.Integer({ minimum: 0, maximum: 600, description: 'Seconds before the next offer (default 2)' })),
  wrapUpTime: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600, description: 'Seconds of WRAP_UP after a call (default 10)' })),
  maxWait: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400, description: 'Seconds before the fallback; 0 waits for ever (default 300)' })),
  maxCallers: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000, description: 'Callers at once; 0 has no limit' })),
  fallback: Type.Optional(Fallback),
  joinWhenEmpty: Type.Optional(Type.Union([Type.Literal('yes'), Type.Literal('loggedin'), Type.Literal('available')])),
  serviceLevel: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600, description: 'Service-level threshold in seconds (default 20)' })),
  autoPauseAfter: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, description: 'Unanswered offers in a row that pause an agent; 0 is off' })),
};

const MemberInput = Type.Object({ extensionId: Uuid, penalty: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })) }, { additionalProperties: false });

const CreateQueue = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 100 }), number: Number_, ...settingsProps, members: Type.Optional(Type.Array(MemberInput, { maxItems: 1000 })) },
  { additionalProperties: false },
);
const UpdateQueue = Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })), number: Type.Optional(Number_), ...settingsProps }, { additionalProperties: false, minProperties: 1 });

const MemberBody = Type.Object({
  extensionId: Uuid,
  extension: Type.String(),
  penalty: Type.Integer(),
  paused: Type.Boolean(),
  pauseReason: Nullable(Type.String()),
});

const QueueBody = Type.Object({
  id: Uuid,
  tenantId: Uuid,
  name: Type.String(),
  number: Type.String(),
  strategy: Strategy,
  ringTimeout: Type.Integer(),
  retryDelay: Type.Integer(),
  wrapUpTime: Type.Integer(),
  maxWait: Type.Integer(),
  maxCallers: Type.Integer(),
  fallback: Fallback,
  joinWhenEmpty: Type.String(),
  serviceLevel: Type.Integer(),
  autoPauseAfter: Type.Integer(),
  members: Type.Array(MemberBody),
  createdAt: DateTime,
  updatedAt: DateTime,
});

const QueueStatusBody = Type.Object({
  queueId: Uuid,
  name: Type.String(),
  number: Type.String(),
  waiting: Type.Integer(),
  agents: Type.Integer({ description: 'Members logged in (not OFFLINE)' }),
  available: Type.Integer({ description: 'Members free for a call now' }),
  longestWait: Type.Integer({ description: 'Seconds' }),
  callers: Type.Array(Type.Object({ callId: Type.String(), from: Type.String(), position: Type.Integer(), priority: Type.Integer(), wait: Type.Integer(), ringing: Type.Array(Type.String()) })),
  members: Type.Array(Type.Object({
    extensionId: Uuid,
    extension: Type.String(),
    penalty: Type.Integer(),
    paused: Type.Boolean(),
    pauseReason: Nullable(Type.String()),
    status: Type.String(),
    callsTaken: Type.Integer(),
    lastCallEndedAt: Nullable(DateTime),
  })),
});

function queueBody(q: Queue) {
  const { members, number, ...rest } = q;
  return {
    ...rest,
    number: String(number),
    members: members.map((m) => ({ extensionId: m.extensionId, extension: String(m.number), penalty: m.penalty, paused: m.paused, pauseReason: m.pauseReason })),
  };
}

const MemberParams = Type.Object({ id: Uuid, extensionId: Uuid });
const PauseBody = Type.Object({ paused: Type.Boolean(), reason: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })) }, { additionalProperties: false });

type Settings = Partial<QueueSettings> & { number?: number };

function settingsOf(body: Record<string, unknown>): Settings {
  const { members: _members, number, ...rest } = body;
  return { ...(rest as Partial<QueueSettings>), ...(number === undefined ? {} : { number: Number(number) }) };
}

const MANAGERS = ['ADMIN', 'MANAGER'] as const;

export function queueRoutes(app: FastifyInstance, queues: QueueService, agents: AgentService): void {
  const security = [{ bearerAuth: [] }];
  const base = '/api/pbx/queues';
  const tags = ['queues'];

  app.post<{ Body: Static<typeof CreateQueue> }>(base, {
    config: { roles: [...MANAGERS], audit: 'queue.create' },
    schema: { tags, summary: 'Create a queue', security, body: CreateQueue, response: { 201: QueueBody, ...errors(404, 409) } },
  }, async (request, reply) => {
    const p = principalOf(request);
    const settings = settingsOf(request.body);
    const queue = await queues.create(
      p.tenantId,
      {
        strategy: 'ringall',
        ringTimeout: 15,
        retryDelay: 2,
        wrapUpTime: 10,
        maxWait: 300,
        maxCallers: 0,
        fallback: { type: 'hangup' },
        joinWhenEmpty: 'yes',
        serviceLevel: 20,
        autoPauseAfter: 0,
        ...settings,
        name: request.body.name,
        number: Number(request.body.number),
      },
      request.body.members,
    );
    request.auditTarget = { type: 'queue', id: queue.id, details: { number: queue.number } };
    return reply.status(201).send(queueBody(queue));
  });

  app.get(base, {
    schema: { tags, summary: 'List queues (an agent sees those it is a member of)', security, response: { 200: Type.Object({ queues: Type.Array(QueueBody) }), ...errors() } },
  }, async (request) => {
    const p = principalOf(request);
    const all = queues.list(p.tenantId);
    const own = agents.ofUser(p.tenantId, p.userId)?.extensionId;
    const visible = isStaff(p) ? all : all.filter((q) => q.members.some((m) => m.extensionId === own));
    return { queues: visible.map(queueBody) };
  });

  app.get<{ Params: Static<typeof IdParams> }>(`${base}/:id`, {
    config: { roles: [...STAFF] },
    schema: { tags, summary: 'Get a queue', security, params: IdParams, response: { 200: QueueBody, ...errors(404) } },
  }, async (request) => queueBody(queues.get(principalOf(request).tenantId, request.params.id)));

  app.get<{ Params: Static<typeof IdParams> }>(`${base}/:id/status`, {
    config: { roles: [...STAFF] },
    schema: { tags, summary: 'Live status: callers waiting (in order), members and their states', security, params: IdParams, response: { 200: QueueStatusBody, ...errors(404) } },
  }, async (request) => queues.status(principalOf(request).tenantId, request.params.id));

  app.put<{ Params: Static<typeof IdParams>; Body: Static<typeof UpdateQueue> }>(`${base}/:id`, {
    config: { roles: [...MANAGERS], audit: 'queue.update' },
    schema: { tags, summary: 'Change a queue', security, params: IdParams, body: UpdateQueue, response: { 200: QueueBody, ...errors(404, 409) } },
  }, async (request) => {
    const p = principalOf(request);
    const queue = await queues.update(p.tenantId, request.params.id, settingsOf(request.body));
    request.auditTarget = { type: 'queue', id: queue.id, details: { fields: Object.keys(request.body) } };
    return queueBody(queue);
  });

  app.delete<{ Params: Static<typeof IdParams> }>(`${base}/:id`, {
    config: { roles: [...MANAGERS], audit: 'queue.delete' },
    schema: { tags, summary: 'Delete a queue (its waiting callers go to its fallback)', security, params: IdParams, response: { 200: Type.Object({ message: Type.String(), id: Uuid }), ...errors(404) } },
  }, async (request) => {
    const p = principalOf(request);
    const queue = await queues.delete(p.tenantId, request.params.id);
    request.auditTarget = { type: 'queue', id: queue.id, details: { number: queue.number } };
    return { message: 'Queue deleted successfully', id: queue.id };
  });

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof MemberInput> }>(`${base}/:id/members`, {
    config: { roles: [...STAFF], audit: 'queue.member.add' },
    schema: { tags, summary: 'QueueAdd: make an agent a member (or change its penalty)', security, params: IdParams, body: MemberInput, response: { 200: MemberBody, ...errors(404) } },
  }, async (request) => {
    const p = principalOf(request);
    const m = await queues.addMember(p.tenantId, request.params.id, request.body.extensionId, request.body.penalty ?? 0);
    request.auditTarget = { type: 'queue', id: request.params.id, details: { extensionId: m.extensionId, penalty: m.penalty } };
    return { extensionId: m.extensionId, extension: String(m.number), penalty: m.penalty, paused: m.paused, pauseReason: m.pauseReason };
  });

  app.delete<{ Params: Static<typeof MemberParams> }>(`${base}/:id/members/:extensionId`, {
    config: { roles: [...STAFF], audit: 'queue.member.remove' },
    schema: { tags, summary: 'QueueRemove: a member leaves the queue', security, params: MemberParams, response: { 200: Type.Object({ message: Type.String() }), ...errors(404) } },
  }, async (request) => {
    const p = principalOf(request);
    await queues.removeMember(p.tenantId, request.params.id, request.params.extensionId);
    request.auditTarget = { type: 'queue', id: request.params.id, details: { extensionId: request.params.extensionId } };
    return { message: 'Member removed' };
  });

  app.post<{ Params: Static<typeof MemberParams>; Body: Static<typeof PauseBody> }>(`${base}/:id/members/:extensionId/pause`, {
    config: { roles: [...STAFF], audit: 'queue.member.pause' },
    schema: { tags, summary: 'QueuePause: pause or unpause a member in this queue only', security, params: MemberParams, body: PauseBody, response: { 200: MemberBody, ...errors(404) } },
  }, async (request) => {
    const p = principalOf(request);
    const m = await queues.pauseMember(p.tenantId, request.params.id, request.params.extensionId, request.body.paused, request.body.reason ?? null);
    request.auditTarget = { type: 'queue', id: request.params.id, details: { extensionId: m.extensionId, paused: m.paused } };
    return { extensionId: m.extensionId, extension: String(m.number), penalty: m.penalty, paused: m.paused, pauseReason: m.pauseReason };
  });
}
