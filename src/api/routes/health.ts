/** `GET /health` (seed 004's liveness answer) and `GET /health/ready` (readiness, database included). */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Database } from '../../db/index.ts';

export interface HealthInfo {
  service: string;
  version: string;
}

export function healthRoutes(app: FastifyInstance, deps: { database: Database; info: HealthInfo }): void {
  app.get('/health', {
    config: { public: true },
    schema: {
      tags: ['health'],
      summary: 'Liveness: the process answers',
      response: { 200: Type.Object({ status: Type.Literal('healthy'), service: Type.String(), version: Type.String() }) },
    },
  }, async () => ({ status: 'healthy' as const, service: deps.info.service, version: deps.info.version }));

  app.get('/health/ready', {
    config: { public: true },
    schema: {
      tags: ['health'],
      summary: 'Readiness: the process and its database answer',
      response: {
        200: Type.Object({ status: Type.Literal('ready'), checks: Type.Object({ database: Type.String() }) }),
        503: Type.Object({ status: Type.Literal('unavailable'), checks: Type.Object({ database: Type.String() }) }),
      },
    },
  }, async (request, reply) => {
    try {
      await deps.database.ping();
      return { status: 'ready' as const, checks: { database: 'ok' } };
    } catch (err) {
      request.log.warn({ err }, 'health:database ping failed');
      return reply.status(503).send({ status: 'unavailable' as const, checks: { database: 'unreachable' } });
    }
  });
}
