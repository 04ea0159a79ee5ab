/**
 * The checks the carriers' services share: a refusal that names its field, telephone numbers read in the tenant's
 * country, IP addresses and CIDR ranges, SIP hosts that must resolve, and the tenant's rows a carrier setting may
 * point at (trunks, extensions, queues).
 */
import dns from 'node:dns';
import net from 'node:net';
import { and, eq, inArray } from 'drizzle-orm';
import { isSupportedCountry } from 'libphonenumber-js';
import { type Db, extensions, queues, tenants, trunks } from '../../db/index.ts';
import { PbxError } from '../../errors/index.ts';
import { isE164, toE164 } from '../../telephony/trunks/numbering.ts';
import type { Destination } from '../../telephony/trunks/types.ts';

/**
 * A validation refusal in the shape schema failures have (`{ field, message }` in details, "field message" as the
 * message). Fields are named as the service's input names them (`servers.0.host`, `patterns.1`); the REST door
 * puts `body.` in front.
 */
export function invalid(field: string, message: string): PbxError {
  return new PbxError('PBX_ERR_VALIDATION', `${field} ${message}`, { details: [{ field, message }] });
}

/** Whether `country` is an ISO 3166-1 alpha-2 code whose numbering plan we know. */
export function isCountry(country: string): boolean {
  return /^[A-Z]{2}$/.test(country) && isSupportedCountry(country);
}

export function checkCountry(field: string, country: string): void {
  if (!isCountry(country)) throw invalid(field, `'${country}' is not a country code we know (ISO 3166-1 alpha-2, e.g. US, GB, FR)`);
}

/**
 * A telephone number as we store it, E.164 with `+`: as typed in international form (`+1 415 555 0100`) or in the
 * tenant's national form (`(415) 555-0100` in the US).
 */
export function e164Of(field: string, input: string, country: string): string {
  const e164 = toE164(input.trim(), country);
  if (e164 === undefined || !isE164(e164)) {
    throw invalid(field, `'${input}' is not a telephone number: give it in E.164 (+ country code and number, e.g. +14155550100) or as dialled in ${country}`);
  }
  return e164;
}

/** A caller ID to store: null stays null, anything else must be a telephone number. */
export function callerIdOf(field: string, input: string | null, country: string): string | null {
  return input === null ? null : e164Of(field, input, country);
}

/** `192.0.2.7` or `2001:db8::7` (without brackets or zone), or undefined. */
function ipOf(text: string): { address: string; type: 'ipv4' | 'ipv6' } | undefined {
  const family = net.isIP(text);
  if (family === 4) return { address: text, type: 'ipv4' };
  if (family === 6 && !text.includes('%')) return { address: text, type: 'ipv6' };
  return undefined;
}

/** An address or range of an allow list: `192.0.2.7`, `192.0.2.0/24`, `2001:db8::/32`; undefined when it is neither. */
export function parseAddressOrCidr(text: string): { address: string; prefix: number | undefined; type: 'ipv4' | 'ipv6' } | undefined {
  const slash = text.indexOf('/');
  const ip = ipOf(slash < 0 ? text : text.slice(0, slash));
  if (!ip) return undefined;
  if (slash < 0) return { ...ip, prefix: undefined };
  const bits = text.slice(slash + 1);
  const prefix = Number(bits);
  const max = ip.type === 'ipv4' ? 32 : 128;
  if (!/^\d{1,3}$/.test(bits) || prefix > max) return undefined;
  return { ...ip, prefix };
}

/** Adds an address or range to a block list (an allow list, for us); false when it is neither. */
export function addToList(list: net.BlockList, text: string): boolean {
  const parsed = parseAddressOrCidr(text);
  if (!parsed) return false;
  try {
    if (parsed.prefix === undefined) list.addAddress(parsed.address, parsed.type);
    else list.addSubnet(parsed.address, parsed.prefix, parsed.type);
    return true;
  } catch {
    return false;
  }
}

/**
 * The address a packet came from as a block list reads it: no brackets, and an IPv4 address an IPv6 socket saw as
 * IPv4-mapped (`::ffff:192.0.2.7`) given back as IPv4, so a v4 range matches it.
 */
export function normaliseSource(address: string): { address: string; type: 'ipv4' | 'ipv6' } | undefined {
  let text = address.trim();
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(text);
  if (mapped?.[1]) text = mapped[1];
  return ipOf(text);
}

/** Answers the addresses a host name resolves to; rejects when it resolves to none. */
export type HostResolver = (host: string) => Promise<string[]>;

/** Long enough for a real resolver on a slow link, short enough that an administrator's request does not hang. */
export const RESOLVE_TIMEOUT_MS = 3000;

/** The system's resolver (getaddrinfo: /etc/hosts, then DNS), given up after `timeoutMs`. */
export function systemResolver(timeoutMs = RESOLVE_TIMEOUT_MS): HostResolver {
  return async (host) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const found = await Promise.race([dns.promises.lookup(host, { all: true }), timeout]);
      return found.map((a) => a.address);
    } finally {
      clearTimeout(timer);
    }
  };
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** A host as stored: an IP address without brackets, or a host name in lower case. */
export function hostOf(field: string, input: string): string {
  let host = input.trim();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (ipOf(host)) return host;
  if (!HOSTNAME.test(host)) throw invalid(field, `'${input}' is not a host name or an IP address`);
  return host.toLowerCase();
}

/** An IP literal needs no lookup; a name must resolve now, so that a typing mistake is caught while it is typed. */
export async function checkResolves(field: string, host: string, resolve: HostResolver): Promise<void> {
  if (ipOf(host)) return;
  let addresses: string[];
  try {
    addresses = await resolve(host);
  } catch (err) {
    throw invalid(field, `'${host}' does not resolve (${(err as Error).message})`);
  }
  if (addresses.length === 0) throw invalid(field, `'${host}' does not resolve`);
}

/** The tenant's country, the default for its trunks and the country its numbers are read in. */
export async function tenantCountry(db: Db, tenantId: string): Promise<string> {
  const [row] = await db.select({ country: tenants.country }).from(tenants).where(eq(tenants.id, tenantId)).limit(1);
  if (!row) throw new PbxError('PBX_ERR_TENANT_NOT_FOUND');
  return row.country;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Checks that each id names a trunk of the tenant; a refusal names the item's field (`trunkIds.2`, `trunkId`). */
export async function checkTrunksExist(db: Pick<Db, 'select'>, tenantId: string, items: ReadonlyArray<{ id: string; field: string }>, lock = false): Promise<void> {
  if (items.length === 0) return;
  for (const { id, field } of items) if (!UUID.test(id)) throw invalid(field, `'${id}' is not a trunk id`);
  const query = db.select({ id: trunks.id }).from(trunks).where(and(eq(trunks.tenantId, tenantId), inArray(trunks.id, items.map((i) => i.id))));
  // FOR SHARE: a trunk being deleted at the same moment either waits for us or is already gone when we look.
  const rows = lock ? await query.for('share') : await query;
  const found = new Set(rows.map((r) => r.id));
  for (const { id, field } of items) if (!found.has(id)) throw invalid(field, `no trunk ${id} in this tenant`);
}

/** Checks that an extension or queue destination has its number in the tenant. */
export async function checkDestination(db: Db, tenantId: string, field: string, destination: Destination): Promise<void> {
  if (destination.type === 'hangup') return;
  const table = destination.type === 'extension' ? extensions : queues;
  const [row] = await db
    .select({ id: table.id })
    .from(table)
    .where(and(eq(table.tenantId, tenantId), eq(table.number, destination.number)))
    .limit(1);
  if (!row) throw invalid(`${field}.number`, `no ${destination.type} ${destination.number} in this tenant`);
}
