/**
 * The contact center's commands as both doors take them (REST in `src/api/`, Socket.io in `src/realtime/`): one
 * schema per command, the actor a principal acts as, and the one body a call-control command answers with. They
 * live here, with the services they drive, so each door imports the domain and neither imports the other.
 *
 * A door adds how it names the call (REST: the path; Socket.io: `callId` in the event) to the command's fields.
 */
import { type Static, Type } from 'typebox';
import type { Principal } from '../directory/index.ts';
import type { AgentService } from './agents.ts';
import type { CallActor, CallControlState } from './call-control.ts';

/** Roles that see and act on the whole tenant's contact center. */
export const STAFF_ROLES = ['ADMIN', 'MANAGER', 'SUPERVISOR'] as const;

export function isStaff(p: Pick<Principal, 'role'>): boolean {
  return (STAFF_ROLES as readonly string[]).includes(p.role);
}

/** Who a principal acts as: its own agent (extension), if it has one, and staff of its tenant or not. */
export function actorOf(p: Pick<Principal, 'tenantId' | 'userId' | 'role'>, agents: Pick<AgentService, 'ofUser'>): CallActor {
  return { tenantId: p.tenantId, extensionId: agents.ofUser(p.tenantId, p.userId)?.extensionId, staff: isStaff(p) };
}

/** A call, by its id or its session's. */
export const CallId = Type.String({ minLength: 1, maxLength: 100 });

// Seed 001 lists BUSY among the states a client sends; it follows calls, so asking for it is refused with 409.
const SettableStatus = Type.Union(['AVAILABLE', 'AWAY', 'BUSY', 'OFFLINE'].map((s) => Type.Literal(s as 'AVAILABLE' | 'AWAY' | 'BUSY' | 'OFFLINE')));

/** An agent's state asked for by hand (`agent:status:change`, `PUT .../status`). */
export const StatusChangeCommand = Type.Object(
  { status: SettableStatus, reason: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Why, for AWAY (Break, Lunch...)' })) },
  { additionalProperties: false },
);

/** Click-to-call (`call:dial`, `POST /api/pbx/calls/dial`). */
export const DialCommand = Type.Object(
  {
    phoneNumber: Type.String({ minLength: 1, maxLength: 32, description: "The number to call: an extension, or a queue's number" }),
    contactId: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'The contact (a CRM record) the call is about: kept on the session' })),
  },
  { additionalProperties: false },
);

/** Hold's fields, besides the call. */
export const HoldFields = { hold: Type.Optional(Type.Boolean({ description: 'true holds, false resumes; absent toggles' })) };

/** Transfer's fields, besides the call. */
export const TransferFields = {
  target: Type.String({ minLength: 1, maxLength: 32, description: "The extension number to put the caller through to, a queue's number (blind only: the caller waits in the queue again), or a phone number outside (E.164, or as dialled: the tenant's outbound routes and the agent's dial policy apply)" }),
  type: Type.Optional(
    Type.Union([Type.Literal('blind'), Type.Literal('attended')], {
      description: 'blind (the default): the agent is let go at once; attended: the caller holds while the target is consulted, then complete or cancel',
    }),
  ),
};

/** Mute's value: REST names it `muted`; seed 001's `call:mute` names it `mute` (and takes `muted` too). */
export const Muted = Type.Boolean({ description: 'true: the other party stops hearing the agent' });

/** What every call-control command answers: the call as it stands for the side acted for. */
export const ControlState = Type.Object({
  callId: Type.String(),
  callSessionId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
  state: Type.String({ description: 'The call: routing, ringing, answered or ended' }),
  side: Type.Union([Type.Literal('caller'), Type.Literal('callee')], { description: 'The side acted for' }),
  held: Type.Boolean(),
  muted: Type.Boolean(),
  /** An attended transfer's consultation in progress. */
  consultation: Type.Union([
    Type.Object({ target: Type.String({ description: "The target's number: an extension's, or one outside in E.164" }), answered: Type.Boolean({ description: 'The target answered and talks with the agent' }) }),
    Type.Null(),
  ]),
});

export function controlStateBody(s: CallControlState): Static<typeof ControlState> {
  return { callId: s.callId, callSessionId: s.sessionId ?? null, state: s.state, side: s.side, held: s.held, muted: s.muted, consultation: s.consultation };
}
