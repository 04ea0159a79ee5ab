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
  ...timestamps,
}, (t) => [
  uniqueIndex('tenants_domain_key').on(t.domain),
  uniqueIndex('tenants_single_system_key').on(t.isSystem).where(sql`${t.isSystem}`),
]);

export const userRoles = ['ADMIN', 'MANAGER', 'SUPERVISOR', 'AGENT'] as const;
export type UserRole = (typeof userRoles)[number];

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
