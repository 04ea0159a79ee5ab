/**
 * The database schema. Every row carries `tenant_id`; every query filters by it. Migrations under `drizzle/` are
 * generated from this file by `npm run db:generate` and applied at start.
 */
import { sql } from 'drizzle-orm';
import { boolean, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

const timestamps = {
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
};

export const recordingPolicies = ['always', 'never', 'on-demand'] as const;
export type RecordingPolicy = (typeof recordingPolicies)[number];

export const userRoles = ['ADMIN', 'MANAGER', 'SUPERVISOR', 'AGENT'] as const;
export type UserRole = (typeof userRoles)[number];

/**
 * The classes of numbers each role may dial, by the engine's class names (`src/telephony/trunks/types.ts`
 * `NumberClass`: the storage layer names them as text, it does not import the engine).
 */
export type DialClassesByRole = Partial<Record<UserRole, string[]>>;

const domesticClasses = ['emergency', 'internal', 'tollfree', 'national', 'mobile'];
export const defaultDialClassesByRole: Record<UserRole, string[]> = {
  ADMIN: domesticClasses,
  MANAGER: domesticClasses,
  SUPERVISOR: domesticClasses,
  AGENT: domesticClasses,
};
export const tenants = pgTable('tenants', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull(),
  /** SIP domain: a REGISTER's To URI names it, and it is the digest realm of new credentials. */
  domain: text('domain').notNull(),
  /** The tenant created on first start; its administrators administer the whole system. */
  isSystem: boolean('is_system').notNull().default(false),
  extensionRangeStart: integer('extension_range_start').notNull(),
  extensionRangeEnd: integer('extension_range_end').notNull(),
  /** Which calls are recorded: every one, none, or those someone asks for; an extension may say otherwise. */
  recordingPolicy: text('recording_policy').$type<RecordingPolicy>().notNull().default('on-demand'),
  /** The reasons an agent may give for AWAY (reports group pauses by them). */
  awayReasons: jsonb('away_reasons').$type<string[]>().notNull().default(sql`'["Break","Lunch","Training","Meeting"]'::jsonb`),
  /**
   * The longest a call of the tenant may last, in seconds from its start; 0: no limit. Four hours by default: no
   * contact-center call should last that long, and one that does is most likely held open by parties that vanished.
   */
  maxCallSeconds: integer('max_call_seconds').notNull().default(14_400),
  /** ISO 3166-1 alpha-2: numbers typed or dialled without `+` are read in this country. */
  country: text('country').notNull().default('US'),
  /** Numbers always allowed and never capped, whatever the caller's classes. */
  emergencyNumbers: jsonb('emergency_numbers').$type<string[]>().notNull().default(sql`'["911","112"]'::jsonb`),
  /** External calls at once for the whole tenant; 0: no limit. */
  maxExternalCalls: integer('max_external_calls').notNull().default(0),
  /** Per role, the classes of numbers its users may dial; international and premium are off until an administrator allows them. */
  dialClasses: jsonb('dial_classes').$type<DialClassesByRole>().notNull().default(sql.raw(`'${JSON.stringify(defaultDialClassesByRole)}'::jsonb`)),
  ...timestamps,
}, (t) => [
  uniqueIndex('tenants_domain_key').on(t.domain),
  uniqueIndex('tenants_single_system_key').on(t.isSystem).where(sql`${t.isSystem}`),
]);

export const users = pgTable('users', {
  id: uuid('id').primaryKey().defaultRandom(),
  tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'restrict' }),
  name: text('name').notNull(),
  /** Stored lower-case; unique across tenants, since email login names no tenant. */
  email: text('email').notNull(),
  role: text('role').$type<UserRole>().notNull().default('AGENT'),
  /** scrypt hash (see directory/passwords.ts); null for users who only log in with their extension. */
  passwordHash: text('password_hash'),
  isActive: boolean('is_active').notNull().default(true),
  /** The classes of numbers this user may dial, instead of its role's; null: its role's. */
  dialClasses: jsonb('dial_classes').$type<string[]>(),
  /** The user's own caller ID on external calls (its DID), E.164; null: the queue's or the route's. */
  callerId: text('caller_id'),
  ...timestamps,
}, (t) => [
  uniqueIndex('users_email_key').on(t.email),
  index('users_tenant_idx').on(t.tenantId, t.createdAt),
]);

export const agentStatuses = ['OFFLINE', 'AVAILABLE', 'RINGING', 'BUSY', 'WRAP_UP', 'AWAY'] as const;
export type AgentStatus = (typeof agentStatuses)[number];

export const extensions = pgTable('extensions', {
  id: uuid('id').primaryKey().defaultRandom(),
  tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'restrict' }),
  userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  number: integer('number').notNull(),
  /**
   * The digest realm the hashes below were made with. Kept with them so that a later change of the tenant's domain
   * does not silently invalidate every phone's credentials.
   */
  realm: text('realm').notNull(),
  /** RFC 7616 HA1 = H(username ":" realm ":" password), for MD5 and SHA-256; the secret itself is never stored. */
  ha1Md5: text('ha1_md5').notNull(),
  ha1Sha256: text('ha1_sha256').notNull(),
  status: text('status').$type<AgentStatus>().notNull().default('OFFLINE'),
  statusReason: text('status_reason'),
  statusChangedAt: timestamp('status_changed_at', { withTimezone: true }).notNull().defaultNow(),
  isActive: boolean('is_active').notNull().default(true),
  /** Seconds a call to this extension rings before it is given up (seed 004's `Dial(PJSIP/1000,20)`). */
  ringTimeout: integer('ring_timeout').notNull().default(20),
  /** The extension's own recording policy; null follows the tenant's. */
  recordingPolicy: text('recording_policy').$type<RecordingPolicy>(),
  ...timestamps,
}, (t) => [
  uniqueIndex('extensions_tenant_number_key').on(t.tenantId, t.number),
  uniqueIndex('extensions_user_key').on(t.userId),
  index('extensions_tenant_status_idx').on(t.tenantId, t.status),
]);

export const auditLog = pgTable('audit_log', {
  id: uuid('id').primaryKey().defaultRandom(),
  tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'restrict' }),
  /** No foreign key: the trail outlives the users it names. */
  actorId: uuid('actor_id'),
  actorLabel: text('actor_label').notNull(),
  action: text('action').notNull(),
  targetType: text('target_type'),
  targetId: text('target_id'),
  outcome: text('outcome').$type<'success' | 'failure'>().notNull(),
  statusCode: integer('status_code').notNull(),
  errorCode: text('error_code'),
  ip: text('ip'),
  requestId: text('request_id'),
  details: jsonb('details'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [
  index('audit_log_tenant_created_idx').on(t.tenantId, t.createdAt),
]);

/**
 * Registrations (RFC 3261 section 10): contacts bound to an extension, kept so that bindings reached over UDP
 * survive a restart until they expire. Bindings over a connection (TCP, TLS, WebSocket) die with it.
 */
export const registrations = pgTable('registrations', {
  id: uuid('id').primaryKey().defaultRandom(),
  tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
  extensionId: uuid('extension_id').notNull().references(() => extensions.id, { onDelete: 'cascade' }),
  number: integer('number').notNull(),
  contactUri: text('contact_uri').notNull(),
  callId: text('call_id').notNull(),
  cseq: integer('cseq').notNull(),
  transport: text('transport').notNull(),
  sourceAddress: text('source_address').notNull(),
  sourcePort: integer('source_port').notNull(),
  userAgent: text('user_agent'),
  /** The Path header values of the REGISTER, in order (RFC 3327): requests to the contact are routed through them. */
  path: text('path').array().notNull().default(sql`'{}'::text[]`),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  ...timestamps,
}, (t) => [
  uniqueIndex('registrations_binding_key').on(t.extensionId, t.contactUri),
  index('registrations_tenant_idx').on(t.tenantId, t.number),
]);

export const schema = { tenants, users, extensions, auditLog, registrations };

/**
 * Call recordings: one stereo WAV per call (the caller on the left channel, the callee on the right), kept
 * encrypted (AES-256-GCM) under the data directory; the row says where, how long, and the plaintext's SHA-256.
 */
export const recordings = pgTable('recordings', {
  id: uuid('id').primaryKey().defaultRandom(),
  tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'restrict' }),
  /** The engine's call id (call.* events carry it). */
  callId: text('call_id').notNull(),
  callerNumber: integer('caller_number'),
  calleeNumber: integer('callee_number'),
  /** Relative to the data directory. */
  path: text('path').notNull(),
  durationMs: integer('duration_ms').notNull(),
  /** Bytes of the encrypted file. */
  size: integer('size').notNull(),
  /** SHA-256 of the WAV before encryption, hex. */
  sha256: text('sha256').notNull(),
  /** The key the file was encrypted with: the first 16 hex digits of the key's SHA-256. */
  keyId: text('key_id').notNull(),
  channels: text('channels').notNull(),
  startedAt: timestamp('started_at', { withTimezone: true }).notNull(),
  endedAt: timestamp('ended_at', { withTimezone: true }).notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [
  index('recordings_tenant_started_idx').on(t.tenantId, t.startedAt),
  index('recordings_call_idx').on(t.callId),
]);

/** Every change of an agent's state: the contact center's reports of availability and pauses read it. */
export const agentActivityLog = pgTable('agent_activity_log', {
  id: uuid('id').primaryKey().defaultRandom(),
  tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'restrict' }),
  /** No foreign key: the log outlives the extensions it names. */
  extensionId: uuid('extension_id').notNull(),
  userId: uuid('user_id'),
  fromStatus: text('from_status').$type<AgentStatus>().notNull(),
  toStatus: text('to_status').$type<AgentStatus>().notNull(),
  reason: text('reason'),
  callId: text('call_id'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [
  index('agent_activity_tenant_ext_idx').on(t.tenantId, t.extensionId, t.createdAt),
]);

export const queueStrategies = ['ringall', 'leastrecent', 'fewestcalls', 'random', 'rrmemory', 'rrordered', 'linear', 'wrandom'] as const;
export type QueueStrategy = (typeof queueStrategies)[number];

/** Where a caller goes when the queue cannot keep it (too long a wait, a full queue, nobody to answer). */
/** Where a queue sends a caller it cannot keep; `external`: a phone number outside, through the tenant's outbound routes. */
export type QueueFallback = { type: 'hangup' } | { type: 'queue'; target: string } | { type: 'extension'; target: string } | { type: 'external'; target: string };

export const queues = pgTable('queues', {
  id: uuid('id').primaryKey().defaultRandom(),
  tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'restrict' }),
  name: text('name').notNull(),
  /** The number callers dial; it shares the tenant's numbering plan with extensions. */
  number: integer('number').notNull(),
  strategy: text('strategy').$type<QueueStrategy>().notNull().default('ringall'),
  /** Seconds an offer rings an agent before the next choice. */
  ringTimeout: integer('ring_timeout').notNull().default(15),
  /** Seconds between two rounds of offers. */
  retryDelay: integer('retry_delay').notNull().default(2),
  /** Seconds an agent stays in WRAP_UP after a call of this queue. */
  wrapUpTime: integer('wrap_up_time').notNull().default(10),
  /** Seconds a caller may wait before the fallback; 0 waits for ever. */
  maxWait: integer('max_wait').notNull().default(300),
  /** Callers the queue holds at once before it is full; 0 has no limit. */
  maxCallers: integer('max_callers').notNull().default(0),
  fallback: jsonb('fallback').$type<QueueFallback>().notNull().default({ type: 'hangup' }),
  /** Whether a caller may join with nobody to answer: always, when a member is logged in, or only when one is available. */
  joinWhenEmpty: text('join_when_empty').$type<'yes' | 'loggedin' | 'available'>().notNull().default('yes'),
  /** The service-level threshold in seconds (answered within it counts as in service). */
  serviceLevel: integer('service_level').notNull().default(20),
  /** Unanswered offers in a row that pause an agent (AWAY, reason "Auto-pause"); 0 is off. */
  autoPauseAfter: integer('auto_pause_after').notNull().default(0),
  /** E.164 caller ID presented on external calls made for this queue; null: the route's. */
  callerId: text('caller_id'),
  ...timestamps,
}, (t) => [
  uniqueIndex('queues_tenant_number_key').on(t.tenantId, t.number),
]);

export const queueMembers = pgTable('queue_members', {
  id: uuid('id').primaryKey().defaultRandom(),
  tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'restrict' }),
  queueId: uuid('queue_id').notNull().references(() => queues.id, { onDelete: 'cascade' }),
  extensionId: uuid('extension_id').notNull().references(() => extensions.id, { onDelete: 'cascade' }),
  /** Lower penalties are offered first (app_queue's meaning); wrandom weighs by it. */
  penalty: integer('penalty').notNull().default(0),
  /** Paused in this queue only (QueuePause with a queue). */
  paused: boolean('paused').notNull().default(false),
  pauseReason: text('pause_reason'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [
  uniqueIndex('queue_members_key').on(t.queueId, t.extensionId),
]);

/** Queue events in app_queue's words (ENTERQUEUE, CONNECT, ABANDON...): the queue metrics are computed from them. */
export const queueEvents = pgTable('queue_events', {
  id: uuid('id').primaryKey().defaultRandom(),
  tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'restrict' }),
  /** No foreign keys: the history outlives queues and extensions. */
  queueId: uuid('queue_id').notNull(),
  callId: text('call_id'),
  extensionId: uuid('extension_id'),
  event: text('event').notNull(),
  data: jsonb('data'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [
  index('queue_events_tenant_queue_idx').on(t.tenantId, t.queueId, t.createdAt),
]);

export const callSessionStatuses = ['INITIATED', 'RINGING', 'QUEUED', 'CONNECTED', 'ON_HOLD', 'TRANSFERRING', 'COMPLETED', 'ABANDONED', 'MISSED', 'FAILED'] as const;
export type CallSessionStatus = (typeof callSessionStatuses)[number];

/** One call as the contact center sees it (seed 000's CallSession). */
export const callSessions = pgTable('call_sessions', {
  id: uuid('id').primaryKey().defaultRandom(),
  tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'restrict' }),
  /** The engine's call id. */
  callId: text('call_id').notNull(),
  direction: text('direction').$type<'inbound' | 'outbound' | 'internal'>().notNull(),
  fromNumber: text('from_number').notNull(),
  toNumber: text('to_number').notNull(),
  queueId: uuid('queue_id'),
  /** The agent's extension that handled (or was last offered) the call. */
  extensionId: uuid('extension_id'),
  /** The extension that placed the call, when an extension did (an agent's own outbound or internal call). */
  callerExtensionId: uuid('caller_extension_id'),
  status: text('status').$type<CallSessionStatus>().notNull(),
  queuedAt: timestamp('queued_at', { withTimezone: true }),
  offeredAt: timestamp('offered_at', { withTimezone: true }),
  answeredAt: timestamp('answered_at', { withTimezone: true }),
  endedAt: timestamp('ended_at', { withTimezone: true }),
  /** Milliseconds waiting in the queue (or ringing), talking, and on hold. */
  waitMs: integer('wait_ms').notNull().default(0),
  talkMs: integer('talk_ms').notNull().default(0),
  holdMs: integer('hold_ms').notNull().default(0),
  /** Milliseconds the agent spent in wrap-up after it. */
  wrapUpMs: integer('wrap_up_ms').notNull().default(0),
  endCause: text('end_cause'),
  disposition: text('disposition'),
  notes: text('notes'),
  contactId: text('contact_id'),
  recordingId: uuid('recording_id'),
  /** The trunk an external call came in or went out on. No foreign key: the history outlives trunks. */
  trunkId: uuid('trunk_id'),
  /** The outside party's number, E.164 (the caller of an inbound call, the number dialled of an outbound one). */
  externalNumber: text('external_number'),
  /** The tenant's phone number (DID) an inbound call was made to. */
  did: text('did'),
  /** The caller ID presented to the outside party on an outbound call, E.164 (or the withheld one). */
  callerIdPresented: text('caller_id_presented'),
  ...timestamps,
}, (t) => [
  index('call_sessions_tenant_created_idx').on(t.tenantId, t.createdAt),
  index('call_sessions_agent_status_idx').on(t.tenantId, t.extensionId, t.status),
  index('call_sessions_call_idx').on(t.callId),
  index('call_sessions_caller_idx').on(t.tenantId, t.callerExtensionId),
]);

/*
 * Carriers: SIP trunks, the tenant's phone numbers (DIDs) and its outbound routes. The engine's view of them is
 * `src/telephony/trunks/types.ts`; the shapes below are that view's, written out here because storage does not
 * import the engine.
 */

/** One of a trunk's SIP servers (the engine's `TrunkServer`). */
export interface StoredTrunkServer {
  host: string;
  port: number;
  transport: 'udp' | 'tcp' | 'tls';
}

/** Where a phone number leads (the engine's `Destination`). */
export type StoredDestination = { type: 'extension'; number: number } | { type: 'queue'; number: number } | { type: 'hangup' };

export const trunks = pgTable('trunks', {
  id: uuid('id').primaryKey().defaultRandom(),
  tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'restrict' }),
  name: text('name').notNull(),
  enabled: boolean('enabled').notNull().default(true),
  /** Tried in order; one to eight of them. */
  servers: jsonb('servers').$type<StoredTrunkServer[]>().notNull(),
  outboundProxy: text('outbound_proxy'),
  auth: text('auth').$type<'registration' | 'ip'>().notNull(),
  /** IPs and CIDR ranges (v4 and v6) whose INVITEs are the carrier's. */
  allowedAddresses: jsonb('allowed_addresses').$type<string[]>().notNull().default(sql`'[]'::jsonb`),
  username: text('username'),
  authUsername: text('auth_username'),
  /**
   * The digest password, sealed with AES-256-GCM under the server's key (the recordings' vault format, base64):
   * the engine needs it in clear to answer the carrier's challenges, so it cannot be hashed, but the database
   * (and its backups) never hold it readable.
   */
  passwordSealed: text('password_sealed'),
  fromDomain: text('from_domain'),
  registerExpires: integer('register_expires').notNull().default(3600),
  codecs: jsonb('codecs').$type<string[]>().notNull().default(sql`'["PCMU","PCMA"]'::jsonb`),
  dtmfMode: text('dtmf_mode').$type<'rfc4733' | 'info' | 'inband'>().notNull().default('rfc4733'),
  numberFormat: text('number_format').$type<'e164' | 'e164-no-plus' | 'national'>().notNull().default('e164'),
  /** ISO 3166-1 alpha-2; the tenant's country when the trunk was created, unless given. */
  country: text('country').notNull(),
  dialledNumberHeader: text('dialled_number_header').$type<'request-uri' | 'to' | 'diversion'>().notNull().default('request-uri'),
  /** Calls at once, both directions; 0: no limit. */
  maxCalls: integer('max_calls').notNull().default(0),
  /** New outbound calls per second; 0: no limit. */
  maxCallsPerSecond: integer('max_calls_per_second').notNull().default(0),
  /** Seconds between OPTIONS probes; 0: none. */
  keepaliveSeconds: integer('keepalive_seconds').notNull().default(30),
  ...timestamps,
}, (t) => [
  uniqueIndex('trunks_tenant_name_key').on(t.tenantId, t.name),
]);

export const phoneNumbers = pgTable('phone_numbers', {
  id: uuid('id').primaryKey().defaultRandom(),
  tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'restrict' }),
  /** E.164 with its `+`; one tenant's only, since an INVITE's number alone must say whose call it is. */
  number: text('number').notNull(),
  /** The trunk the number arrives on; null: any of the tenant's. A deleted trunk leaves the number on any. */
  trunkId: uuid('trunk_id').references(() => trunks.id, { onDelete: 'set null' }),
  destination: jsonb('destination').$type<StoredDestination>().notNull(),
  description: text('description'),
  ...timestamps,
}, (t) => [
  uniqueIndex('phone_numbers_number_key').on(t.number),
  index('phone_numbers_tenant_idx').on(t.tenantId, t.number),
]);

export const outboundRoutes = pgTable('outbound_routes', {
  id: uuid('id').primaryKey().defaultRandom(),
  tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'restrict' }),
  name: text('name').notNull(),
  /** Lower first. */
  priority: integer('priority').notNull(),
  /** Dial patterns (`_NXXNXXXXXX`, `_011.`, `911`); any one matching is enough. */
  patterns: jsonb('patterns').$type<string[]>().notNull(),
  strip: integer('strip').notNull().default(0),
  prepend: text('prepend').notNull().default(''),
  /**
   * The trunks tried, in order. A list in one column rather than a join table: the order is the data, the list is
   * short, and the directory checks each id against the tenant's trunks (a trunk a route names cannot be deleted).
   */
  trunkIds: jsonb('trunk_ids').$type<string[]>().notNull(),
  callerId: text('caller_id'),
  withholdCallerId: boolean('withhold_caller_id').notNull().default(false),
  ...timestamps,
}, (t) => [
  index('outbound_routes_tenant_priority_idx').on(t.tenantId, t.priority),
]);
