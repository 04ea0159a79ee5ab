/**
 * Carriers in the directory: the services that store and check trunks, phone numbers, outbound routes and the dial
 * policy, and the cache the engine reads them from (`src/telephony/trunks/types.ts` `CarrierDirectory`).
 * `createCarriers` wires them over one database and event bus; the cache must be loaded (`cache.load()`) before the
 * engine asks it anything: the process does it when it opens its core.
 */
import type { Db } from '../../db/index.ts';
import type { PbxEventBus } from '../../events/index.ts';
import { CarrierCache } from './carrier-cache.ts';
import { type HostResolver, systemResolver } from './checks.ts';
import { DialPolicyService } from './dial-policy.ts';
import { OutboundRouteService } from './outbound-routes.ts';
import { PhoneNumberService } from './phone-numbers.ts';
import type { SecretBox } from './secret-box.ts';
import { TrunkService } from './trunks.ts';

export { CarrierCache, type CarrierCacheOptions } from './carrier-cache.ts';
export { type HostResolver, RESOLVE_TIMEOUT_MS, systemResolver } from './checks.ts';
export { checkDialClasses, dialClassesOf, DialPolicyService, type TenantDialPolicy, type TenantDialPolicyPatch, UNATTRIBUTED_ROLE } from './dial-policy.ts';
export { OutboundRouteService, type OutboundRouteInput, type OutboundRoutePatch, type OutboundRouteRecord } from './outbound-routes.ts';
export { PhoneNumberService, type PhoneNumberInput, type PhoneNumberPatch, type PhoneNumberRecord } from './phone-numbers.ts';
export { SecretBox } from './secret-box.ts';
export { MAX_TRUNK_SERVERS, TrunkService, type TrunkInput, type TrunkPatch, type TrunkRecord, type TrunkServerInput } from './trunks.ts';

export interface Carriers {
  trunks: TrunkService;
  numbers: PhoneNumberService;
  routes: OutboundRouteService;
  dialPolicy: DialPolicyService;
  /** The engine's view; load it once at start. */
  cache: CarrierCache;
}

export interface CarriersOptions {
  /** Seals trunk passwords. */
  box: SecretBox;
  /** Looks up trunk server hosts; default the system's resolver with a 3-second timeout. */
  resolveHost?: HostResolver;
  onError?: (err: unknown, context: string) => void;
}

export function createCarriers(db: Db, bus: PbxEventBus, options: CarriersOptions): Carriers {
  const resolve = options.resolveHost ?? systemResolver();
  const dialPolicy = new DialPolicyService(db);
  // For as long as the bus runs, as the directory's other listeners.
  dialPolicy.subscribe(bus);
  return {
    trunks: new TrunkService(db, bus, options.box, resolve),
    numbers: new PhoneNumberService(db, bus),
    routes: new OutboundRouteService(db, bus),
    dialPolicy,
    cache: new CarrierCache(db, bus, options.box, resolve, dialPolicy, options.onError ? { onError: options.onError } : {}),
  };
}
