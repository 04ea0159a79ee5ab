/**
 * `GET /health` (seed 004's liveness answer) and `GET /health/ready` (readiness: the database answers and every
 * change written behind memory has reached it).
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Database, WriteJournal } from '../../db/index.ts';

export interface HealthInfo {
  service: string;
  version: string;
}

const Checks = Type.Object({
  database: Type.String({ description: '`ok` or `unreachable`' }),
  writes: Type.String({ description: '`ok`, or how many changes wait for the database and since when' }),
  pendingWrites: Type.Integer({ description: 'Changes not yet written: in memory and spilled to the journal' }),
  deadLetters: Type.Integer({ description: 'Changes the database rejected as invalid since the start (kept in the journal)' }),
});

export function healthRoutes(app: FastifyInstance, deps: { database: Database; journal?: WriteJournal; info: HealthInfo }): void {
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
      summary: 'Readiness: the database answers and nothing waits to be written to it',
      response: {
        200: Type.Object({ status: Type.Literal('ready'), checks: Checks }),
        503: Type.Object({ status: Type.Literal('unavailable'), checks: Checks }),
      },
    },
  }, async (request, reply) => {
    const writers = deps.journal?.status() ?? [];
    const pendingWrites = writers.reduce((n, w) => n + w.pending, 0);
    const deadLetters = writers.reduce((n, w) => n + w.deadLetters, 0);
    const behind = writers.filter((w) => w.behind);
    const since = behind.flatMap((w) => (w.failingSince ? [w.failingSince.getTime()] : [])).sort((a, b) => a - b)[0];
    const writes =
      behind.length === 0
        ? 'ok'
        : `${pendingWrites} changes wait for the database${since === undefined ? '' : ` since ${new Date(since).toISOString()}`} (${behind.map((w) => w.name).join(', ')})`;
    let database = 'ok';
    try {
      await deps.database.ping();
    } catch (err) {
      request.log.warn({ err }, 'health:database ping failed');
      database = 'unreachable';
    }
    const checks = { database, writes, pendingWrites, deadLetters };
    if (database !== 'ok' || behind.length > 0) return reply.status(503).send({ status: 'unavailable' as const, checks });
    return { status: 'ready' as const, checks };
  });
}
