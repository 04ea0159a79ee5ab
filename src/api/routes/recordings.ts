/**
 * Call recordings: the tenant's policy, start and stop on a live call, the list, and the audio (decrypted on the
 * way out, checked against its hash). Managers, supervisors and administrators only; every download is audited.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { PbxError } from '../../errors/index.ts';
import type { RecordingService } from '../../telephony/recordings.ts';
import type { Directory } from '../../directory/index.ts';
import { principalOf, STAFF } from '../plugins/access.ts';
import { DateTime, errors, IdParams, Nullable, Uuid } from '../schemas.ts';

const Policy = Type.Union([Type.Literal('always'), Type.Literal('never'), Type.Literal('on-demand')]);

const RecordingBody = Type.Object({
  id: Uuid,
  tenantId: Uuid,
  callId: Type.String(),
  callerNumber: Nullable(Type.Integer()),
  calleeNumber: Nullable(Type.Integer()),
  durationMs: Type.Integer(),
  size: Type.Integer({ description: 'Bytes of the encrypted file' }),
  sha256: Type.String({ description: 'SHA-256 of the WAV' }),
  channels: Type.String(),
  startedAt: DateTime,
  endedAt: DateTime,
  createdAt: DateTime,
});

const ListQuery = Type.Object({
  callId: Type.Optional(Type.String({ maxLength: 100 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
});

const CallParams = Type.Object({ callId: Type.String({ minLength: 1, maxLength: 100 }) });
const RecordingAction = Type.Object({ action: Type.Union([Type.Literal('start'), Type.Literal('stop')]) }, { additionalProperties: false });


export function recordingRoutes(app: FastifyInstance, directory: Directory, recordings: RecordingService): void {
  const security = [{ bearerAuth: [] }];

  app.get('/api/pbx/recordings/policy', {
    config: { roles: [...STAFF] },
    schema: { tags: ['recordings'], summary: "The tenant's recording policy", security, response: { 200: Type.Object({ policy: Policy }), ...errors() } },
  }, async (request) => ({ policy: (await directory.tenants.get(principalOf(request).tenantId)).recordingPolicy }));

  app.put<{ Body: { policy: 'always' | 'never' | 'on-demand' } }>('/api/pbx/recordings/policy', {
    config: { roles: ['ADMIN'], audit: 'recording.policy' },
    schema: {
      tags: ['recordings'],
      summary: "Set the tenant's recording policy (an extension's own policy overrides it)",
      security,
      body: Type.Object({ policy: Policy }, { additionalProperties: false }),
      response: { 200: Type.Object({ policy: Policy }), ...errors() },
    },
  }, async (request) => {
    const p = principalOf(request);
    const tenant = await directory.tenants.setRecordingPolicy(p.tenantId, request.body.policy);
    request.auditTarget = { type: 'tenant', id: p.tenantId, details: { policy: request.body.policy } };
    return { policy: tenant.recordingPolicy };
  });

  app.post<{ Params: Static<typeof CallParams>; Body: Static<typeof RecordingAction> }>('/api/pbx/calls/:callId/recording', {
    config: { roles: [...STAFF], audit: 'recording.control' },
    schema: {
      tags: ['recordings'],
      summary: 'Start or stop recording a live call (on-demand recording)',
      security,
      params: CallParams,
      body: RecordingAction,
      response: { 200: Type.Object({ callId: Type.String(), recording: Type.Boolean() }), ...errors(404, 503) },
    },
  }, async (request) => {
    const p = principalOf(request);
    const { callId } = request.params;
    request.auditTarget = { type: 'call', id: callId, details: { action: request.body.action } };
    if (request.body.action === 'start') await recordings.startOn(p.tenantId, callId);
    else await recordings.stopOn(p.tenantId, callId);
    return { callId, recording: request.body.action === 'start' };
  });

  app.get<{ Querystring: Static<typeof ListQuery> }>('/api/pbx/recordings', {
    config: { roles: [...STAFF] },
    schema: { tags: ['recordings'], summary: "The tenant's recordings, newest first", security, querystring: ListQuery, response: { 200: Type.Object({ recordings: Type.Array(RecordingBody) }), ...errors() } },
  }, async (request) => {
    const q = request.query;
    return { recordings: await recordings.list(principalOf(request).tenantId, { callId: q.callId, limit: q.limit ?? 50, offset: q.offset ?? 0 }) };
  });

  app.get<{ Params: Static<typeof IdParams> }>('/api/pbx/recordings/:id', {
    config: { roles: [...STAFF] },
    schema: { tags: ['recordings'], summary: 'One recording', security, params: IdParams, response: { 200: RecordingBody, ...errors(404) } },
  }, async (request) => {
    const { path: _path, ...row } = await recordings.get(principalOf(request).tenantId, request.params.id);
    return row;
  });

  app.get<{ Params: Static<typeof IdParams> }>('/api/pbx/recordings/:id/audio', {
    config: { roles: [...STAFF], audit: 'recording.download' },
    schema: { tags: ['recordings'], summary: 'The recording as a WAV file (stereo: caller left, callee right)', security, params: IdParams, response: { ...errors(404) } },
  }, async (request, reply) => {
    const p = principalOf(request);
    request.auditTarget = { type: 'recording', id: request.params.id };
    const wav = await recordings.audio(p.tenantId, request.params.id).catch((err: unknown) => {
      if (err instanceof PbxError) throw err;
      throw new PbxError('PBX_ERR_INTERNAL', 'The recording cannot be read');
    });
    return reply.header('content-type', 'audio/wav').header('content-disposition', `attachment; filename="${request.params.id}.wav"`).send(wav);
  });
}
