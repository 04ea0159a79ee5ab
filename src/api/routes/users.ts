/**
 * Users and their extensions, in seed 004's shapes. Administrators provision; managers and supervisors read the
 * whole tenant; an agent sees and changes only itself. The SIP secret appears only in the answers of a creation
 * and of a reset.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import type { Directory } from '../../directory/index.ts';
import { PbxError } from '../../errors/index.ts';
import { isStaff, principalOf, requireSelfOr } from '../plugins/access.ts';
import { userBody } from '../presenters.ts';
import { fieldsInBody } from '../plugins/errors.ts';
import { DateTime, Email, errors, IdParams, Name, Nullable, NumberClass, Password, Role, UserBody, UserExtension, Uuid } from '../schemas.ts';

const CreateUser = Type.Object(
  {
    name: Name,
    email: Email,
    role: Type.Optional(Role),
    password: Type.Optional(Password),
    withExtension: Type.Optional(Type.Boolean({ default: true, description: 'false to create the user without an extension' })),
  },
  { additionalProperties: false },
);

const CreatedUser = Type.Object({
  ...UserBody.properties,
  extension: Nullable(Type.Object({ ...UserExtension.properties, secret: Type.String({ description: 'The SIP secret; shown only here' }) })),
});

const UpdateUser = Type.Object(
  {
    name: Type.Optional(Name),
    email: Type.Optional(Email),
    role: Type.Optional(Role),
    password: Type.Optional(Password),
    isActive: Type.Optional(Type.Boolean()),
    dialClasses: Type.Optional(Nullable(Type.Array(NumberClass, { uniqueItems: true, description: "The classes of numbers the user may dial instead of its role's; null: its role's" }))),
    callerId: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 32, description: "Its external calls' caller ID (its DID): E.164, or as dialled in the tenant's country; null: none" }))),
  },
  { additionalProperties: false, minProperties: 1 },
);

const SecretReset = Type.Object({
  extension: Type.Object({ id: Uuid, number: Type.Integer(), secret: Type.String(), updated_at: DateTime }),
});

type IdParamsT = Static<typeof IdParams>;

export function userRoutes(app: FastifyInstance, directory: Directory): void {
  const security = [{ bearerAuth: [] }];

  app.post<{ Body: Static<typeof CreateUser> }>('/api/users', {
    config: { roles: ['ADMIN'], audit: 'user.create' },
    schema: {
      tags: ['users'],
      summary: 'Create a user with the lowest free extension of the tenant',
      security,
      body: CreateUser,
      response: { 201: CreatedUser, ...errors(409) },
    },
  }, async (request, reply) => {
    const p = principalOf(request);
    const tenant = await directory.tenants.get(p.tenantId);
    const { user, secret } = await directory.users.create(tenant, request.body);
    request.auditTarget = { type: 'user', id: user.id, details: { email: user.email, role: user.role, extension: user.extension?.number ?? null } };
    const body = userBody(user);
    return reply.status(201).send({ ...body, extension: body.extension && secret ? { ...body.extension, secret } : null });
  });

  app.get('/api/users', {
    schema: {
      tags: ['users'],
      summary: "List the tenant's users (an agent sees only itself)",
      security,
      response: { 200: Type.Object({ users: Type.Array(UserBody) }), ...errors() },
    },
  }, async (request) => {
    const p = principalOf(request);
    const users = await directory.users.list(p.tenantId, isStaff(p) ? {} : { userId: p.userId });
    return { users: users.map(userBody) };
  });

  app.get<{ Params: IdParamsT }>('/api/users/:id', {
    schema: { tags: ['users'], summary: 'Get a user', security, params: IdParams, response: { 200: UserBody, ...errors(404) } },
  }, async (request) => {
    const p = principalOf(request);
    if (!isStaff(p)) requireSelfOr(p, request.params.id, []);
    return userBody(await directory.users.get(p.tenantId, request.params.id));
  });

  app.patch<{ Params: IdParamsT; Body: Static<typeof UpdateUser> }>('/api/users/:id', {
    config: { audit: 'user.update' },
    schema: {
      tags: ['users'],
      summary: 'Change a user (administrators: any field, including the classes of numbers it may dial and its caller ID; a user: its own name and password)',
      security,
      params: IdParams,
      body: UpdateUser,
      response: { 200: UserBody, ...errors(404, 409) },
    },
  }, async (request) => {
    const p = principalOf(request);
    const { id } = request.params;
    const patch = request.body;
    if (p.role !== 'ADMIN') {
      requireSelfOr(p, id, []);
      if (patch.email !== undefined || patch.role !== undefined || patch.isActive !== undefined) {
        throw new PbxError('PBX_ERR_FORBIDDEN', 'Only an administrator may change email, role or active state');
      }
      // What a user may dial and the number it calls as are the tenant's to decide, not the user's.
      if (patch.dialClasses !== undefined || patch.callerId !== undefined) {
        throw new PbxError('PBX_ERR_FORBIDDEN', 'Only an administrator may change what a user may dial or its caller ID');
      }
    } else if (p.userId === id && ((patch.role !== undefined && patch.role !== 'ADMIN') || patch.isActive === false)) {
      // An administrator demoting or disabling itself could leave the tenant with nobody to administer it.
      throw new PbxError('PBX_ERR_FORBIDDEN', 'You cannot demote or deactivate your own account');
    }
    request.auditTarget = { type: 'user', id, details: { fields: Object.keys(patch) } };
    return userBody(await fieldsInBody(directory.users.update(p.tenantId, id, patch)));
  });

  app.delete<{ Params: IdParamsT }>('/api/users/:id', {
    config: { roles: ['ADMIN'], audit: 'user.delete' },
    schema: {
      tags: ['users'],
      summary: 'Delete a user and free its extension',
      security,
      params: IdParams,
      response: {
        200: Type.Object({ message: Type.String(), deleted_user_id: Uuid, freed_extension: Nullable(Type.Integer()) }),
        ...errors(404, 409),
      },
    },
  }, async (request) => {
    const p = principalOf(request);
    if (p.userId === request.params.id) throw new PbxError('PBX_ERR_CANNOT_DELETE_SELF');
    const { userId, freedExtension } = await directory.users.delete(p.tenantId, request.params.id);
    request.auditTarget = { type: 'user', id: userId, details: { freedExtension } };
    return { message: 'User deleted successfully', deleted_user_id: userId, freed_extension: freedExtension };
  });

  app.post<{ Params: IdParamsT }>('/api/users/:id/extension/reset-secret', {
    config: { audit: 'extension.reset_secret' },
    schema: {
      tags: ['users'],
      summary: "Give the user's extension a new random SIP secret (administrators, or the user itself)",
      security,
      params: IdParams,
      response: { 200: SecretReset, ...errors(404) },
    },
  }, async (request) => {
    const p = principalOf(request);
    requireSelfOr(p, request.params.id, ['ADMIN']);
    const user = await directory.users.get(p.tenantId, request.params.id);
    if (!user.extension) throw new PbxError('PBX_ERR_EXTENSION_NOT_FOUND', 'The user has no extension');
    const { extension, secret } = await directory.extensions.resetSecret(p.tenantId, user.extension.id);
    request.auditTarget = { type: 'extension', id: extension.id, details: { number: extension.number } };
    return { extension: { id: extension.id, number: extension.number, secret, updated_at: extension.updatedAt } };
  });
}
