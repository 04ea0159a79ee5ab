/**
 * Carriers as the API answers them (`/api/pbx/trunks`, `/numbers`, `/outbound-routes`, `/dial-policy`; see /docs),
 * the words the pages show for their values, and the queries the sections share, so that a trunk added on one tab
 * is in the other tabs' selects at once.
 */
import { useQuery } from '@tanstack/react-query';
import { get } from '../../lib/api.ts';
import type { QueueRow, Role, UserRow } from '../../lib/types.ts';

export const TRANSPORTS = ['udp', 'tcp', 'tls'] as const;
export type Transport = (typeof TRANSPORTS)[number];
export type AuthMode = 'registration' | 'ip';
export type TrunkState = 'up' | 'down' | 'registered' | 'registering' | 'failed' | 'disabled' | 'unknown';

export interface TrunkServer {
  host: string;
  port: number;
  transport: Transport;
}

export interface TrunkStatus {
  state: TrunkState | string;
  registered: boolean | null;
  lastError: string | null;
  since: string | null;
}

export interface Trunk {
  id: string;
  name: string;
  enabled: boolean;
  servers: TrunkServer[];
  outboundProxy: string | null;
  auth: AuthMode;
  allowedAddresses: string[];
  username: string | null;
  authUsername: string | null;
  hasPassword: boolean;
  fromDomain: string | null;
  registerExpires: number;
  codecs: string[];
  dtmfMode: string;
  numberFormat: string;
  country: string;
  dialledNumberHeader: string;
  maxCalls: number;
  maxCallsPerSecond: number;
  keepaliveSeconds: number;
  status: TrunkStatus;
}

export type Destination = { type: 'extension' | 'queue'; number: number } | { type: 'hangup' };

export interface PhoneNumber {
  id: string;
  number: string;
  trunkId: string | null;
  destination: Destination;
  description: string | null;
}

export interface OutboundRoute {
  id: string;
  name: string;
  priority: number;
  patterns: string[];
  strip: number;
  prepend: string;
  trunkIds: string[];
  callerId: string | null;
  withholdCallerId: boolean;
}

export const NUMBER_CLASSES = ['emergency', 'internal', 'tollfree', 'national', 'mobile', 'international', 'premium'] as const;
export type NumberClass = (typeof NUMBER_CLASSES)[number];

export interface DialPolicy {
  country: string;
  emergencyNumbers: string[];
  maxExternalCalls: number;
  classes: Record<Role, NumberClass[]>;
}

/** The light's word for each state the engine reports; an unexpected state is shown as it comes. */
export const STATE_TEXT: Record<TrunkState, string> = {
  up: 'Up',
  down: 'Down',
  registered: 'Registered',
  registering: 'Registering',
  failed: 'Registration failed',
  disabled: 'Disabled',
  unknown: 'Unknown',
};

export const NUMBER_FORMATS: Array<{ value: string; label: string }> = [
  { value: 'e164', label: 'E.164 with + (+14155550100)' },
  { value: 'e164-no-plus', label: 'E.164 without + (14155550100)' },
  { value: 'national', label: "National (4155550100, as dialled in the trunk's country)" },
];

export const DIALLED_NUMBER_HEADERS: Array<{ value: string; label: string }> = [
  { value: 'request-uri', label: 'Request-URI (most carriers)' },
  { value: 'to', label: 'To header' },
  { value: 'diversion', label: 'Diversion or History-Info header' },
];

export const DTMF_MODES: Array<{ value: string; label: string }> = [
  { value: 'rfc4733', label: 'RFC 4733 telephone-events (most carriers)' },
  { value: 'info', label: 'SIP INFO' },
  { value: 'inband', label: 'In-band (tones in the audio)' },
];

export const CLASS_TEXT: Record<NumberClass, string> = {
  emergency: 'emergency',
  internal: 'internal',
  tollfree: 'toll-free',
  national: 'national',
  mobile: 'mobile',
  international: 'international',
  premium: 'premium rate',
};

export const labelOf = (options: Array<{ value: string; label: string }>, value: string) => options.find((o) => o.value === value)?.label ?? value;

// An operator plugging a carrier in watches the light: a few seconds, not the engine's 30 s between keepalives.
const TRUNK_REFRESH_MS = 3000;

/** `live`: asked again every few seconds, for the state lights; the other tabs only need the names. */
export const useTrunks = (live = false) =>
  useQuery({ queryKey: ['trunks'], queryFn: () => get<{ trunks: Trunk[] }>('/api/pbx/trunks').then((r) => r.trunks), refetchInterval: live ? TRUNK_REFRESH_MS : false });
export const usePhoneNumbers = () => useQuery({ queryKey: ['phone-numbers'], queryFn: () => get<{ numbers: PhoneNumber[] }>('/api/pbx/numbers').then((r) => r.numbers) });
export const useOutboundRoutes = () => useQuery({ queryKey: ['outbound-routes'], queryFn: () => get<{ routes: OutboundRoute[] }>('/api/pbx/outbound-routes').then((r) => r.routes) });
/** The dial policy is an administrator's only: the server refuses it to managers, so they do not ask. */
export const useDialPolicy = (enabled: boolean) => useQuery({ queryKey: ['dial-policy'], queryFn: () => get<DialPolicy>('/api/pbx/dial-policy'), enabled });
// The same keys and shapes as the Users and Queues pages, which share this cache.
export const useUsers = () => useQuery({ queryKey: ['users'], queryFn: () => get<{ users: UserRow[] }>('/api/users') });
export const useQueues = () => useQuery({ queryKey: ['queues'], queryFn: () => get<{ queues: QueueRow[] }>('/api/pbx/queues') });

/** "Line 3", "Server 2": people count from one, the server's field names from zero. */
export const ordinal = (index: number) => index + 1;

/** Text with one item a line (or separated by commas) as a list, blanks dropped. */
export function linesOf(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** An optional whole number typed in a field: empty is left out, so the server's default applies. */
export function optionalInt(text: string): number | undefined {
  return text.trim() === '' ? undefined : Number(text);
}

export const optionalText = (text: string): string | null => (text.trim() === '' ? null : text.trim());
