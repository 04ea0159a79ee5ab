/**
 * The HTTP adapter: Fastify with OpenAPI generated from the route schemas (browsable at /docs), request ids, the
 * browser's security headers, access control and auditing, the error catalogue, then the routes. It holds no
 * business rules.
 */
import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import type { Database, WriteJournal } from '../db/index.ts';
import type { Directory } from '../directory/index.ts';
import { registerAccessControl } from './plugins/access.ts';
import { registerErrorHandling } from './plugins/errors.ts';
import { registerSecurityHeaders } from './plugins/security-headers.ts';
import { registerValidation } from './plugins/validation.ts';
import { agentExtensionRoutes } from './routes/agent-extensions.ts';
import { auditRoutes } from './routes/audit.ts';
import { authRoutes } from './routes/auth.ts';
import { healthRoutes, type HealthInfo } from './routes/health.ts';
import { recordingRoutes } from './routes/recordings.ts';
import type { RecordingService } from '../telephony/recordings.ts';
import type { ContactCenter } from '../contact-center/index.ts';
import { callControlRoutes } from './routes/call-control.ts';
import { carrierRoutes, type TrunkStatusProvider } from './routes/carriers.ts';
import { queueRoutes } from './routes/queues.ts';
import { reportingRoutes } from './routes/reporting.ts';
import { sessionRoutes } from './routes/sessions.ts';
import { softphoneRoutes } from './routes/softphone.ts';
import { registerWebApp } from './web-app.ts';
import { tenantRoutes } from './routes/tenants.ts';
import { userRoutes } from './routes/users.ts';

export type { TrunkStatus, TrunkStatusProvider } from './routes/carriers.ts';

export interface ApiDeps {
  config: Pick<Config, 'trustProxy' | 'extensionRange'>;
  database: Database;
  /** The writers behind memory, for the readiness check. */
  journal?: WriteJournal;
  directory: Directory;
  logger: Logger;
  info: HealthInfo;
  /** Call recordings, when the server runs the telephony engine. */
  recordings?: RecordingService;
  contactCenter: ContactCenter;
  /** What the engine knows of a trunk's health (registered, up or down); without it every trunk's status is unknown. */
  trunkStatus?: TrunkStatusProvider;
  /** Certificate and key: serve HTTPS instead of HTTP. */
  https?: { cert: Buffer; key: Buffer };
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  // An HTTPS server is a different type to Fastify, not to us: every route and hook is the same.
  const app = Fastify({
    ...(deps.https ? { https: deps.https } : {}),
    loggerInstance: deps.logger as FastifyBaseLogger,
    trustProxy: deps.config.trustProxy,
    bodyLimit: 1024 * 1024,
    // A client's own request id is kept when it is sane, so logs on both sides line up.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    routerOptions: { maxParamLength: 200 },
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  registerSecurityHeaders(app, { https: deps.https !== undefined });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Switchboard API',
        description: 'Contact-center PBX: tenants, users and extensions, authentication, audit, carriers (trunks, phone numbers, outbound routes). Errors answer `{error: {code, message, details?}}`.',
        version: deps.info.version,
      },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });

  registerValidation(app);
  registerErrorHandling(app);
  registerAccessControl(app, deps.directory);

  healthRoutes(app, { database: deps.database, journal: deps.journal, info: deps.info });
  authRoutes(app, deps.directory);
  tenantRoutes(app, deps.directory, { extensionRange: deps.config.extensionRange });
  userRoutes(app, deps.directory);
  agentExtensionRoutes(app, deps.directory, deps.contactCenter.agents);
  queueRoutes(app, deps.contactCenter.queues, deps.contactCenter.agents);
  carrierRoutes(app, deps.directory.carriers, deps.trunkStatus ? { trunkStatus: deps.trunkStatus } : {});
  sessionRoutes(app, deps.directory, deps.contactCenter);
  callControlRoutes(app, deps.contactCenter);
  reportingRoutes(app, deps.directory, deps.contactCenter);
  if (deps.recordings) recordingRoutes(app, deps.directory, deps.recordings);
  auditRoutes(app, deps.directory);
  softphoneRoutes(app, deps.directory);
  await registerWebApp(app);

  await app.ready();
  return app;
}
