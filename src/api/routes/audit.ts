/** `GET /api/audit`: the tenant's audit trail for administrators, newest first, a page at a time. */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import type { Directory } from '../../directory/index.ts';
import { principalOf } from '../plugins/access.ts';
import { DateTime, errors, Nullable, Uuid } from '../schemas.ts';

const AuditQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000, default: 0 })),
    action: Type.Optional(Type.String({ maxLength: 100, description: 'Only this action, e.g. user.create' })),
  },
  { additionalProperties: false },
);

const AuditEntryBody = Type.Object({
  id: Uuid,
  tenantId: Uuid,
  actorId: Nullable(Uuid),
  actorLabel: Type.String(),
  action: Type.String(),
  targetType: Nullable(Type.String()),
  targetId: Nullable(Type.String()),
  outcome: Type.Union([Type.Literal('success'), Type.Literal('failure')]),
  statusCode: Type.Integer(),
  errorCode: Nullable(Type.String()),
  ip: Nullable(Type.String()),
  requestId: Nullable(Type.String()),
  details: Nullable(Type.Record(Type.String(), Type.Unknown())),
  createdAt: DateTime,
});

export function auditRoutes(app: FastifyInstance, directory: Directory): void {
  app.get<{ Querystring: Static<typeof AuditQuery> }>('/api/audit', {
    config: { roles: ['ADMIN'] },
    schema: {
      tags: ['audit'],
      summary: 'The audit trail of the tenant, newest first',
      security: [{ bearerAuth: [] }],
      querystring: AuditQuery,
      response: {
        200: Type.Object({ entries: Type.Array(AuditEntryBody), total: Type.Integer(), limit: Type.Integer(), offset: Type.Integer() }),
        ...errors(),
      },
    },
  }, async (request) => {
    const limit = request.query.limit ?? 50;
    const offset = request.query.offset ?? 0;
    const { entries, total } = await directory.audit.list(principalOf(request).tenantId, { limit, offset, action: request.query.action });
    return { entries, total, limit, offset };
  });
}
