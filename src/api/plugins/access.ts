/**
 * Who may call what. Every `/api` route requires a Bearer token unless its config says `public`; a route's
 * `roles` list the roles allowed at all, and the handlers narrow further where a rule depends on the target
 * ("an agent sees and changes only itself"). Every change a route makes is audited: a route names its `audit`
 * action, and the row is written before the answer leaves, with the outcome the answer carries.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isStaff, STAFF_ROLES } from '../../contact-center/index.ts';
import type { UserRole } from '../../db/index.ts';
import type { Directory, Principal } from '../../directory/index.ts';
import { PbxError } from '../../errors/index.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** No token needed (logins, health). */
    public?: boolean;
    /** Roles allowed to call the route at all; absent means every authenticated role. */
    roles?: readonly UserRole[];
    /** Only administrators of the system tenant. */
    systemAdmin?: boolean;
    /** The audit action this route's calls are recorded under, e.g. `user.create`. */
    audit?: string;
  }
  interface FastifyRequest {
    principal: Principal | undefined;
    /** Set by a handler once it knows what it acted on (an id it created, say). */
    auditTarget: { type: string; id: string; details?: Record<string, unknown> } | undefined;
  }
}

/** The caller of an authenticated route. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new PbxError('PBX_ERR_UNAUTHENTICATED');
  return request.principal;
}

/** Roles that see and act on the whole tenant's contact center (the contact center's own list). */
export const STAFF = STAFF_ROLES;

export { isStaff };

/** Allows the user itself, or one of the given roles. */
export function requireSelfOr(p: Principal, userId: string, roles: readonly UserRole[]): void {
  if (p.userId !== userId && !roles.includes(p.role)) throw new PbxError('PBX_ERR_FORBIDDEN');
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1] ?? '';
}

export function registerAccessControl(app: FastifyInstance, directory: Directory): void {
  app.decorateRequest('principal', undefined);
  app.decorateRequest('auditTarget', undefined);

  app.addHook('onRequest', async (request) => {
    const config = request.routeOptions.config;
    if (config.public || !request.url.startsWith('/api')) return;
    const principal = await directory.auth.authenticate(bearer(request));
    request.principal = principal;
    if (config.systemAdmin && !principal.isSystemAdmin) throw new PbxError('PBX_ERR_FORBIDDEN', 'Only a system administrator may do this');
    if (config.roles && !config.roles.includes(principal.role)) {
      throw new PbxError('PBX_ERR_FORBIDDEN', `The ${principal.role} role may not do this`);
    }
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const action = request.routeOptions.config.audit;
    const principal = request.principal;
    if (!action || !principal) return payload;
    const failed = reply.statusCode >= 400;
    let errorCode: string | null = null;
    if (failed && typeof payload === 'string') {
      try {
        errorCode = (JSON.parse(payload) as { error?: { code?: string } }).error?.code ?? null;
      } catch {
        errorCode = null;
      }
    }
    const params = request.params as { id?: string } | undefined;
    const target = request.auditTarget;
    await directory.audit
      .record({
        tenantId: principal.tenantId,
        actorId: principal.userId,
        actorLabel: principal.email,
        action,
        targetType: target?.type ?? action.split('.')[0] ?? null,
        targetId: target?.id ?? params?.id ?? null,
        outcome: failed ? 'failure' : 'success',
        statusCode: reply.statusCode,
        errorCode,
        ip: request.ip,
        requestId: request.id,
        details: target?.details ?? null,
      })
      .catch((err: unknown) => request.log.error({ err }, 'audit:record failed'));
    return payload;
  });
}
