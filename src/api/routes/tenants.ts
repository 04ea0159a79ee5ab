/**
 * Tenants: a system administrator creates and lists them (`/api/tenants`); anyone may read their own
 * (`/api/tenants/current`). A new tenant may be given its first administrator in the same call.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { extensionRangeParser, type ExtensionRange } from '../../config/index.ts';
import type { Directory } from '../../directory/index.ts';
import { PbxError } from '../../errors/index.ts';
import { principalOf } from '../plugins/access.ts';
import { tenantBody, userBody } from '../presenters.ts';
import { Email, errors, Name, Nullable, Password, TenantBody, UserBody } from '../schemas.ts';

const CreateTenant = Type.Object(
  {
    name: Name,
    domain: Type.String({
      maxLength: 253,
      pattern: '^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$',
      description: 'SIP domain, e.g. acme.pbx.example.com',
    }),
    extensionRange: Type.Optional(Type.String({ pattern: '^\\s*[0-9]{2,9}\\s*-\\s*[0-9]{2,9}\\s*$', examples: ['1000-1999'] })),
    admin: Type.Optional(Type.Object({ name: Name, email: Email, password: Password }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);

const CallLimits = Type.Object(
  {
    maxCallSeconds: Type.Integer({ minimum: 0, maximum: 7 * 86_400, description: 'The longest a call may last, in seconds from its start; 0: no limit' }),
  },
  { additionalProperties: false },
);

export function tenantRoutes(app: FastifyInstance, directory: Directory, defaults: { extensionRange: ExtensionRange }): void {
  app.get('/api/tenants', {
    config: { systemAdmin: true },
    schema: {
      tags: ['tenants'],
      summary: 'List tenants (system administrators)',
      security: [{ bearerAuth: [] }],
      response: { 200: Type.Object({ tenants: Type.Array(TenantBody) }), ...errors() },
    },
  }, async () => ({ tenants: (await directory.tenants.list()).map(tenantBody) }));

  app.post<{ Body: Static<typeof CreateTenant> }>('/api/tenants', {
    config: { systemAdmin: true, audit: 'tenant.create' },
    schema: {
      tags: ['tenants'],
      summary: 'Create a tenant, optionally with its first administrator (system administrators)',
      security: [{ bearerAuth: [] }],
      body: CreateTenant,
      response: { 201: Type.Object({ tenant: TenantBody, admin: Nullable(UserBody) }), ...errors(409) },
    },
  }, async (request, reply) => {
    const { name, domain, admin } = request.body;
    let extensionRange = defaults.extensionRange;
    if (request.body.extensionRange !== undefined) {
      try {
        extensionRange = extensionRangeParser(request.body.extensionRange);
      } catch (err) {
        const message = `body.extensionRange ${(err as Error).message}`;
        throw new PbxError('PBX_ERR_VALIDATION', message, { details: [{ field: 'body.extensionRange', message: (err as Error).message }] });
      }
    }
    if (admin && (await directory.users.findForLogin(admin.email))) {
      throw new PbxError('PBX_ERR_EMAIL_TAKEN', `Email '${admin.email.toLowerCase()}' is already in use`);
    }
    const tenant = await directory.tenants.create({ name, domain, extensionRange });
    request.auditTarget = { type: 'tenant', id: tenant.id, details: { domain: tenant.domain } };
    const created = admin
      ? await directory.users.create(tenant, { ...admin, role: 'ADMIN', withExtension: false })
      : undefined;
    return reply.status(201).send({ tenant: tenantBody(tenant), admin: created ? userBody(created.user) : null });
  });

  app.get('/api/tenants/current', {
    schema: {
      tags: ['tenants'],
      summary: "The caller's own tenant",
      security: [{ bearerAuth: [] }],
      response: { 200: Type.Object({ tenant: TenantBody }), ...errors() },
    },
  }, async (request) => ({ tenant: tenantBody(await directory.tenants.get(principalOf(request).tenantId)) }));

  app.put<{ Body: Static<typeof CallLimits> }>('/api/tenants/current/call-limits', {
    config: { roles: ['ADMIN'], audit: 'tenant.call-limits' },
    schema: {
      tags: ['tenants'],
      summary: "Set the tenant's call limits: a call that lasts longer is ended with the cause max-duration (calls in progress too)",
      security: [{ bearerAuth: [] }],
      body: CallLimits,
      response: { 200: Type.Object({ tenant: TenantBody }), ...errors() },
    },
  }, async (request) => {
    const p = principalOf(request);
    const tenant = await directory.tenants.setMaxCallSeconds(p.tenantId, request.body.maxCallSeconds);
    request.auditTarget = { type: 'tenant', id: p.tenantId, details: { maxCallSeconds: request.body.maxCallSeconds } };
    return { tenant: tenantBody(tenant) };
  });
}
