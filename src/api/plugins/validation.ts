/**
 * Schema validation at the door. Bodies are checked strictly: a number is not a string, an unknown field is an
 * error, nothing is silently dropped or converted. Query strings and path parameters arrive as text, so there
 * (and only there) "50" may stand for 50. Before any schema, text holding U+0000 is refused in every part of every
 * request: JSON allows it (`"a\u0000b"`), PostgreSQL's text and jsonb do not.
 */
import type { Ajv } from 'ajv';
import type { FastifyInstance, FastifySchema } from 'fastify';
import { makeAjv, nulError } from '../../validation/index.ts';

export function registerValidation(app: FastifyInstance): void {
  const strict = makeAjv({ coerceTypes: false });
  const coercing = makeAjv({ coerceTypes: 'array' });
  app.setValidatorCompiler<FastifySchema>(({ schema, httpPart }) =>
    (httpPart === 'body' ? strict : coercing).compile(schema as object) as ReturnType<Ajv['compile']>,
  );
  // preValidation runs on every route, with or without a schema, once the body is parsed.
  app.addHook('preValidation', async (request) => {
    const refused = nulError([['params', request.params], ['querystring', request.query], ['body', request.body]]);
    if (refused) throw refused;
  });
}
