/**
 * Schemas shared by routes: one source for validation, response serialisation (which also drops any field not
 * named here, so a hash can never leak) and the OpenAPI document.
 */
import { Type, type TSchema } from 'typebox';
import { agentStatuses, userRoles } from '../db/index.ts';
import { numberClasses } from '../telephony/trunks/types.ts';

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const Uuid = Type.String({ format: 'uuid' });
export const DateTime = Type.String({ format: 'date-time' });
export const Role = Type.Union(userRoles.map((r) => Type.Literal(r)));
export const AgentStatus = Type.Union(agentStatuses.map((s) => Type.Literal(s)));
export const Email = Type.String({ format: 'email', maxLength: 254 });
export const Name = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' });
export const Password = Type.String({ minLength: 8, maxLength: 256 });
export const NumberClass = Type.Union(numberClasses.map((c) => Type.Literal(c)));
export const ExtensionNumber = Type.String({ pattern: '^[0-9]{2,9}$', description: 'Digits only, 2 to 9 of them' });

export const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable code from the error catalogue, e.g. PBX_ERR_VALIDATION' }),
      message: Type.String(),
      details: Type.Optional(Type.Unknown()),
    }),
  },
  { title: 'Error' },
);

/** The error answers a route may give, besides its own. */
export function errors(...statuses: number[]): Record<number, typeof ErrorBody> {
  return Object.fromEntries([400, 401, 403, 429, 500, ...statuses].map((s) => [s, ErrorBody]));
}

// Seed 004 speaks snake_case for users.
export const UserExtension = Type.Object({
  id: Uuid,
  number: Type.Integer(),
  status: AgentStatus,
  is_active: Type.Boolean(),
  created_at: DateTime,
});

export const UserBody = Type.Object({
  id: Uuid,
  tenant_id: Uuid,
  name: Type.String(),
  email: Type.String(),
  role: Role,
  is_active: Type.Boolean(),
  dial_classes: Nullable(Type.Array(NumberClass, { description: "The classes of numbers the user may dial instead of its role's; null: its role's" })),
  caller_id: Nullable(Type.String({ description: 'The caller ID of its external calls (its DID), E.164; null: the queue\'s or the route\'s' })),
  created_at: DateTime,
  updated_at: DateTime,
  extension: Nullable(UserExtension),
});

// Seed 000 speaks camelCase for the PBX side.
export const PbxUser = Type.Object({
  id: Uuid,
  email: Type.String(),
  firstName: Type.String(),
  lastName: Type.String(),
  role: Role,
});

export const AgentExtensionBody = Type.Object({
  id: Uuid,
  tenantId: Uuid,
  userId: Uuid,
  extension: Type.String({ description: 'The extension number' }),
  status: AgentStatus,
  statusReason: Nullable(Type.String()),
  statusChangedAt: DateTime,
  isActive: Type.Boolean(),
  ringTimeout: Type.Integer({ description: 'Seconds a call rings before it is given up' }),
  recordingPolicy: Nullable(Type.Union([Type.Literal('always'), Type.Literal('never'), Type.Literal('on-demand')], { description: "The extension's recording policy; null follows the tenant's" })),
  registered: Type.Optional(Type.Boolean({ description: 'A device is registered now' })),
  currentCallId: Type.Optional(Nullable(Type.String({ description: 'The call the agent is on' }))),
  pendingStatus: Type.Optional(Nullable(Type.String({ description: 'AWAY or OFFLINE asked for during a call, applied when it ends' }))),
  createdAt: DateTime,
  updatedAt: DateTime,
});

export const TenantBody = Type.Object({
  id: Uuid,
  name: Type.String(),
  domain: Type.String(),
  isSystem: Type.Boolean(),
  extensionRange: Type.String({ examples: ['1000-1999'] }),
  maxCallSeconds: Type.Integer({ description: 'The longest a call may last, in seconds from its start (it is then ended with the cause max-duration); 0: no limit' }),
  createdAt: DateTime,
});
