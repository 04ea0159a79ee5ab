/**
 * Failed logins, counted so that guessing is slowed without letting a guesser lock the owner out. Three counts,
 * each over the same sliding window:
 *
 * | counted per              | refused after                | then                                                   |
 * | ------------------------ | ---------------------------- | ------------------------------------------------------ |
 * | (account, address) pair  | `limit` failures             | that pair waits until its oldest failure leaves the window |
 * | address, any account     | `limit × addressFactor`      | that address waits the same way (it is spraying accounts) |
 * | account, any address     | never; slowed after `limit`  | one attempt per delay: `firstDelayMs`, doubling with each further failure up to `maxDelayMs` |
 *
 * An account is therefore never locked: a guesser spread over many addresses gets one try per few seconds, and the
 * owner waits at most `maxDelayMs`. From an address the account logged in from successfully within `trustMs` (a
 * usual address) the account's delay does not apply at all, so an attack from elsewhere costs the owner nothing
 * there.
 *
 * An attempt counts as failed from the moment it is admitted, and a success takes its count back: requests sent
 * in parallel see each other, and cannot all slip past a limit while their passwords are being checked.
 * Memory is bounded: at most `maxKeys` counts and as many usual addresses are kept, the least recent going first.
 */

export interface LoginThrottleOptions {
  /** Failures allowed per (account, address) pair within the window; also the account's free failures. */
  limit: number;
  windowMs: number;
  /** An address may fail this many times the pair limit across all accounts. */
  addressFactor?: number;
  /** The account-wide delay once it has seen `limit` failures: this, doubling with each further failure. */
  firstDelayMs?: number;
  maxDelayMs?: number;
  /** How long an address that logged in successfully stays its account's usual address. */
  trustMs?: number;
  maxKeys?: number;
  now?: () => number;
}

/** Which count refused an attempt. */
export type ThrottleReason = 'pair' | 'address' | 'account';

export type Admission =
  | { admitted: true; /** The password was right: take the attempt's count back and trust the address. */ succeeded(): void }
  | { admitted: false; reason: ThrottleReason; /** Whole seconds until an attempt may be admitted. */ retryAfter: number };

export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();
  private readonly usual = new Map<string, number>();
  private readonly limit: number;
  private readonly windowMs: number;
  private readonly addressLimit: number;
  private readonly firstDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly trustMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(options: LoginThrottleOptions) {
    this.limit = options.limit;
    this.windowMs = options.windowMs;
    this.addressLimit = options.limit * (options.addressFactor ?? 3);
    this.firstDelayMs = options.firstDelayMs ?? 1000;
    this.maxDelayMs = options.maxDelayMs ?? 8000;
    this.trustMs = options.trustMs ?? 30 * 24 * 3600_000;
    this.maxKeys = options.maxKeys ?? 100_000;
    // Read at each call, not captured: a clock set later (a test's) is the one asked.
    this.now = options.now ?? (() => Date.now());
  }

  /**
   * Admits an attempt on `account` from `address` (and counts it as failed until it succeeds), or says which count
   * refuses it and for how long.
   */
  admit(account: string, address: string): Admission {
    const now = this.now();
    const keys = { pair: `pair:${account}|${address}`, address: `ip:${address}`, account: `acct:${account}` };
    const pair = this.recent(keys.pair, now);
    if (pair.length >= this.limit) return this.refuse('pair', (pair[0] as number) + this.windowMs - now);
    const byAddress = this.recent(keys.address, now);
    if (byAddress.length >= this.addressLimit) return this.refuse('address', (byAddress[0] as number) + this.windowMs - now);
    const byAccount = this.recent(keys.account, now);
    if (!this.isUsual(keys.pair, now)) {
      const last = byAccount[byAccount.length - 1];
      const wait = last === undefined ? 0 : last + this.accountDelay(byAccount.length) - now;
      if (wait > 0) return this.refuse('account', wait);
    }
    this.count(keys.pair, now, this.limit);
    this.count(keys.address, now, this.addressLimit);
    // The delay needs only the count up to where it stops growing, and the latest time.
    this.count(keys.account, now, this.limit + 32);
    return {
      admitted: true,
      succeeded: () => {
        this.failures.delete(keys.pair);
        this.uncount(keys.address, now);
        this.uncount(keys.account, now);
        this.usual.delete(keys.pair); // re-insert: the map's order is least recently trusted first
        this.usual.set(keys.pair, now);
        this.bound(this.usual);
      },
    };
  }

  /** The least interval between attempts on an account that has seen `failures` failures in the window. */
  accountDelay(failures: number): number {
    if (failures < this.limit) return 0;
    return Math.min(this.firstDelayMs * 2 ** Math.min(failures - this.limit, 30), this.maxDelayMs);
  }

  private refuse(reason: ThrottleReason, waitMs: number): Admission {
    return { admitted: false, reason, retryAfter: Math.max(1, Math.ceil(waitMs / 1000)) };
  }

  private isUsual(pairKey: string, now: number): boolean {
    const since = this.usual.get(pairKey);
    if (since === undefined) return false;
    if (since > now - this.trustMs) return true;
    this.usual.delete(pairKey);
    return false;
  }

  private count(key: string, now: number, keep: number): void {
    const times = this.recent(key, now);
    times.push(now);
    if (times.length > keep) times.splice(0, times.length - keep);
    this.failures.delete(key); // re-insert: the map's order is least recently failed first
    this.failures.set(key, times);
    this.bound(this.failures);
  }

  private uncount(key: string, at: number): void {
    const times = this.failures.get(key);
    const i = times ? times.lastIndexOf(at) : -1;
    if (!times || i < 0) return;
    times.splice(i, 1);
    if (times.length === 0) this.failures.delete(key);
  }

  private bound(map: Map<string, unknown>): void {
    while (map.size > this.maxKeys) map.delete(map.keys().next().value as string);
  }

  private recent(key: string, now: number): number[] {
    const times = this.failures.get(key);
    if (!times) return [];
    const fresh = times.filter((t) => t > now - this.windowMs);
    if (fresh.length === 0) this.failures.delete(key);
    else if (fresh.length !== times.length) this.failures.set(key, fresh);
    return fresh;
  }
}
