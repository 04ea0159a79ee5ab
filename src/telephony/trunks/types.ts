/**
 * Carriers as the engine sees them: SIP trunks, the tenant's phone numbers (DIDs) and its outbound routes. The
 * directory stores and validates them (`src/directory/carriers/`); the engine reads them through
 * {@link CarrierDirectory} and never writes them.
 */
import type { StoredDestination } from '../../db/schema.ts';

export const trunkTransports = ['udp', 'tcp', 'tls'] as const;
export type TrunkTransport = (typeof trunkTransports)[number];

/** One of a trunk's SIP servers; a trunk's servers are tried in order. */
export interface TrunkServer {
  host: string;
  port: number;
  transport: TrunkTransport;
}

/**
 * How a carrier knows us: `registration` (we REGISTER to it with digest credentials, and it sends calls to the
 * contact we registered) or `ip` (calls from its addresses are taken without digest).
 */
export const trunkAuthModes = ['registration', 'ip'] as const;
export type TrunkAuthMode = (typeof trunkAuthModes)[number];

/**
 * The number format a carrier wants in the numbers we send it (Request-URI, To, From, P-Asserted-Identity):
 * `e164` `+14155550100`, `e164-no-plus` `14155550100`, `national` `4155550100` (the trunk's country's national
 * significant number with its trunk prefix, as a caller in that country dials it).
 */
export const numberFormats = ['e164', 'e164-no-plus', 'national'] as const;
export type NumberFormat = (typeof numberFormats)[number];

/** Where a carrier puts the number a caller dialled: the Request-URI, the To header, or a diversion header (RFC 5806 Diversion, or History-Info). */
export const dialledNumberHeaders = ['request-uri', 'to', 'diversion'] as const;
export type DialledNumberHeader = (typeof dialledNumberHeaders)[number];

export const dtmfModes = ['rfc4733', 'info', 'inband'] as const;
export type DtmfMode = (typeof dtmfModes)[number];

export interface Trunk {
  id: string;
  tenantId: string;
  name: string;
  enabled: boolean;
  servers: TrunkServer[];
  /** A SIP URI every request to the carrier is sent through (a pre-loaded Route), or null. */
  outboundProxy: string | null;
  auth: TrunkAuthMode;
  /** IP addresses or CIDR ranges (IPv4 and IPv6) whose INVITEs are the carrier's, taken without digest. */
  allowedAddresses: string[];
  /** Digest credentials, for REGISTER and for answering the carrier's 401/407 to our INVITEs; the password in clear (decrypted for the engine only, never returned by the API). */
  username: string | null;
  /** The user part of the digest username when it differs from `username` (the From user); null: `username`. */
  authUsername: string | null;
  password: string | null;
  /** The host in our From and in the registration's AOR (the carrier's SIP domain); null: the first server's host. */
  fromDomain: string | null;
  /** Seconds asked for in REGISTER's Expires. */
  registerExpires: number;
  /** Codecs the carrier takes, in order of preference (rtpengine's names: PCMU, PCMA, G722, opus...). */
  codecs: string[];
  dtmfMode: DtmfMode;
  numberFormat: NumberFormat;
  /** The country the carrier's national numbers belong to (ISO 3166-1 alpha-2, `US`). */
  country: string;
  dialledNumberHeader: DialledNumberHeader;
  /** Calls at once over the trunk, both directions; 0: no limit. */
  maxCalls: number;
  /** New outbound calls per second; 0: no limit. */
  maxCallsPerSecond: number;
  /** Seconds between OPTIONS keepalives that mark the trunk up or down; 0: none (the trunk is taken to be up). */
  keepaliveSeconds: number;
}

/**
 * Where a phone number leads, as the directory stores it: an extension the engine rings, a hang-up, or a number
 * the engine hands to its router (the contact center's numbers).
 */
export type Destination = StoredDestination;

export interface PhoneNumber {
  id: string;
  tenantId: string;
  /** E.164 with its `+`: `+14155550100`. Unique across tenants. */
  number: string;
  /** The trunk the number arrives on, when it is tied to one; null: any of the tenant's trunks. */
  trunkId: string | null;
  destination: Destination;
  description: string | null;
}

export interface OutboundRoute {
  id: string;
  tenantId: string;
  name: string;
  /** Lower first. */
  priority: number;
  /** Asterisk dial patterns (`_NXXNXXXXXX`, `_011.`) or plain numbers matched whole (`911`); a prefix is a pattern, `_0044.`. Any one matching is enough. */
  patterns: string[];
  /** Digits cut from the front of the dialled number before `prepend` is added. */
  strip: number;
  prepend: string;
  /** Trunks tried in order: the next one on 5xx, 408, no answer from a trunk that is down. */
  trunkIds: string[];
  /** E.164 caller ID presented on calls of this route, unless the caller's own (a user's, or what the call is made for) comes first; null: none of its own. */
  callerId: string | null;
  /** Present the caller ID withheld (`Privacy: id`, RFC 3325). */
  withholdCallerId: boolean;
}

/** Classes of numbers a dial is checked against (RFC-free: the words operators use). */
export const numberClasses = ['emergency', 'internal', 'tollfree', 'national', 'mobile', 'international', 'premium'] as const;
export type NumberClass = (typeof numberClasses)[number];

/** What a tenant says about dialling out: its country, its emergency numbers, who may call what, and its cap. */
export interface DialPolicy {
  /** ISO 3166-1 alpha-2: numbers dialled without `+` are read in this country. */
  country: string;
  /** Always allowed, never capped: `112`, `911` by default. */
  emergencyNumbers: string[];
  /** The classes this user may dial (its own setting, else its role's, else the tenant's default). */
  allowedClasses: NumberClass[];
  /** The user's own caller ID (its own DID), E.164; null: the route's. */
  callerId: string | null;
  /** External calls at once for the whole tenant; 0: no limit. */
  maxExternalCalls: number;
}

/** What the engine reads of carriers. Every lookup is answered from memory: it is on the path of every call. */
export interface CarrierDirectory {
  /** Every enabled trunk of every tenant (the engine registers and probes them). */
  trunks(): Trunk[];
  trunk(tenantId: string, trunkId: string): Trunk | undefined;
  /** The enabled trunk an INVITE from `address` comes from: one whose allowed addresses (or, for a registration trunk, whose servers' resolved addresses) include it. */
  trunkByAddress(address: string): Trunk | undefined;
  /** A phone number, E.164 with `+`, in any tenant. */
  phoneNumber(e164: string): PhoneNumber | undefined;
  /** The tenant's outbound routes, lower priority first. */
  outboundRoutes(tenantId: string): OutboundRoute[];
  /** The dial policy for a tenant's extension (its user's classes and caller ID), or the tenant's own when `extensionId` is undefined. */
  dialPolicy(tenantId: string, extensionId: string | undefined): Promise<DialPolicy>;
  /** Called when trunks change (created, changed, deleted, enabled): the engine re-registers and re-probes. */
  onTrunksChanged(listener: () => void): () => void;
}
