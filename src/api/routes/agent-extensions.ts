/**
 * Seed 000's agent extensions (`/api/pbx/agent-extensions`) and seed 001's `POST /api/pbx/agent/status`, over the
 * same extension records as `/api/users`. Administrators provision; managers and supervisors read all and may set
 * an agent's status; an agent reads and sets only its own.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { type AgentService, StatusChangeCommand } from '../../contact-center/index.ts';
import type { Directory, Extension, Principal } from '../../directory/index.ts';
import { PbxError } from '../../errors/index.ts';
import { isStaff, principalOf, requireSelfOr } from '../plugins/access.ts';
import { agentExtensionBody, pbxUser } from '../presenters.ts';
import { AgentExtensionBody, errors, ExtensionNumber, IdParams, Nullable, PbxUser, Uuid } from '../schemas.ts';

const WithUser = Type.Object({ ...AgentExtensionBody.properties, user: Nullable(PbxUser) });

const CreateAgentExtension = Type.Object(
  {
    userId: Uuid,
    extension: Type.Optional(ExtensionNumber),
    sipPassword: Type.Optional(Type.String({ minLength: 8, maxLength: 128, description: 'Generated (20 characters) when absent' })),
  },
  { additionalProperties: false },
);

const UpdateAgentExtension = Type.Object(
  {
    isActive: Type.Optional(Type.Boolean()),
    ringTimeout: Type.Optional(Type.Integer({ minimum: 5, maximum: 300 })),
    sipPassword: Type.Optional(Type.String({ minLength: 8, maxLength: 128 })),
    recordingPolicy: Type.Optional(Nullable(Type.Union([Type.Literal('always'), Type.Literal('never'), Type.Literal('on-demand')]))),
  },
  { additionalProperties: false, minProperties: 1 },
);

// The same schema the live API's `agent:status:change` is checked with.
const StatusChange = StatusChangeCommand;

type IdParamsT = Static<typeof IdParams>;

export function agentExtensionRoutes(app: FastifyInstance, directory: Directory, agents: AgentService): void {
  const security = [{ bearerAuth: [] }];
  const base = '/api/pbx/agent-extensions';

  async function withUser(tenantId: string, ext: Extension) {
    const user = await directory.users.get(tenantId, ext.userId).catch(() => undefined);
    return { ...agentExtensionBody(ext, agents.find(ext.id)), user: user ? pbxUser(user) : null };
  }

  /** The extension, if the caller may see it; agents get 404 for others' so that ids leak nothing. */
  async function visible(p: Principal, id: string): Promise<Extension> {
    const ext = await directory.extensions.get(p.tenantId, id);
    if (!isStaff(p) && ext.userId !== p.userId) throw new PbxError('PBX_ERR_EXTENSION_NOT_FOUND');
    return ext;
  }

  app.post<{ Body: Static<typeof CreateAgentExtension> }>(base, {
    config: { roles: ['ADMIN'], audit: 'agent_extension.create' },
    schema: {
      tags: ['agent-extensions'],
      summary: 'Give a user an extension (the lowest free number unless one is named)',
      security,
      body: CreateAgentExtension,
      response: {
        201: Type.Object({ ...WithUser.properties, sipPassword: Type.Optional(Type.String({ description: 'Only when generated; shown once' })) }),
        ...errors(404, 409),
      },
    },
  }, async (request, reply) => {
    const p = principalOf(request);
    const tenant = await directory.tenants.get(p.tenantId);
    const { userId, extension, sipPassword } = request.body;
    const created = await directory.extensions.createForUser(tenant, {
      userId,
      number: extension === undefined ? undefined : Number(extension),
      secret: sipPassword,
    });
    request.auditTarget = { type: 'extension', id: created.extension.id, details: { number: created.extension.number, userId } };
    const body = await withUser(p.tenantId, created.extension);
    return reply.status(201).send(sipPassword === undefined ? { ...body, sipPassword: created.secret } : body);
  });

  app.get(base, {
    schema: {
      tags: ['agent-extensions'],
      summary: "List the tenant's agent extensions (an agent sees only its own)",
      security,
      response: { 200: Type.Object({ agentExtensions: Type.Array(WithUser) }), ...errors() },
    },
  }, async (request) => {
    const p = principalOf(request);
    const [exts, users] = await Promise.all([
      directory.extensions.list(p.tenantId, isStaff(p) ? {} : { userId: p.userId }),
      directory.users.list(p.tenantId, isStaff(p) ? {} : { userId: p.userId }),
    ]);
    const byId = new Map(users.map((u) => [u.id, u]));
    return {
      agentExtensions: exts.map((e) => {
        const user = byId.get(e.userId);
        return { ...agentExtensionBody(e), user: user ? pbxUser(user) : null };
      }),
    };
  });

  app.get<{ Params: IdParamsT }>(`${base}/:id`, {
    schema: { tags: ['agent-extensions'], summary: 'Get an agent extension', security, params: IdParams, response: { 200: WithUser, ...errors(404) } },
  }, async (request) => {
    const p = principalOf(request);
    return withUser(p.tenantId, await visible(p, request.params.id));
  });

  app.put<{ Params: IdParamsT; Body: Static<typeof UpdateAgentExtension> }>(`${base}/:id`, {
    config: { roles: ['ADMIN'], audit: 'agent_extension.update' },
    schema: {
      tags: ['agent-extensions'],
      summary: 'Change an agent extension (active, ring timeout, SIP password, recording policy)',
      security,
      params: IdParams,
      body: UpdateAgentExtension,
      response: { 200: WithUser, ...errors(404) },
    },
  }, async (request) => {
    const p = principalOf(request);
    const { sipPassword, ...rest } = request.body;
    const ext = await directory.extensions.update(p.tenantId, request.params.id, { ...rest, secret: sipPassword });
    request.auditTarget = { type: 'extension', id: ext.id, details: { fields: Object.keys(request.body) } };
    return withUser(p.tenantId, ext);
  });

  const setStatus = async (p: Principal, ext: Extension, body: Static<typeof StatusChange>) => {
    if (!isStaff(p)) requireSelfOr(p, ext.userId, []);
    await agents.setStatus(p.tenantId, ext.id, body.status, body.reason ?? null);
    return ext;
  };

  app.put<{ Params: IdParamsT; Body: Static<typeof StatusChange> }>(`${base}/:id/status`, {
    config: { audit: 'agent.status' },
    schema: {
      tags: ['agent-extensions'],
      summary: "Set an agent's status (the agent itself, a supervisor, a manager or an administrator)",
      security,
      params: IdParams,
      body: StatusChange,
      response: { 200: WithUser, ...errors(404, 409) },
    },
  }, async (request) => {
    const p = principalOf(request);
    const ext = await setStatus(p, await visible(p, request.params.id), request.body);
    request.auditTarget = { type: 'extension', id: ext.id, details: { status: request.body.status, reason: request.body.reason ?? null } };
    return withUser(p.tenantId, ext);
  });

  app.post<{ Body: Static<typeof StatusChange> }>('/api/pbx/agent/status', {
    config: { audit: 'agent.status' },
    schema: {
      tags: ['agent-extensions'],
      summary: "Set the caller's own agent status (seed 001)",
      security,
      body: StatusChange,
      response: { 200: WithUser, ...errors(404, 409) },
    },
  }, async (request) => {
    const p = principalOf(request);
    const own = await directory.extensions.findByUser(p.tenantId, p.userId);
    if (!own) throw new PbxError('PBX_ERR_EXTENSION_NOT_FOUND', 'You have no agent extension');
    const ext = await setStatus(p, own, request.body);
    request.auditTarget = { type: 'extension', id: ext.id, details: { status: request.body.status, reason: request.body.reason ?? null } };
    return withUser(p.tenantId, ext);
  });

  app.delete<{ Params: IdParamsT }>(`${base}/:id`, {
    config: { roles: ['ADMIN'], audit: 'agent_extension.delete' },
    schema: {
      tags: ['agent-extensions'],
      summary: 'Delete an agent extension (its user stays) and free the number',
      security,
      params: IdParams,
      response: {
        200: Type.Object({ message: Type.String(), deleted_extension_id: Uuid, freed_extension: Type.Integer() }),
        ...errors(404),
      },
    },
  }, async (request) => {
    const p = principalOf(request);
    const ext = await directory.extensions.delete(p.tenantId, request.params.id);
    request.auditTarget = { type: 'extension', id: ext.id, details: { number: ext.number } };
    return { message: 'Agent extension deleted successfully', deleted_extension_id: ext.id, freed_extension: ext.number };
  });
}
