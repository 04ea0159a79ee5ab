/**
 * Maps every error a route can raise to `{ error: { code, message, details? } }`: domain errors by their catalogue
 * entry, schema failures to PBX_ERR_VALIDATION naming the field, Fastify's own body errors to their codes, and
 * anything else to a bare 500 that shows neither stack nor SQL (the log keeps them, with the request id).
 */
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { ErrorCatalogue, type ErrorCode, isPbxError, PbxError } from '../../errors/index.ts';
import { MediaUnavailableError } from '../../media/index.ts';

interface AjvError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

export interface FieldProblem {
  field: string;
  message: string;
}

/** `body.email must match format "email"`, `body.name is required`, `body.foo is not allowed`. */
export function fieldProblems(context: string, errors: readonly AjvError[]): FieldProblem[] {
  const out: FieldProblem[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    const base = [context, ...e.instancePath.split('/').filter(Boolean)].join('.');
    let problem: FieldProblem;
    if (e.keyword === 'required') problem = { field: `${base}.${String(e.params.missingProperty)}`, message: 'is required' };
    else if (e.keyword === 'additionalProperties') problem = { field: `${base}.${String(e.params.additionalProperty)}`, message: 'is not allowed' };
    else problem = { field: base, message: e.message ?? 'is invalid' };
    // A union reports each branch; one line per field is what a person needs.
    if (seen.has(problem.field)) continue;
    seen.add(problem.field);
    out.push(problem);
  }
  return out;
}

/**
 * A domain service names a bad field as its input names it (`servers.0.host`); at the REST door that input is the
 * body, so the refusal names `body.servers.0.host`, like a schema failure would.
 */
export async function fieldsInBody<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (!isPbxError(err) || err.code !== 'PBX_ERR_VALIDATION' || !Array.isArray(err.details)) throw err;
    const details = (err.details as FieldProblem[]).map((d) => ({ ...d, field: `body.${d.field}` }));
    const first = details[0];
    throw new PbxError('PBX_ERR_VALIDATION', first ? `${first.field} ${first.message}` : err.message, { details });
  }
}

function send(reply: FastifyReply, code: ErrorCode, message?: string, details?: unknown): FastifyReply {
  const body: { error: { code: string; message: string; details?: unknown } } = {
    error: { code, message: message ?? ErrorCatalogue[code].message },
  };
  if (details !== undefined) body.error.details = details;
  return reply.status(ErrorCatalogue[code].status).type('application/json').send(body);
}

const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PBX_ERR_PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'PBX_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'PBX_ERR_MALFORMED_BODY',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'PBX_ERR_MALFORMED_BODY',
  FST_ERR_CTP_INVALID_JSON_BODY: 'PBX_ERR_MALFORMED_BODY',
};

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    // What needs the media relay, asked of a server on direct media: the relay's absence is the answer.
    if (err instanceof MediaUnavailableError) return send(reply, 'PBX_ERR_MEDIA_UNAVAILABLE', err.message);
    if (isPbxError(err)) {
      if (err.retryAfter !== undefined) reply.header('retry-after', String(err.retryAfter));
      return send(reply, err.code, err.message, err.details);
    }
    if (err.validation) {
      const details = fieldProblems(err.validationContext ?? 'request', err.validation as AjvError[]);
      const first = details[0];
      return send(reply, 'PBX_ERR_VALIDATION', first ? `${first.field} ${first.message}` : 'Request validation failed', details);
    }
    const mapped = err.code ? fastifyCodes[err.code] : undefined;
    if (mapped) return send(reply, mapped, mapped === 'PBX_ERR_MALFORMED_BODY' ? 'The request body is not valid JSON' : undefined);
    // Bodies that JSON.parse rejects, prototype poisoning, and other client errors Fastify raises with a 4xx status.
    if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      if (err.statusCode === 400) return send(reply, 'PBX_ERR_MALFORMED_BODY', 'The request body could not be read');
      if (err.statusCode === 413) return send(reply, 'PBX_ERR_PAYLOAD_TOO_LARGE');
      if (err.statusCode === 415) return send(reply, 'PBX_ERR_UNSUPPORTED_MEDIA_TYPE');
      return send(reply, 'PBX_ERR_NOT_FOUND');
    }
    request.log.error({ err }, 'api:unhandled error');
    return send(reply, 'PBX_ERR_INTERNAL');
  });

  app.setNotFoundHandler((request, reply) => send(reply, 'PBX_ERR_NOT_FOUND', `No route for ${request.method} ${(request.url.split('?')[0] ?? '').slice(0, 200)}`));
}
