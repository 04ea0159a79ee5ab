/**
 * SIP trunks: a tenant's carriers, how we reach them (servers tried in order, an outbound proxy), how they know us
 * (we register with digest credentials, or they send from addresses we allow), and what they want of our numbers
 * and media. The digest password is sealed before it is stored and only the engine's copy (the carriers' cache)
 * holds it in clear; what this service answers says only whether there is one.
 */
import { and, asc, eq, sql } from 'drizzle-orm';
import { type Db, isUniqueViolation, outboundRoutes, trunks } from '../../db/index.ts';
import { PbxError } from '../../errors/index.ts';
import type { PbxEventBus } from '../../events/index.ts';
import {
  dialledNumberHeaders,
  type DialledNumberHeader,
  dtmfModes,
  type DtmfMode,
  numberFormats,
  type NumberFormat,
  type Trunk,
  trunkAuthModes,
  type TrunkAuthMode,
  type TrunkServer,
  trunkTransports,
  type TrunkTransport,
} from '../../telephony/trunks/types.ts';
import { checkCountry, checkResolves, hostOf, type HostResolver, invalid, parseAddressOrCidr, tenantCountry } from './checks.ts';
import type { SecretBox } from './secret-box.ts';

/** A server as given: the port defaults to 5060 (5061 over TLS), the transport to UDP. */
export interface TrunkServerInput {
  host: string;
  port?: number;
  transport?: TrunkTransport;
}

/** A new trunk; what is left out takes the defaults of the `trunks` table (the country: the tenant's). */
export interface TrunkInput {
  name: string;
  enabled?: boolean;
  servers: TrunkServerInput[];
  outboundProxy?: string | null;
  auth: TrunkAuthMode;
  allowedAddresses?: string[];
  username?: string | null;
  authUsername?: string | null;
  /** In clear; sealed before it is stored, never answered. */
  password?: string | null;
  fromDomain?: string | null;
  registerExpires?: number;
  codecs?: string[];
  dtmfMode?: DtmfMode;
  numberFormat?: NumberFormat;
  country?: string;
  dialledNumberHeader?: DialledNumberHeader;
  maxCalls?: number;
  maxCallsPerSecond?: number;
  keepaliveSeconds?: number;
}

/** A change: what is left out stays; `password` left out keeps the old one, `null` clears it. */
export type TrunkPatch = Partial<TrunkInput>;

/** A trunk as the directory answers it: the engine's {@link Trunk} without its password, only whether it has one. */
export interface TrunkRecord extends Omit<Trunk, 'password'> {
  hasPassword: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export type TrunkRow = typeof trunks.$inferSelect;

export const MAX_TRUNK_SERVERS = 8;

export function toTrunkRecord(row: TrunkRow): TrunkRecord {
  const { passwordSealed, ...rest } = row;
  return { ...rest, hasPassword: passwordSealed !== null };
}

/** The engine's trunk: the record with its password opened. */
export function toEngineTrunk(row: TrunkRow, box: SecretBox): Trunk {
  const { hasPassword: _hasPassword, createdAt: _createdAt, updatedAt: _updatedAt, ...trunk } = toTrunkRecord(row);
  return { ...trunk, password: row.passwordSealed === null ? null : box.open(row.passwordSealed) };
}

function integerIn(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw invalid(field, `must be a whole number from ${min} to ${max}`);
  return value;
}

function oneOf<T extends string>(field: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw invalid(field, `must be one of ${allowed.join(', ')}`);
  return value as T;
}

function optionalText(value: string | null | undefined): string | null {
  const text = value?.trim();
  return text ? text : null;
}

const CODEC = /^[A-Za-z0-9._-]{1,32}$/;
const SIP_URI = /^sips?:[^\s<>"]+$/i;

/** The settings a row is written with, every one checked; the password stays out (the caller seals it). */
type Settings = Omit<typeof trunks.$inferInsert, 'id' | 'tenantId' | 'passwordSealed' | 'createdAt' | 'updatedAt'>;

/** Checks a whole trunk (a new one, or an old one with its change applied) and answers it as stored. */
function settle(input: TrunkInput & { country: string }, hasPassword: boolean): Settings {
  const name = input.name.trim();
  if (!name) throw invalid('name', 'must not be empty');
  if (input.servers.length < 1 || input.servers.length > MAX_TRUNK_SERVERS) throw invalid('servers', `must list 1 to ${MAX_TRUNK_SERVERS} servers`);
  const servers: TrunkServer[] = input.servers.map((s, i) => {
    const transport = oneOf(`servers.${i}.transport`, s.transport ?? 'udp', trunkTransports);
    const port = s.port ?? (transport === 'tls' ? 5061 : 5060);
    if (!Number.isInteger(port) || port < 1 || port > 65_535) throw invalid(`servers.${i}.port`, 'must be a port number from 1 to 65535');
    return { host: hostOf(`servers.${i}.host`, s.host), port, transport };
  });
  const outboundProxy = optionalText(input.outboundProxy);
  if (outboundProxy !== null && !SIP_URI.test(outboundProxy)) throw invalid('outboundProxy', `'${outboundProxy}' is not a SIP URI (e.g. sip:proxy.example.com;lr)`);
  const auth = oneOf('auth', input.auth, trunkAuthModes);
  const allowedAddresses = (input.allowedAddresses ?? []).map((a, i) => {
    const text = a.trim();
    if (!parseAddressOrCidr(text)) throw invalid(`allowedAddresses.${i}`, `'${a}' is not an IP address or a CIDR range (e.g. 192.0.2.0/24, 2001:db8::/32)`);
    return text;
  });
  // An ip trunk is known by its addresses alone: one without any only carries calls out (the carrier knows us by
  // ours), which is how many carriers sell their termination.
  const username = optionalText(input.username);
  if (auth === 'registration' && username === null) throw invalid('username', 'is required for a registration trunk');
  if (auth === 'registration' && !hasPassword) throw invalid('password', 'is required for a registration trunk');
  const fromDomain = optionalText(input.fromDomain);
  const codecs = input.codecs ?? ['PCMU', 'PCMA'];
  if (codecs.length < 1 || codecs.length > 16) throw invalid('codecs', 'must list 1 to 16 codecs');
  codecs.forEach((c, i) => {
    if (!CODEC.test(c)) throw invalid(`codecs.${i}`, `'${c}' is not a codec name (PCMU, PCMA, G722, opus...)`);
  });
  checkCountry('country', input.country);
  return {
    name,
    enabled: input.enabled ?? true,
    servers,
    outboundProxy,
    auth,
    allowedAddresses,
    username,
    authUsername: optionalText(input.authUsername),
    fromDomain: fromDomain === null ? null : hostOf('fromDomain', fromDomain),
    registerExpires: integerIn('registerExpires', input.registerExpires ?? 3600, 60, 86_400),
    codecs,
    dtmfMode: oneOf('dtmfMode', input.dtmfMode ?? 'rfc4733', dtmfModes),
    numberFormat: oneOf('numberFormat', input.numberFormat ?? 'e164', numberFormats),
    country: input.country,
    dialledNumberHeader: oneOf('dialledNumberHeader', input.dialledNumberHeader ?? 'request-uri', dialledNumberHeaders),
    maxCalls: integerIn('maxCalls', input.maxCalls ?? 0, 0, 100_000),
    maxCallsPerSecond: integerIn('maxCallsPerSecond', input.maxCallsPerSecond ?? 0, 0, 10_000),
    keepaliveSeconds: integerIn('keepaliveSeconds', input.keepaliveSeconds ?? 30, 0, 3600),
  };
}

function nameTaken(name: string): PbxError {
  return new PbxError('PBX_ERR_TRUNK_NAME_TAKEN', `A trunk named '${name}' already exists`);
}

export class TrunkService {
  constructor(
    private readonly db: Db,
    private readonly bus: PbxEventBus,
    private readonly box: SecretBox,
    private readonly resolve: HostResolver,
  ) {}

  async create(tenantId: string, input: TrunkInput): Promise<TrunkRecord> {
    const country = input.country ?? (await tenantCountry(this.db, tenantId));
    const password = input.password ?? null;
    const settings = settle({ ...input, country }, password !== null);
    await this.checkHosts(settings.servers);
    const [row] = await this.db
      .insert(trunks)
      .values({ ...settings, tenantId, passwordSealed: password === null ? null : this.box.seal(password) })
      .returning()
      .catch((err: unknown) => {
        if (isUniqueViolation(err, 'trunks_tenant_name_key')) throw nameTaken(settings.name);
        throw err;
      });
    const trunk = toTrunkRecord(row as TrunkRow);
    this.bus.emit('trunk.changed', { tenantId, trunkId: trunk.id, change: 'created' });
    return trunk;
  }

  /** The tenant's trunks by name. */
  async list(tenantId: string): Promise<TrunkRecord[]> {
    const rows = await this.db.select().from(trunks).where(eq(trunks.tenantId, tenantId)).orderBy(asc(trunks.name));
    return rows.map(toTrunkRecord);
  }

  async get(tenantId: string, id: string): Promise<TrunkRecord> {
    return toTrunkRecord(await this.row(tenantId, id));
  }

  async update(tenantId: string, id: string, patch: TrunkPatch): Promise<TrunkRecord> {
    const current = await this.row(tenantId, id);
    const password = patch.password;
    const hasPassword = password === undefined ? current.passwordSealed !== null : password !== null;
    const { password: _password, ...rest } = patch;
    const settings = settle({ ...current, ...dropUndefined(rest) }, hasPassword);
    // Hosts are looked up only when they change: a host that stops resolving later must not block a rename.
    if (patch.servers !== undefined) await this.checkHosts(settings.servers);
    const values: Partial<typeof trunks.$inferInsert> = { ...settings, updatedAt: new Date() };
    if (password !== undefined) values.passwordSealed = password === null ? null : this.box.seal(password);
    const [row] = await this.db
      .update(trunks)
      .set(values)
      .where(and(eq(trunks.tenantId, tenantId), eq(trunks.id, id)))
      .returning()
      .catch((err: unknown) => {
        if (isUniqueViolation(err, 'trunks_tenant_name_key')) throw nameTaken(settings.name);
        throw err;
      });
    if (!row) throw new PbxError('PBX_ERR_TRUNK_NOT_FOUND');
    this.bus.emit('trunk.changed', { tenantId, trunkId: id, change: 'updated' });
    return toTrunkRecord(row);
  }

  /** Deletes a trunk no outbound route names; its phone numbers then arrive on any of the tenant's trunks. */
  async delete(tenantId: string, id: string): Promise<TrunkRecord> {
    const deleted = await this.db.transaction(async (tx) => {
      // FOR UPDATE: a route naming this trunk cannot be written between the check below and the delete.
      const [row] = await tx.select().from(trunks).where(and(eq(trunks.tenantId, tenantId), eq(trunks.id, id))).for('update');
      if (!row) throw new PbxError('PBX_ERR_TRUNK_NOT_FOUND');
      const users = await tx
        .select({ id: outboundRoutes.id, name: outboundRoutes.name })
        .from(outboundRoutes)
        .where(and(eq(outboundRoutes.tenantId, tenantId), sql`${outboundRoutes.trunkIds} @> ${JSON.stringify([id])}::jsonb`))
        .orderBy(asc(outboundRoutes.priority), asc(outboundRoutes.name));
      if (users.length > 0) {
        const names = users.map((r) => `'${r.name}'`).join(', ');
        throw new PbxError('PBX_ERR_TRUNK_IN_USE', `The trunk is used by the outbound route${users.length > 1 ? 's' : ''} ${names}: take it out of them first`, {
          details: { routes: users },
        });
      }
      await tx.delete(trunks).where(and(eq(trunks.tenantId, tenantId), eq(trunks.id, id)));
      return row;
    });
    this.bus.emit('trunk.changed', { tenantId, trunkId: id, change: 'deleted' });
    return toTrunkRecord(deleted);
  }

  private async row(tenantId: string, id: string): Promise<TrunkRow> {
    const [row] = await this.db.select().from(trunks).where(and(eq(trunks.tenantId, tenantId), eq(trunks.id, id))).limit(1);
    if (!row) throw new PbxError('PBX_ERR_TRUNK_NOT_FOUND');
    return row;
  }

  private async checkHosts(servers: readonly TrunkServer[]): Promise<void> {
    // Looked up together (each may take the resolver's whole timeout); the first server's refusal is the one told.
    const results = await Promise.allSettled(servers.map((s, i) => checkResolves(`servers.${i}.host`, s.host, this.resolve)));
    const refused = results.find((r) => r.status === 'rejected');
    if (refused) throw refused.reason;
  }
}

/** A patch's fields that are there: `{ outboundProxy: undefined }` must not erase the stored one. */
function dropUndefined<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as Partial<T>;
}
