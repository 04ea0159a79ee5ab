/**
 * Keeps password guessers and scanners off the registrar. An address that fails authentication `maxFailures`
 * times within `windowMs` is banned for `banMs`: it gets one 403 and is then ignored until the ban ends. Memory is
 * bounded whatever the number of addresses.
 */
export interface AbuseGuardOptions {
  maxFailures: number;
  windowMs: number;
  banMs: number;
  maxTracked?: number;
  now?: () => number;
}

export class AbuseGuard {
  private readonly failures = new Map<string, number[]>();
  private readonly bans = new Map<string, { until: number; told: boolean }>();
  private readonly now: () => number;

  constructor(private readonly options: AbuseGuardOptions) {
    this.now = options.now ?? Date.now;
  }

  /** 'ok', 'refuse' (answer 403 once) or 'ignore' (drop silently). */
  check(address: string): 'ok' | 'refuse' | 'ignore' {
    const ban = this.bans.get(address);
    if (!ban) return 'ok';
    if (ban.until <= this.now()) {
      this.bans.delete(address);
      return 'ok';
    }
    if (ban.told) return 'ignore';
    ban.told = true;
    return 'refuse';
  }

  fail(address: string): void {
    const now = this.now();
    const recent = (this.failures.get(address) ?? []).filter((t) => t > now - this.options.windowMs);
    recent.push(now);
    this.failures.delete(address);
    if (recent.length >= this.options.maxFailures) {
      this.bans.set(address, { until: now + this.options.banMs, told: false });
    } else {
      this.failures.set(address, recent);
    }
    const max = this.options.maxTracked ?? 100_000;
    while (this.failures.size > max) this.failures.delete(this.failures.keys().next().value as string);
    while (this.bans.size > max) this.bans.delete(this.bans.keys().next().value as string);
  }

  isBanned(address: string): boolean {
    const ban = this.bans.get(address);
    return ban !== undefined && ban.until > this.now();
  }
}
