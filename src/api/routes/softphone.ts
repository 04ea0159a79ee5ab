/**
 * `POST /api/pbx/softphone/credentials`: what the browser softphone registers with. The logged-in user gets a
 * short-lived password for its own extension (see SoftphoneCredentials), never the extension's permanent secret.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Directory } from '../../directory/index.ts';
import { PbxError } from '../../errors/index.ts';
import { principalOf } from '../plugins/access.ts';
import { DateTime, errors } from '../schemas.ts';

const SoftphoneCredentialsBody = Type.Object({
  extension: Type.String({ description: 'The extension number; also the SIP user and digest username' }),
  username: Type.String(),
  password: Type.String({ description: 'Good until expiresAt, for this extension only' }),
  realm: Type.String(),
  domain: Type.String({ description: "The tenant's SIP domain: register as sip:<extension>@<domain>" }),
  websocketPath: Type.String({ description: 'SIP over WebSocket (RFC 7118) on this same origin' }),
  expiresAt: DateTime,
});

export function softphoneRoutes(app: FastifyInstance, directory: Directory): void {
  app.post('/api/pbx/softphone/credentials', {
    schema: {
      tags: ['softphone'],
      summary: "Short-lived SIP credentials for the user's own extension, for the browser softphone",
      security: [{ bearerAuth: [] }],
      response: { 200: SoftphoneCredentialsBody, ...errors(404) },
    },
  }, async (request, reply) => {
    const p = principalOf(request);
    const credentials = await directory.extensions.credentialsOfUser(p.tenantId, p.userId);
    if (!credentials) throw new PbxError('PBX_ERR_EXTENSION_NOT_FOUND', 'You have no extension');
    if (!credentials.isActive) throw new PbxError('PBX_ERR_FORBIDDEN', 'Your extension is disabled');
    const issued = directory.softphone.issue(credentials);
    void reply.header('Cache-Control', 'no-store');
    return {
      extension: String(credentials.number),
      username: issued.username,
      password: issued.password,
      realm: issued.realm,
      domain: credentials.domain,
      websocketPath: '/sip',
      expiresAt: issued.expiresAt.toISOString(),
    };
  });
}
