/**
 * Carriers over REST: SIP trunks (`/api/pbx/trunks`), phone numbers (`/api/pbx/numbers`), outbound routes
 * (`/api/pbx/outbound-routes`), the tenant's dial policy (`/api/pbx/dial-policy`) and a queue's caller ID
 * (`/api/pbx/queues/:id/caller-id`). Administrators change them; managers read trunks, numbers and routes. A trunk's
 * password goes in and never comes out: answers say `hasPassword`, and audit rows name the fields changed only.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { userRoles } from '../../db/index.ts';
import type { Carriers, TrunkRecord } from '../../directory/index.ts';
import { dialledNumberHeaders, dtmfModes, numberClasses, numberFormats, trunkAuthModes, trunkTransports } from '../../telephony/trunks/types.ts';
import { principalOf } from '../plugins/access.ts';
import { fieldsInBody } from '../plugins/errors.ts';
import { DateTime, errors, IdParams, Nullable, Uuid } from '../schemas.ts';

/** What the engine knows of a trunk's health; `state` is the engine's word (`up`, `down`, `registered`...), `unknown` until it says. */
export interface TrunkStatus {
  state: string;
  /** For a registration trunk: whether our registration stands; null for an ip trunk or before the first attempt. */
  registered: boolean | null;
  lastError: string | null;
  since: Date | null;
}

/** Asks the engine for a trunk's status; undefined: it has none (yet). */
export type TrunkStatusProvider = (tenantId: string, trunkId: string) => TrunkStatus | undefined;

const UNKNOWN_STATUS: TrunkStatus = { state: 'unknown', registered: null, lastError: null, since: null };

const literals = <T extends string>(values: readonly T[], description?: string) =>
  Type.Union(values.map((v) => Type.Literal(v)), description ? { description } : {});

const TrunkName = Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' });
const Transport = literals(trunkTransports);
const AuthMode = literals(trunkAuthModes, 'registration: we REGISTER with digest credentials; ip: calls from the allowed addresses are taken without digest');
const DtmfMode = literals(dtmfModes);
const NumberFormat = literals(numberFormats, 'How the carrier wants our numbers: e164 +14155550100, e164-no-plus 14155550100, national 4155550100');
const DialledNumberHeader = literals(dialledNumberHeaders, 'Where the carrier puts the number dialled');
const Country = Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2, e.g. US' });
const NumberClass = literals(numberClasses);
const ClassList = Type.Array(NumberClass, { uniqueItems: true, maxItems: numberClasses.length });
const CallerId = Type.String({ minLength: 1, maxLength: 32, description: 'E.164 (+14155550100), or as dialled in the tenant\'s country' });

const ServerInput = Type.Object(
  {
    host: Type.String({ minLength: 1, maxLength: 253, description: 'Host name or IP address; a name must resolve' }),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65_535, description: 'Default 5060, 5061 over TLS' })),
    transport: Type.Optional(Transport),
  },
  { additionalProperties: false },
);

const trunkProps = {
  enabled: Type.Optional(Type.Boolean()),
  servers: Type.Array(ServerInput, { minItems: 1, maxItems: 8, description: 'Tried in order' }),
  outboundProxy: Type.Optional(Nullable(Type.String({ maxLength: 500, description: 'A SIP URI every request goes through, e.g. sip:proxy.example.com;lr' }))),
  auth: AuthMode,
  allowedAddresses: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 100, description: 'IP addresses or CIDR ranges (v4, v6) the carrier calls from' })),
  username: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 128 }))),
  authUsername: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 128, description: 'The digest username when it differs from username' }))),
  password: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 256, description: 'Stored encrypted and never returned; null clears it' }))),
  fromDomain: Type.Optional(Nullable(Type.String({ maxLength: 253, description: "The host in our From and the registration's AOR; null: the first server's" }))),
  registerExpires: Type.Optional(Type.Integer({ minimum: 60, maximum: 86_400, description: 'Seconds asked for in REGISTER (default 3600)' })),
  codecs: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Za-z0-9._-]{1,32}$' }), { minItems: 1, maxItems: 16, uniqueItems: true, description: 'In order of preference (default PCMU, PCMA)' })),
  dtmfMode: Type.Optional(DtmfMode),
  numberFormat: Type.Optional(NumberFormat),
  country: Type.Optional(Country),
  dialledNumberHeader: Type.Optional(DialledNumberHeader),
  maxCalls: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000, description: 'Calls at once; 0: no limit' })),
  maxCallsPerSecond: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000, description: 'New outbound calls per second; 0: no limit' })),
  keepaliveSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600, description: 'Seconds between OPTIONS probes; 0: none (default 30)' })),
};

const CreateTrunk = Type.Object({ name: TrunkName, ...trunkProps }, { additionalProperties: false });
const UpdateTrunk = Type.Object(
  { name: Type.Optional(TrunkName), ...trunkProps, servers: Type.Optional(trunkProps.servers), auth: Type.Optional(AuthMode) },
  { additionalProperties: false, minProperties: 1 },
);

const TrunkStatusBody = Type.Object({
  state: Type.String({ description: 'unknown until the engine reports on the trunk' }),
  registered: Nullable(Type.Boolean()),
  lastError: Nullable(Type.String()),
  since: Nullable(DateTime),
});

const TrunkBody = Type.Object({
  id: Uuid,
  tenantId: Uuid,
  name: Type.String(),
  enabled: Type.Boolean(),
  servers: Type.Array(Type.Object({ host: Type.String(), port: Type.Integer(), transport: Transport })),
  outboundProxy: Nullable(Type.String()),
  auth: AuthMode,
  allowedAddresses: Type.Array(Type.String()),
  username: Nullable(Type.String()),
  authUsername: Nullable(Type.String()),
  hasPassword: Type.Boolean({ description: 'The password itself is never returned' }),
  fromDomain: Nullable(Type.String()),
  registerExpires: Type.Integer(),
  codecs: Type.Array(Type.String()),
  dtmfMode: DtmfMode,
  numberFormat: NumberFormat,
  country: Type.String(),
  dialledNumberHeader: DialledNumberHeader,
  maxCalls: Type.Integer(),
  maxCallsPerSecond: Type.Integer(),
  keepaliveSeconds: Type.Integer(),
  status: TrunkStatusBody,
  createdAt: DateTime,
  updatedAt: DateTime,
});

const DestinationNumber = Type.Integer({ minimum: 0, maximum: 999_999_999 });
const Destination = Type.Union([
  Type.Object({ type: Type.Literal('extension'), number: DestinationNumber }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('queue'), number: DestinationNumber }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('hangup') }, { additionalProperties: false }),
], { description: "Where the number's calls go: an extension, a queue, or hung up" });

const numberProps = {
  trunkId: Type.Optional(Nullable(Type.String({ format: 'uuid', description: 'The trunk the number arrives on; null: any of the tenant\'s' }))),
  description: Type.Optional(Nullable(Type.String({ maxLength: 200 }))),
};
const PhoneNumberText = Type.String({ minLength: 1, maxLength: 32, description: 'E.164 (+1 415 555 0100 is stored +14155550100), or as dialled in the tenant\'s country' });
const CreateNumber = Type.Object({ number: PhoneNumberText, destination: Destination, ...numberProps }, { additionalProperties: false });
const UpdateNumber = Type.Object(
  { number: Type.Optional(PhoneNumberText), destination: Type.Optional(Destination), ...numberProps },
  { additionalProperties: false, minProperties: 1 },
);

const NumberBody = Type.Object({
  id: Uuid,
  tenantId: Uuid,
  number: Type.String({ description: 'E.164' }),
  trunkId: Nullable(Uuid),
  destination: Destination,
  description: Nullable(Type.String()),
  createdAt: DateTime,
  updatedAt: DateTime,
});

const routeProps = {
  priority: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, description: "Lower first; default: after the tenant's last route" })),
  strip: Type.Optional(Type.Integer({ minimum: 0, maximum: 32, description: 'Digits cut from the front of the dialled number' })),
  prepend: Type.Optional(Type.String({ pattern: '^[0-9*#+]{0,32}$', description: 'Added in front after strip' })),
  callerId: Type.Optional(Nullable(CallerId)),
  withholdCallerId: Type.Optional(Type.Boolean({ description: 'Present the caller ID withheld (Privacy: id)' })),
};
const RouteName = Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' });
const Patterns = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
  minItems: 1,
  maxItems: 50,
  description: 'Dial patterns as in Asterisk: _NXXNXXXXXX, _011. (a pattern starts with _; X 0-9, Z 1-9, N 2-9, [1-5] a set, . one or more, ! zero or more at the end), or a plain number such as 911 that matches only itself; any one matching is enough',
});
const TrunkIds = Type.Array(Uuid, { minItems: 1, maxItems: 16, uniqueItems: true, description: 'Tried in order' });
const CreateRoute = Type.Object({ name: RouteName, patterns: Patterns, trunkIds: TrunkIds, ...routeProps }, { additionalProperties: false });
const UpdateRoute = Type.Object(
  { name: Type.Optional(RouteName), patterns: Type.Optional(Patterns), trunkIds: Type.Optional(TrunkIds), ...routeProps },
  { additionalProperties: false, minProperties: 1 },
);

const RouteBody = Type.Object({
  id: Uuid,
  tenantId: Uuid,
  name: Type.String(),
  priority: Type.Integer(),
  patterns: Type.Array(Type.String()),
  strip: Type.Integer(),
  prepend: Type.String(),
  trunkIds: Type.Array(Uuid),
  callerId: Nullable(Type.String()),
  withholdCallerId: Type.Boolean(),
  createdAt: DateTime,
  updatedAt: DateTime,
});

const ClassesByRole = Type.Object(Object.fromEntries(userRoles.map((r) => [r, ClassList])) as Record<(typeof userRoles)[number], typeof ClassList>);
const DialPolicyBody = Type.Object({
  country: Type.String(),
  emergencyNumbers: Type.Array(Type.String()),
  maxExternalCalls: Type.Integer({ description: 'External calls at once for the tenant; 0: no limit' }),
  classes: ClassesByRole,
});
const UpdateDialPolicy = Type.Object(
  {
    country: Type.Optional(Country),
    emergencyNumbers: Type.Optional(Type.Array(Type.String({ pattern: '^[0-9*#]{2,15}$' }), { minItems: 1, maxItems: 20, description: 'Always allowed, never capped' })),
    maxExternalCalls: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
    classes: Type.Optional(Type.Object(
      Object.fromEntries(userRoles.map((r) => [r, Type.Optional(ClassList)])),
      { additionalProperties: false, description: "Per role, the classes of numbers its users may dial; roles left out keep theirs. Emergency numbers are always allowed" },
    )),
  },
  { additionalProperties: false, minProperties: 1 },
);

const QueueCallerIdBody = Type.Object({ queueId: Uuid, callerId: Nullable(Type.String()) });
const SetQueueCallerId = Type.Object({ callerId: Nullable(CallerId) }, { additionalProperties: false });

const Deleted = Type.Object({ message: Type.String(), id: Uuid });

const ADMIN = ['ADMIN'] as const;
const READERS = ['ADMIN', 'MANAGER'] as const;

export function carrierRoutes(app: FastifyInstance, carriers: Carriers, options: { trunkStatus?: TrunkStatusProvider } = {}): void {
  const security = [{ bearerAuth: [] }];
  const trunkBody = (t: TrunkRecord) => ({ ...t, status: options.trunkStatus?.(t.tenantId, t.id) ?? UNKNOWN_STATUS });
  // A change is answered once the engine's copy has it: a call placed right after the answer follows it.
  const settled = async (_request: unknown, _reply: unknown, payload: unknown) => {
    await carriers.cache.idle();
    return payload;
  };

  // Trunks.
  {
    const base = '/api/pbx/trunks';
    const tags = ['trunks'];

    app.get(base, {
      config: { roles: [...READERS] },
      schema: { tags, summary: "List the tenant's trunks by name", security, response: { 200: Type.Object({ trunks: Type.Array(TrunkBody) }), ...errors() } },
    }, async (request) => ({ trunks: (await carriers.trunks.list(principalOf(request).tenantId)).map(trunkBody) }));

    app.post<{ Body: Static<typeof CreateTrunk> }>(base, {
      config: { roles: [...ADMIN], audit: 'trunk.create' },
      preSerialization: settled,
      schema: { tags, summary: 'Create a trunk (a name must resolve; a registration trunk needs username and password)', security, body: CreateTrunk, response: { 201: TrunkBody, ...errors(409) } },
    }, async (request, reply) => {
      const p = principalOf(request);
      const trunk = await fieldsInBody(carriers.trunks.create(p.tenantId, request.body));
      request.auditTarget = { type: 'trunk', id: trunk.id, details: { name: trunk.name, auth: trunk.auth, hosts: trunk.servers.map((s) => s.host) } };
      return reply.status(201).send(trunkBody(trunk));
    });

    app.get<{ Params: Static<typeof IdParams> }>(`${base}/:id`, {
      config: { roles: [...READERS] },
      schema: { tags, summary: 'Get a trunk', security, params: IdParams, response: { 200: TrunkBody, ...errors(404) } },
    }, async (request) => trunkBody(await carriers.trunks.get(principalOf(request).tenantId, request.params.id)));

    app.patch<{ Params: Static<typeof IdParams>; Body: Static<typeof UpdateTrunk> }>(`${base}/:id`, {
      config: { roles: [...ADMIN], audit: 'trunk.update' },
      preSerialization: settled,
      schema: { tags, summary: 'Change a trunk (password left out: kept; null: cleared)', security, params: IdParams, body: UpdateTrunk, response: { 200: TrunkBody, ...errors(404, 409) } },
    }, async (request) => {
      const p = principalOf(request);
      // The names of the fields changed, never their values: the password's would be among them.
      request.auditTarget = { type: 'trunk', id: request.params.id, details: { fields: Object.keys(request.body) } };
      return trunkBody(await fieldsInBody(carriers.trunks.update(p.tenantId, request.params.id, request.body)));
    });

    app.delete<{ Params: Static<typeof IdParams> }>(`${base}/:id`, {
      config: { roles: [...ADMIN], audit: 'trunk.delete' },
      preSerialization: settled,
      schema: { tags, summary: 'Delete a trunk no outbound route uses (its numbers then arrive on any trunk)', security, params: IdParams, response: { 200: Deleted, ...errors(404, 409) } },
    }, async (request) => {
      const trunk = await carriers.trunks.delete(principalOf(request).tenantId, request.params.id);
      request.auditTarget = { type: 'trunk', id: trunk.id, details: { name: trunk.name } };
      return { message: 'Trunk deleted successfully', id: trunk.id };
    });
  }

  // Phone numbers.
  {
    const base = '/api/pbx/numbers';
    const tags = ['phone numbers'];

    app.get(base, {
      config: { roles: [...READERS] },
      schema: { tags, summary: "List the tenant's phone numbers", security, response: { 200: Type.Object({ numbers: Type.Array(NumberBody) }), ...errors() } },
    }, async (request) => ({ numbers: await carriers.numbers.list(principalOf(request).tenantId) }));

    app.post<{ Body: Static<typeof CreateNumber> }>(base, {
      config: { roles: [...ADMIN], audit: 'number.create' },
      preSerialization: settled,
      schema: { tags, summary: 'Add a phone number (DID) and say where its calls go', security, body: CreateNumber, response: { 201: NumberBody, ...errors(409) } },
    }, async (request, reply) => {
      const p = principalOf(request);
      const number = await fieldsInBody(carriers.numbers.create(p.tenantId, request.body));
      request.auditTarget = { type: 'phone-number', id: number.id, details: { number: number.number, destination: number.destination } };
      return reply.status(201).send(number);
    });

    app.get<{ Params: Static<typeof IdParams> }>(`${base}/:id`, {
      config: { roles: [...READERS] },
      schema: { tags, summary: 'Get a phone number', security, params: IdParams, response: { 200: NumberBody, ...errors(404) } },
    }, async (request) => carriers.numbers.get(principalOf(request).tenantId, request.params.id));

    app.patch<{ Params: Static<typeof IdParams>; Body: Static<typeof UpdateNumber> }>(`${base}/:id`, {
      config: { roles: [...ADMIN], audit: 'number.update' },
      preSerialization: settled,
      schema: { tags, summary: 'Change a phone number', security, params: IdParams, body: UpdateNumber, response: { 200: NumberBody, ...errors(404, 409) } },
    }, async (request) => {
      const p = principalOf(request);
      request.auditTarget = { type: 'phone-number', id: request.params.id, details: { fields: Object.keys(request.body) } };
      return fieldsInBody(carriers.numbers.update(p.tenantId, request.params.id, request.body));
    });

    app.delete<{ Params: Static<typeof IdParams> }>(`${base}/:id`, {
      config: { roles: [...ADMIN], audit: 'number.delete' },
      preSerialization: settled,
      schema: { tags, summary: 'Remove a phone number', security, params: IdParams, response: { 200: Deleted, ...errors(404) } },
    }, async (request) => {
      const number = await carriers.numbers.delete(principalOf(request).tenantId, request.params.id);
      request.auditTarget = { type: 'phone-number', id: number.id, details: { number: number.number } };
      return { message: 'Phone number deleted successfully', id: number.id };
    });
  }

  // Outbound routes.
  {
    const base = '/api/pbx/outbound-routes';
    const tags = ['outbound routes'];

    app.get(base, {
      config: { roles: [...READERS] },
      schema: { tags, summary: "List the tenant's outbound routes, lower priority first", security, response: { 200: Type.Object({ routes: Type.Array(RouteBody) }), ...errors() } },
    }, async (request) => ({ routes: await carriers.routes.list(principalOf(request).tenantId) }));

    app.post<{ Body: Static<typeof CreateRoute> }>(base, {
      config: { roles: [...ADMIN], audit: 'outbound-route.create' },
      preSerialization: settled,
      schema: { tags, summary: 'Create an outbound route', security, body: CreateRoute, response: { 201: RouteBody, ...errors() } },
    }, async (request, reply) => {
      const p = principalOf(request);
      const route = await fieldsInBody(carriers.routes.create(p.tenantId, request.body));
      request.auditTarget = { type: 'outbound-route', id: route.id, details: { name: route.name, priority: route.priority, trunkIds: route.trunkIds } };
      return reply.status(201).send(route);
    });

    app.get<{ Params: Static<typeof IdParams> }>(`${base}/:id`, {
      config: { roles: [...READERS] },
      schema: { tags, summary: 'Get an outbound route', security, params: IdParams, response: { 200: RouteBody, ...errors(404) } },
    }, async (request) => carriers.routes.get(principalOf(request).tenantId, request.params.id));

    app.patch<{ Params: Static<typeof IdParams>; Body: Static<typeof UpdateRoute> }>(`${base}/:id`, {
      config: { roles: [...ADMIN], audit: 'outbound-route.update' },
      preSerialization: settled,
      schema: { tags, summary: 'Change an outbound route', security, params: IdParams, body: UpdateRoute, response: { 200: RouteBody, ...errors(404) } },
    }, async (request) => {
      const p = principalOf(request);
      request.auditTarget = { type: 'outbound-route', id: request.params.id, details: { fields: Object.keys(request.body) } };
      return fieldsInBody(carriers.routes.update(p.tenantId, request.params.id, request.body));
    });

    app.delete<{ Params: Static<typeof IdParams> }>(`${base}/:id`, {
      config: { roles: [...ADMIN], audit: 'outbound-route.delete' },
      preSerialization: settled,
      schema: { tags, summary: 'Delete an outbound route', security, params: IdParams, response: { 200: Deleted, ...errors(404) } },
    }, async (request) => {
      const route = await carriers.routes.delete(principalOf(request).tenantId, request.params.id);
      request.auditTarget = { type: 'outbound-route', id: route.id, details: { name: route.name } };
      return { message: 'Outbound route deleted successfully', id: route.id };
    });
  }

  // The tenant's dial policy, and a queue's caller ID (the queue's own settings are the contact center's).
  {
    const tags = ['dial policy'];

    app.get('/api/pbx/dial-policy', {
      config: { roles: [...ADMIN] },
      schema: { tags, summary: "The tenant's dial policy: country, emergency numbers, external-call cap, classes per role", security, response: { 200: DialPolicyBody, ...errors() } },
    }, async (request) => carriers.dialPolicy.get(principalOf(request).tenantId));

    app.patch<{ Body: Static<typeof UpdateDialPolicy> }>('/api/pbx/dial-policy', {
      config: { roles: [...ADMIN], audit: 'dial-policy.update' },
      preSerialization: settled,
      schema: { tags, summary: "Change the tenant's dial policy", security, body: UpdateDialPolicy, response: { 200: DialPolicyBody, ...errors() } },
    }, async (request) => {
      const p = principalOf(request);
      request.auditTarget = { type: 'tenant', id: p.tenantId, details: { ...request.body } };
      return fieldsInBody(carriers.dialPolicy.update(p.tenantId, request.body));
    });

    app.get<{ Params: Static<typeof IdParams> }>('/api/pbx/queues/:id/caller-id', {
      config: { roles: [...READERS] },
      schema: { tags: ['queues'], summary: "A queue's caller ID on external calls made for it", security, params: IdParams, response: { 200: QueueCallerIdBody, ...errors(404) } },
    }, async (request) => {
      const p = principalOf(request);
      return { queueId: request.params.id, callerId: await carriers.dialPolicy.queueCallerId(p.tenantId, request.params.id) };
    });

    app.patch<{ Params: Static<typeof IdParams>; Body: Static<typeof SetQueueCallerId> }>('/api/pbx/queues/:id/caller-id', {
      config: { roles: [...ADMIN], audit: 'queue.caller-id' },
      preSerialization: settled,
      schema: { tags: ['queues'], summary: "Set a queue's caller ID (null: the route's)", security, params: IdParams, body: SetQueueCallerId, response: { 200: QueueCallerIdBody, ...errors(404) } },
    }, async (request) => {
      const p = principalOf(request);
      const set = await fieldsInBody(carriers.dialPolicy.setQueueCallerId(p.tenantId, request.params.id, request.body.callerId));
      request.auditTarget = { type: 'queue', id: set.queueId, details: { callerId: set.callerId } };
      return set;
    });
  }
}
