/**
 * Metrics (seed 001's `/api/pbx/manager/metrics` and `/manager/reports/agent-performance`, seed 000's
 * `/api/pbx/reporting/...`), computed when asked from the sessions and the activity log as they stand (see
 * contact-center/metrics.ts for the formulas). A period is `startDate`..`endDate`; without them, today so far
 * (from the server's local midnight). Staff see the tenant; an agent may read its own agent metrics.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import type { AgentFigures, CallMetrics, ContactCenter, Period } from '../../contact-center/index.ts';
import type { Directory } from '../../directory/index.ts';
import { PbxError } from '../../errors/index.ts';
import { isStaff, principalOf, STAFF } from '../plugins/access.ts';
import { AgentStatus, DateTime, errors, Uuid } from '../schemas.ts';

const PeriodQuery = {
  startDate: Type.Optional(Type.String({ format: 'date-time', description: 'Start of the period; default: today 00:00 (server time)' })),
  endDate: Type.Optional(Type.String({ format: 'date-time', description: 'End of the period; default: now' })),
};

const Percent = (description: string) => Type.Number({ minimum: 0, maximum: 100, description });
const Seconds = (description: string) => Type.Number({ minimum: 0, description: `${description}, in seconds` });

const CallMetricsBody = Type.Object({
  totalCalls: Type.Integer(),
  answeredCalls: Type.Integer(),
  abandonedCalls: Type.Integer(),
  missedCalls: Type.Integer(),
  queueCalls: Type.Integer({ description: 'Calls that went through a queue' }),
  answeredWithinThreshold: Type.Integer({ description: "Queue calls answered within their queue's service-level threshold" }),
  avgWaitTime: Seconds('Average speed of answer (mean wait of answered calls)'),
  avgAbandonWait: Seconds('Mean wait of abandoned calls'),
  avgCallDuration: Seconds('Mean talk time of answered calls (hold included)'),
  avgHoldTime: Seconds('Mean hold time of answered calls'),
  avgWrapUpTime: Seconds('Mean wrap-up after answered calls'),
  avgHandleTime: Seconds('AHT: talk (hold included) + wrap-up, per answered call'),
  serviceLevel: Percent("app_queue's: answered within the threshold / answered x 100 (100 with no answered queue call)"),
  serviceLevelWithAbandoned: Percent('Answered within the threshold / (answered + abandoned) x 100'),
  abandonRate: Percent('Abandoned queue calls / queue calls x 100'),
});

const AgentFiguresBody = Type.Object({
  callsHandled: Type.Integer(),
  avgCallDuration: Seconds('Mean talk time'),
  avgWrapUpTime: Seconds('Mean wrap-up'),
  avgHandleTime: Seconds('AHT'),
  availability: Percent('Time logged in and not AWAY / time logged in x 100'),
  occupancy: Percent('Time BUSY or in WRAP_UP / time AVAILABLE, RINGING, BUSY or in WRAP_UP x 100'),
  callsByDisposition: Type.Record(Type.String(), Type.Integer()),
  timeInStatus: Type.Record(Type.String(), Type.Number(), { description: 'Seconds in each state over the period' }),
});

const PeriodBody = Type.Object({ startDate: DateTime, endDate: DateTime });

function periodOf(q: { startDate?: string; endDate?: string }): Period {
  const midnight = new Date();
  midnight.setHours(0, 0, 0, 0);
  const period = { from: q.startDate ? new Date(q.startDate) : midnight, to: q.endDate ? new Date(q.endDate) : new Date() };
  if (period.from > period.to) throw new PbxError('PBX_ERR_VALIDATION', 'startDate is after endDate');
  return period;
}

const periodBody = (p: Period) => ({ startDate: p.from.toISOString(), endDate: p.to.toISOString() });

export function reportingRoutes(app: FastifyInstance, directory: Directory, cc: ContactCenter): void {
  const security = [{ bearerAuth: [] }];
  const staffOnly = { roles: [...STAFF] };

  const agentOf = (tenantId: string, agentId: string) => {
    const agent = cc.agents.find(agentId);
    if (!agent || agent.tenantId !== tenantId) throw new PbxError('PBX_ERR_EXTENSION_NOT_FOUND');
    return agent;
  };

  const MetricsQuery = Type.Object({
    ...PeriodQuery,
    agentId: Type.Optional(Uuid),
    queueId: Type.Optional(Uuid),
    direction: Type.Optional(Type.Union([Type.Literal('inbound'), Type.Literal('outbound'), Type.Literal('internal')], { description: 'inbound also means from the telephone network, outbound to it' })),
    number: Type.Optional(Type.String({ minLength: 1, maxLength: 32, pattern: '^\\+?[0-9*#]+$', description: 'A phone number (DID) or a number outside (E.164), or an extension\'s or a queue\'s number' })),
  });
  app.get<{ Querystring: Static<typeof MetricsQuery> }>('/api/pbx/manager/metrics', {
    config: staffOnly,
    schema: { tags: ['manager'], summary: 'Call metrics over a period, for the tenant, an agent or a queue (seed 001)', security, querystring: MetricsQuery, response: { 200: CallMetricsBody, ...errors() } },
  }, async (request) => {
    const p = principalOf(request);
    const q = request.query;
    return cc.metrics.calls(p.tenantId, periodOf(q), { extensionId: q.agentId, queueId: q.queueId, direction: q.direction, number: q.number });
  });

  const AgentSummary = Type.Object({ id: Uuid, userId: Uuid, name: Type.String(), email: Type.String(), extension: Type.String(), status: AgentStatus });
  const summaryOf = async (tenantId: string, agentId: string) => {
    const agent = agentOf(tenantId, agentId);
    const user = await directory.users.get(tenantId, agent.userId);
    return { id: agent.extensionId, userId: agent.userId, name: user.name, email: user.email, extension: String(agent.number), status: agent.status };
  };
  const figuresOf = async (tenantId: string, period: Period, agentId: string): Promise<AgentFigures> =>
    (await cc.metrics.agents(tenantId, period, [agentId])).get(agentId) as AgentFigures;

  const PerformanceQuery = Type.Object({ ...PeriodQuery, agentId: Uuid });
  app.get<{ Querystring: Static<typeof PerformanceQuery> }>('/api/pbx/manager/reports/agent-performance', {
    config: staffOnly,
    schema: {
      tags: ['manager'],
      summary: "An agent's performance over a period (seed 001)",
      security,
      querystring: PerformanceQuery,
      response: { 200: Type.Intersect([Type.Object({ agent: AgentSummary, period: PeriodBody }), AgentFiguresBody]), ...errors(404) },
    },
  }, async (request) => {
    const p = principalOf(request);
    const period = periodOf(request.query);
    const agent = await summaryOf(p.tenantId, request.query.agentId);
    return { agent, period: periodBody(period), ...(await figuresOf(p.tenantId, period, agent.id)) };
  });

  const TimelineQuery = Type.Object({ ...PeriodQuery, interval: Type.Optional(Type.Integer({ minimum: 300, maximum: 86_400, default: 3600, description: 'Seconds per bucket' })) });
  app.get<{ Querystring: Static<typeof TimelineQuery> }>('/api/pbx/reporting/timeline', {
    config: staffOnly,
    schema: {
      tags: ['reporting'],
      summary: 'Call metrics per interval over a period (default: today by the hour), for charts',
      security,
      querystring: TimelineQuery,
      response: { 200: Type.Object({ period: PeriodBody, interval: Type.Integer(), buckets: Type.Array(Type.Intersect([Type.Object({ start: DateTime }), CallMetricsBody])) }), ...errors() },
    },
  }, async (request) => {
    const p = principalOf(request);
    const period = periodOf(request.query);
    const interval = request.query.interval ?? 3600;
    if ((period.to.getTime() - period.from.getTime()) / (interval * 1000) > 1000) throw new PbxError('PBX_ERR_VALIDATION', 'At most 1000 intervals: choose a shorter period or a longer interval');
    const buckets = await cc.metrics.timeline(p.tenantId, period, interval * 1000);
    return { period: periodBody(period), interval, buckets: buckets.map((b) => ({ ...b, start: b.start.toISOString() })) };
  });

  const Query = Type.Object(PeriodQuery);
  const QueueLive = Type.Object({ id: Uuid, name: Type.String(), number: Type.String(), waiting: Type.Integer(), agents: Type.Integer(), available: Type.Integer(), longestWait: Type.Integer(), serviceLevel: Type.Number(), serviceLevelThreshold: Type.Integer() });
  app.get('/api/pbx/reporting/realtime', {
    config: staffOnly,
    schema: {
      tags: ['reporting'],
      summary: "Now: agents by state, queues' live figures with today's service level, calls in progress, and today's call metrics (seed 000)",
      security,
      response: {
        200: Type.Object({
          at: DateTime,
          agents: Type.Object({ total: Type.Integer(), registered: Type.Integer(), byStatus: Type.Record(Type.String(), Type.Integer()) }),
          queues: Type.Array(QueueLive),
          calls: Type.Object({ active: Type.Integer(), waiting: Type.Integer(), connected: Type.Integer() }),
          today: CallMetricsBody,
        }),
        ...errors(),
      },
    },
  }, async (request) => {
    const p = principalOf(request);
    const today = periodOf({});
    const agents = cc.agents.list(p.tenantId);
    const byStatus: Record<string, number> = {};
    for (const a of agents) byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;
    const live = cc.sessions.liveSessions(p.tenantId);
    const byQueue = await cc.metrics.callsByQueue(p.tenantId, today);
    const queues = cc.queues.list(p.tenantId).map((q) => ({
      id: q.id,
      name: q.name,
      number: String(q.number),
      ...cc.queues.figures(q),
      serviceLevel: byQueue.get(q.id)?.serviceLevel ?? 100,
      serviceLevelThreshold: q.serviceLevel,
    }));
    return {
      at: new Date().toISOString(),
      agents: { total: agents.length, registered: agents.filter((a) => a.registered).length, byStatus },
      queues,
      calls: { active: live.length, waiting: live.filter((s) => s.status === 'QUEUED').length, connected: live.filter((s) => s.status === 'CONNECTED' || s.status === 'ON_HOLD').length },
      today: await cc.metrics.calls(p.tenantId, today),
    };
  });

  const AgentParams = Type.Object({ agentId: Uuid });
  app.get<{ Params: Static<typeof AgentParams>; Querystring: Static<typeof Query> }>('/api/pbx/reporting/agent/:agentId/metrics', {
    schema: {
      tags: ['reporting'],
      summary: "An agent's metrics over a period: its calls and its time in each state (seed 000; an agent may read its own)",
      security,
      params: AgentParams,
      querystring: Query,
      response: { 200: Type.Intersect([Type.Object({ agent: AgentSummary, period: PeriodBody, calls: CallMetricsBody }), AgentFiguresBody]), ...errors(404) },
    },
  }, async (request) => {
    const p = principalOf(request);
    const agent = agentOf(p.tenantId, request.params.agentId);
    if (!isStaff(p) && agent.userId !== p.userId) throw new PbxError('PBX_ERR_EXTENSION_NOT_FOUND');
    const period = periodOf(request.query);
    return {
      agent: await summaryOf(p.tenantId, agent.extensionId),
      period: periodBody(period),
      calls: await cc.metrics.calls(p.tenantId, period, { extensionId: agent.extensionId }),
      ...(await figuresOf(p.tenantId, period, agent.extensionId)),
    };
  });

  const QueueParams = Type.Object({ queueId: Uuid });
  app.get<{ Params: Static<typeof QueueParams>; Querystring: Static<typeof Query> }>('/api/pbx/reporting/queue/:queueId/metrics', {
    config: staffOnly,
    schema: {
      tags: ['reporting'],
      summary: "A queue's call metrics over a period, with its live figures (seed 000)",
      security,
      params: QueueParams,
      querystring: Query,
      response: { 200: Type.Intersect([Type.Object({ queue: QueueLive, period: PeriodBody }), CallMetricsBody]), ...errors(404) },
    },
  }, async (request) => {
    const p = principalOf(request);
    const q = cc.queues.get(p.tenantId, request.params.queueId);
    const period = periodOf(request.query);
    const metrics: CallMetrics = await cc.metrics.calls(p.tenantId, period, { queueId: q.id });
    return {
      queue: { id: q.id, name: q.name, number: String(q.number), ...cc.queues.figures(q), serviceLevel: metrics.serviceLevel, serviceLevelThreshold: q.serviceLevel },
      period: periodBody(period),
      ...metrics,
    };
  });

  app.get<{ Querystring: Static<typeof Query> }>('/api/pbx/reporting/team/metrics', {
    config: staffOnly,
    schema: {
      tags: ['reporting'],
      summary: "The tenant's call metrics over a period, and every agent's figures (seed 000)",
      security,
      querystring: Query,
      response: {
        200: Type.Intersect([
          Type.Object({ period: PeriodBody, agents: Type.Array(Type.Intersect([Type.Object({ agent: AgentSummary }), AgentFiguresBody])) }),
          CallMetricsBody,
        ]),
        ...errors(),
      },
    },
  }, async (request) => {
    const p = principalOf(request);
    const period = periodOf(request.query);
    const agents = cc.agents.list(p.tenantId).sort((a, b) => a.number - b.number);
    const figures = await cc.metrics.agents(p.tenantId, period, agents.map((a) => a.extensionId));
    const users = new Map((await directory.users.list(p.tenantId)).map((u) => [u.id, u]));
    return {
      period: periodBody(period),
      ...(await cc.metrics.calls(p.tenantId, period)),
      agents: agents.map((a) => ({
        agent: { id: a.extensionId, userId: a.userId, name: users.get(a.userId)?.name ?? '', email: users.get(a.userId)?.email ?? '', extension: String(a.number), status: a.status },
        ...(figures.get(a.extensionId) as AgentFigures),
      })),
    };
  });
}
