/**
 * Call control by REST (seeds 000 and 001): `POST /api/pbx/calls/dial` (click-to-call) and
 * `POST /api/pbx/calls/:callId/{answer,hangup,hold,mute,transfer}`. The path
 * names the call by its id or its session's; seed 001 repeats `callId` in the body, and the path wins. Agents act
 * on their own calls, staff on every call of their tenant.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import {
  actorOf as actorOfPrincipal,
  CallId,
  type CallActor,
  type ContactCenter,
  ControlState,
  controlStateBody,
  DialCommand,
  HoldFields,
  Muted,
  TransferFields,
} from '../../contact-center/index.ts';
import type { Principal } from '../../directory/index.ts';
import { principalOf } from '../plugins/access.ts';
import { errors } from '../schemas.ts';

const CallParams = Type.Object({ callId: CallId });
const CallIdField = Type.Optional(Type.String({ maxLength: 100, description: 'Seed 001 repeats it in the body; the path wins' }));

function actorOf(p: Principal, cc: ContactCenter): CallActor {
  return actorOfPrincipal(p, cc.agents);
}

/** Seed 001's clients send `{ callId }`, others nothing at all: an absent body is an empty one. */
async function emptyBodyIfAbsent(request: FastifyRequest): Promise<void> {
  request.body ??= {};
}

export function callControlRoutes(app: FastifyInstance, cc: ContactCenter): void {
  const security = [{ bearerAuth: [] }];
  const tags = ['calls'];
  const response = { 200: ControlState, ...errors(404, 409, 503) };

  const DialBody = DialCommand;
  app.post<{ Body: Static<typeof DialBody> }>('/api/pbx/calls/dial', {
    config: { audit: 'call.dial' },
    schema: {
      tags,
      summary: "Click-to-call: ring the agent's own devices, then, once the agent answers, the number (the agent hears ringback) and bridge the two",
      security,
      body: DialBody,
      response: { ...response, ...errors(400, 404, 409, 503) },
    },
  }, async (request) => {
    const state = await cc.control.dial(actorOf(principalOf(request), cc), request.body.phoneNumber, request.body.contactId);
    request.auditTarget = { type: 'call', id: state.callId, details: { phoneNumber: request.body.phoneNumber } };
    return controlStateBody(state);
  });

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

  const HoldBody = Type.Object({ callId: CallIdField, ...HoldFields }, { additionalProperties: false });
  app.post<{ Params: Static<typeof CallParams>; Body: Static<typeof HoldBody> }>('/api/pbx/calls/:callId/hold', {
    config: { audit: 'call.hold' },
    preValidation: emptyBodyIfAbsent,
    schema: { tags, summary: 'Hold the other party (it hears music on hold; the hold time counts) or resume', security, params: CallParams, body: HoldBody, response },
  }, async (request) => {
    const state = await cc.control.hold(actorOf(principalOf(request), cc), request.params.callId, request.body.hold);
    request.auditTarget = { type: 'call', id: state.callId, details: { held: state.held } };
    return controlStateBody(state);
  });

  const TransferBody = Type.Object({ callId: CallIdField, ...TransferFields }, { additionalProperties: false });
  app.post<{ Params: Static<typeof CallParams>; Body: Static<typeof TransferBody> }>('/api/pbx/calls/:callId/transfer', {
    config: { audit: 'call.transfer' },
    schema: {
      tags,
      summary: 'Transfer the caller to an extension (blind, or attended: a consultation first, then complete or cancel) or to a queue (blind)',
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

  for (const [step, summary] of [
    ['complete', "Complete an attended transfer: the caller talks with the consulted target, the agent is let go (the target may still ring: it gets the caller when it answers)"],
    ['cancel', 'Cancel an attended transfer: the target is let go, the caller is back with the agent'],
  ] as const) {
    app.post<{ Params: Static<typeof CallParams> }>(`/api/pbx/calls/:callId/transfer/${step}`, {
      config: { audit: `call.transfer.${step}` },
      preValidation: emptyBodyIfAbsent,
      schema: { tags, summary, security, params: CallParams, body: Type.Object({ callId: CallIdField }, { additionalProperties: false }), response },
    }, async (request) => {
      const actor = actorOf(principalOf(request), cc);
      const state = step === 'complete' ? await cc.control.completeTransfer(actor, request.params.callId) : await cc.control.cancelTransfer(actor, request.params.callId);
      request.auditTarget = { type: 'call', id: state.callId };
      return controlStateBody(state);
    });
  }

  const MuteBody = Type.Object({ callId: CallIdField, muted: Muted }, { additionalProperties: false });
  app.post<{ Params: Static<typeof CallParams>; Body: Static<typeof MuteBody> }>('/api/pbx/calls/:callId/mute', {
    config: { audit: 'call.mute' },
    schema: { tags, summary: 'Mute or unmute the agent: the other party stops hearing it, the agent still hears', security, params: CallParams, body: MuteBody, response },
  }, async (request) => {
    const state = await cc.control.mute(actorOf(principalOf(request), cc), request.params.callId, request.body.muted);
    request.auditTarget = { type: 'call', id: state.callId, details: { muted: state.muted } };
    return controlStateBody(state);
  });
}
