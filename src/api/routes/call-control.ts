/**
 * Call control by REST (seeds 000 and 001): `POST /api/pbx/calls/:callId/{answer,hangup,hold,mute,transfer}`. The path
 * names the call by its id or its session's; seed 001 repeats `callId` in the body, and the path wins. Agents act
 * on their own calls, staff on every call of their tenant.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import type { CallActor, ContactCenter } from '../../contact-center/index.ts';
import type { Principal } from '../../directory/index.ts';
import { isStaff, principalOf } from '../plugins/access.ts';
import { errors, Nullable, Uuid } from '../schemas.ts';

const CallParams = Type.Object({ callId: Type.String({ minLength: 1, maxLength: 100 }) });
const CallIdField = Type.Optional(Type.String({ maxLength: 100, description: 'Seed 001 repeats it in the body; the path wins' }));

const ControlState = Type.Object({
  callId: Type.String(),
  callSessionId: Nullable(Uuid),
  state: Type.String({ description: 'The call: routing, ringing, answered or ended' }),
  side: Type.Union([Type.Literal('caller'), Type.Literal('callee')], { description: 'The side acted for' }),
  held: Type.Boolean(),
  muted: Type.Boolean(),
});

export function actorOf(p: Principal, cc: ContactCenter): CallActor {
  return { tenantId: p.tenantId, extensionId: cc.agents.ofUser(p.tenantId, p.userId)?.extensionId, staff: isStaff(p) };
}

export function controlStateBody(s: Awaited<ReturnType<ContactCenter['control']['hangup']>>): Static<typeof ControlState> {
  return { callId: s.callId, callSessionId: s.sessionId ?? null, state: s.state, side: s.side, held: s.held, muted: s.muted };
}

/** Seed 001's clients send `{ callId }`, others nothing at all: an absent body is an empty one. */
async function emptyBodyIfAbsent(request: FastifyRequest): Promise<void> {
  request.body ??= {};
}

export function callControlRoutes(app: FastifyInstance, cc: ContactCenter): void {
  const security = [{ bearerAuth: [] }];
  const tags = ['calls'];
  const response = { 200: ControlState, ...errors(404, 409, 503) };

  app.post<{ Params: Static<typeof CallParams> }>('/api/pbx/calls/:callId/answer', {
    config: { audit: 'call.answer' },
    preValidation: emptyBodyIfAbsent,
    schema: {
      tags,
      summary: "Answer a call ringing the agent's browser softphone (a SIP phone is answered on the phone: 409)",
      security,
      params: CallParams,
      body: Type.Object({ callId: CallIdField }, { additionalProperties: false }),
      response,
    },
  }, async (request) => {
    const state = await cc.control.answer(actorOf(principalOf(request), cc), request.params.callId);
    request.auditTarget = { type: 'call', id: state.callId };
    return controlStateBody(state);
  });

  app.post<{ Params: Static<typeof CallParams> }>('/api/pbx/calls/:callId/hangup', {
    config: { audit: 'call.hangup' },
    preValidation: emptyBodyIfAbsent,
    schema: { tags, summary: 'Hang up a call, for both parties', security, params: CallParams, body: Type.Object({ callId: CallIdField }, { additionalProperties: false }), response },
  }, async (request) => {
    const state = await cc.control.hangup(actorOf(principalOf(request), cc), request.params.callId);
    request.auditTarget = { type: 'call', id: state.callId };
    return controlStateBody(state);
  });

  const HoldBody = Type.Object({ callId: CallIdField, hold: Type.Optional(Type.Boolean({ description: 'true holds, false resumes; absent toggles' })) }, { additionalProperties: false });
  app.post<{ Params: Static<typeof CallParams>; Body: Static<typeof HoldBody> }>('/api/pbx/calls/:callId/hold', {
    config: { audit: 'call.hold' },
    preValidation: emptyBodyIfAbsent,
    schema: { tags, summary: 'Hold the other party (it hears music on hold; the hold time counts) or resume', security, params: CallParams, body: HoldBody, response },
  }, async (request) => {
    const state = await cc.control.hold(actorOf(principalOf(request), cc), request.params.callId, request.body.hold);
    request.auditTarget = { type: 'call', id: state.callId, details: { held: state.held } };
    return controlStateBody(state);
  });

  const TransferBody = Type.Object(
    {
      callId: CallIdField,
      target: Type.String({ minLength: 1, maxLength: 32, description: 'The extension number to put the caller through to' }),
      type: Type.Optional(Type.Union([Type.Literal('blind'), Type.Literal('attended')], { description: 'blind (the default); attended is not built yet (501)' })),
    },
    { additionalProperties: false },
  );
  app.post<{ Params: Static<typeof CallParams>; Body: Static<typeof TransferBody> }>('/api/pbx/calls/:callId/transfer', {
    config: { audit: 'call.transfer' },
    schema: {
      tags,
      summary: 'Blind transfer: the caller is put through to an extension, and the agent is let go at once',
      security,
      params: CallParams,
      body: TransferBody,
      response: { ...response, ...errors(404, 409, 501, 503) },
    },
  }, async (request) => {
    const state = await cc.control.transfer(actorOf(principalOf(request), cc), request.params.callId, request.body.target, request.body.type ?? 'blind');
    request.auditTarget = { type: 'call', id: state.callId, details: { target: request.body.target, type: request.body.type ?? 'blind' } };
    return controlStateBody(state);
  });

  const MuteBody = Type.Object({ callId: CallIdField, muted: Type.Boolean({ description: 'true: the other party stops hearing the agent' }) }, { additionalProperties: false });
  app.post<{ Params: Static<typeof CallParams>; Body: Static<typeof MuteBody> }>('/api/pbx/calls/:callId/mute', {
    config: { audit: 'call.mute' },
    schema: { tags, summary: 'Mute or unmute the agent: the other party stops hearing it, the agent still hears', security, params: CallParams, body: MuteBody, response },
  }, async (request) => {
    const state = await cc.control.mute(actorOf(principalOf(request), cc), request.params.callId, request.body.muted);
    request.auditTarget = { type: 'call', id: state.callId, details: { muted: state.muted } };
    return controlStateBody(state);
  });
}
