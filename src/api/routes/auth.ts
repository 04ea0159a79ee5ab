/**
 * Logins. `POST /api/auth/login` takes email and password (web accounts); `POST /api/pbx/auth/login` takes an
 * extension and its SIP secret and answers seed 000's exact shape; seed 001's `POST /api/pbx/agent/login` is the
 * same handler. `GET /api/auth/me` tells a client who its token belongs to.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import type { Directory, LoginResult } from '../../directory/index.ts';
import { principalOf } from '../plugins/access.ts';
import { pbxUser } from '../presenters.ts';
import { AgentStatus, Email, errors, ExtensionNumber, Nullable, PbxUser, Uuid } from '../schemas.ts';

const LoginResponse = Type.Object({
  accessToken: Type.String(),
  expiresIn: Type.Integer({ description: 'Seconds until the token expires' }),
  user: PbxUser,
  tenantId: Uuid,
  agentExtension: Nullable(Type.Object({ id: Uuid, extension: Type.String(), status: AgentStatus })),
});

function loginBody(result: LoginResult) {
  return {
    accessToken: result.accessToken,
    expiresIn: result.expiresIn,
    user: pbxUser(result.user),
    tenantId: result.tenant.id,
    agentExtension: result.extension
      ? { id: result.extension.id, extension: String(result.extension.number), status: result.extension.status }
      : null,
  };
}

const EmailLogin = Type.Object({ email: Email, password: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false });
const ExtensionLogin = Type.Object(
  {
    extension: ExtensionNumber,
    password: Type.String({ minLength: 1, maxLength: 256 }),
    domain: Type.Optional(Type.String({ maxLength: 253, description: "The tenant's SIP domain, where several tenants share a number" })),
  },
  { additionalProperties: false },
);

export function authRoutes(app: FastifyInstance, directory: Directory): void {
  app.post<{ Body: Static<typeof EmailLogin> }>('/api/auth/login', {
    config: { public: true },
    schema: {
      tags: ['auth'],
      summary: 'Log in with email and password',
      body: EmailLogin,
      response: { 200: LoginResponse, ...errors() },
    },
  }, async (request) => {
    const result = await directory.auth.loginWithEmail(request.body.email, request.body.password, { ip: request.ip, requestId: request.id });
    return loginBody(result);
  });

  const extensionLogin = async (request: { body: Static<typeof ExtensionLogin>; ip: string; id: string }) => {
    const { extension, password, domain } = request.body;
    const result = await directory.auth.loginWithExtension(extension, password, { ip: request.ip, requestId: request.id, domain });
    return loginBody(result);
  };
  for (const [url, summary] of [
    ['/api/pbx/auth/login', 'Log in with an extension and its SIP password (seed 000)'],
    ['/api/pbx/agent/login', 'Agent login by extension (seed 001); same as /api/pbx/auth/login'],
  ] as const) {
    app.post<{ Body: Static<typeof ExtensionLogin> }>(url, {
      config: { public: true },
      schema: { tags: ['auth'], summary, body: ExtensionLogin, response: { 200: LoginResponse, ...errors() } },
    }, extensionLogin);
  }

  app.get('/api/auth/me', {
    schema: {
      tags: ['auth'],
      summary: 'The user the token belongs to',
      security: [{ bearerAuth: [] }],
      response: { 200: Type.Object({ user: PbxUser, tenantId: Uuid, isSystemAdmin: Type.Boolean() }), ...errors() },
    },
  }, async (request) => {
    const p = principalOf(request);
    return { user: pbxUser({ id: p.userId, email: p.email, name: p.name, role: p.role }), tenantId: p.tenantId, isSystemAdmin: p.isSystemAdmin };
  });
}
