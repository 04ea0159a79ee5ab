/**
 * What the call manager routes calls with: the directory of extensions it asks, and the router that takes the
 * numbers that are no extension (numbers a router answers for, such as the contact center's).
 */
import type { Call } from './call.ts';

export interface CallDirectory {
  /** The tenant's SIP domain. */
  domainOf(tenantId: string): Promise<string | undefined>;
  findExtension(tenantId: string, number: number): Promise<{ extensionId: string; number: number; ringTimeout: number; isActive: boolean } | undefined>;
  /** The longest a call of the tenant may last, in seconds (0: no limit); none when the directory does not say. */
  maxCallSecondsOf?(tenantId: string): Promise<number>;
}

/**
 * Takes calls to numbers that are no extension (numbers a router answers for, such as the contact center's). `claim` answers whether it takes the
 * number; if so, the call is created routed (its caller hears ringback) and handed to `take`, which rings parties
 * round after round with {@link Call.ring} and lets the caller go with {@link Call.giveUp}.
 */
export interface CallRouter {
  claim(tenantId: string, number: number): Promise<((call: Call) => void) | undefined>;
}
