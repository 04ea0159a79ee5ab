/**
 * The engine's view of carriers ({@link CarrierDirectory}), held in memory: every trunk (its password opened),
 * phone number and outbound route is read at start, and a tenant's are read again whenever one of them changes
 * (`trunk.changed`, `phone-number.changed`, `outbound-route.changed`). Lookups are on the path of every call and
 * never wait for the database; only the dial policy, asked once per outbound call, is read from it.
 *
 * The change events are this process's own: a second process sharing the database would not hear of another's
 * changes. One process per database is what runs today; several would carry the events over Redis, as the
 * architecture plans for the rest of the bus.
 */
import net from 'node:net';
import { asc, eq } from 'drizzle-orm';
import { type Db, outboundRoutes, phoneNumbers, trunks } from '../../db/index.ts';
import type { PbxEventBus } from '../../events/index.ts';
import type { CarrierDirectory, DialPolicy, OutboundRoute, PhoneNumber, Trunk } from '../../telephony/trunks/types.ts';
import { addToList, type HostResolver, normaliseSource } from './checks.ts';
import type { DialPolicyService } from './dial-policy.ts';
import { routeOrder } from './outbound-routes.ts';
import { toPhoneNumber } from './phone-numbers.ts';
import type { SecretBox } from './secret-box.ts';
import { toEngineTrunk, type TrunkRow } from './trunks.ts';

/** A trunk with the addresses its calls may come from, as two lists: the ones configured, and its servers' resolved. */
interface KnownTrunk {
  trunk: Trunk;
  createdAt: number;
  allowed: net.BlockList;
  servers: net.BlockList;
}

interface TenantCarriers {
  trunks: KnownTrunk[];
  numbers: PhoneNumber[];
  routes: OutboundRoute[];
}

export interface CarrierCacheOptions {
  /** Where a trunk whose password cannot be opened, or a server host that does not resolve, is reported. */
  onError?: (err: unknown, context: string) => void;
}

export class CarrierCache implements CarrierDirectory {
  private readonly tenants = new Map<string, TenantCarriers>();
  private readonly byNumber = new Map<string, PhoneNumber>();
  private readonly listeners = new Set<() => void>();
  /** Each tenant's reloads one after the other, so a slower earlier read never overwrites a later one. */
  private readonly reloads = new Map<string, Promise<void>>();
  /** The start's read: a reload asked for meanwhile waits for it, or the start would install older rows over it. */
  private loading: Promise<unknown> = Promise.resolve();
  /** Every tenant's enabled trunks, oldest first: the order `trunkByAddress` tries them in. */
  private enabled: KnownTrunk[] = [];
  private unsubscribe: Array<() => void> = [];
  private closed = false;

  constructor(
    private readonly db: Db,
    private readonly bus: PbxEventBus,
    private readonly box: SecretBox,
    private readonly resolve: HostResolver,
    private readonly policies: DialPolicyService,
    private readonly options: CarrierCacheOptions = {},
  ) {}

  /** Reads every tenant's carriers and starts following their changes. Called once, at start. */
  async load(): Promise<void> {
    const loading = this.readAll();
    this.loading = loading.catch(() => undefined);
    if (this.unsubscribe.length === 0) {
      this.unsubscribe = [
        this.bus.on('trunk.changed', (e) => this.reload(e.tenantId, true)),
        this.bus.on('phone-number.changed', (e) => this.reload(e.tenantId, false)),
        this.bus.on('outbound-route.changed', (e) => this.reload(e.tenantId, false)),
      ];
    }
    await loading;
  }

  private async readAll(): Promise<void> {
    const [trunkRows, numberRows, routeRows] = await Promise.all([
      this.db.select().from(trunks).orderBy(asc(trunks.createdAt)),
      this.db.select().from(phoneNumbers),
      this.db.select().from(outboundRoutes).orderBy(...routeOrder),
    ]);
    const tenantIds = new Set([...trunkRows, ...numberRows, ...routeRows].map((r) => r.tenantId));
    await Promise.all(
      [...tenantIds].map(async (tenantId) =>
        this.install(tenantId, {
          trunks: await this.known(trunkRows.filter((r) => r.tenantId === tenantId)),
          numbers: numberRows.filter((r) => r.tenantId === tenantId).map(engineNumber),
          routes: routeRows.filter((r) => r.tenantId === tenantId).map(engineRoute),
        }),
      ),
    );
  }

  /** Stops following changes; lookups answer what was last read. */
  close(): void {
    this.closed = true;
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
  }

  /** Resolves once every reload asked for so far has been applied (tests, and a caller that just made a change). */
  async idle(): Promise<void> {
    while (this.reloads.size > 0) await Promise.all([...this.reloads.values()]);
  }

  trunks(): Trunk[] {
    return this.enabled.map((k) => k.trunk);
  }

  /** The tenant's trunk, enabled or not (a route may still name a disabled one: the engine skips it). */
  trunk(tenantId: string, trunkId: string): Trunk | undefined {
    return this.tenants.get(tenantId)?.trunks.find((k) => k.trunk.id === trunkId)?.trunk;
  }

  /**
   * The enabled trunk an INVITE from `address` comes from. An address a trunk's allow list names explicitly wins
   * over one a registration trunk's server name resolved to; among equals, the oldest trunk. Two tenants using the
   * same carrier share its addresses: the caller tells their calls apart by the dialled number.
   */
  trunkByAddress(address: string): Trunk | undefined {
    const source = normaliseSource(address);
    if (!source) return undefined;
    const enabled = this.enabled;
    return (
      enabled.find((k) => k.allowed.check(source.address, source.type))?.trunk ??
      enabled.find((k) => k.trunk.auth === 'registration' && k.servers.check(source.address, source.type))?.trunk
    );
  }

  phoneNumber(e164: string): PhoneNumber | undefined {
    return this.byNumber.get(e164);
  }

  outboundRoutes(tenantId: string): OutboundRoute[] {
    return [...(this.tenants.get(tenantId)?.routes ?? [])];
  }

  dialPolicy(tenantId: string, extensionId: string | undefined): Promise<DialPolicy> {
    return this.policies.forExtension(tenantId, extensionId);
  }

  onTrunksChanged(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private reload(tenantId: string, trunksChanged: boolean): Promise<void> {
    const previous = this.reloads.get(tenantId) ?? this.loading;
    const next = previous
      .then(() => this.read(tenantId))
      .then(() => {
        if (trunksChanged) this.tellTrunksChanged();
      })
      .catch((err: unknown) => this.report(err, `carriers:reload of tenant ${tenantId} failed`))
      .finally(() => {
        if (this.reloads.get(tenantId) === next) this.reloads.delete(tenantId);
      });
    this.reloads.set(tenantId, next);
    return next;
  }

  private async read(tenantId: string): Promise<void> {
    if (this.closed) return;
    const [trunkRows, numberRows, routeRows] = await Promise.all([
      this.db.select().from(trunks).where(eq(trunks.tenantId, tenantId)).orderBy(asc(trunks.createdAt)),
      this.db.select().from(phoneNumbers).where(eq(phoneNumbers.tenantId, tenantId)),
      this.db.select().from(outboundRoutes).where(eq(outboundRoutes.tenantId, tenantId)).orderBy(...routeOrder),
    ]);
    const known = await this.known(trunkRows);
    if (this.closed) return;
    this.install(tenantId, { trunks: known, numbers: numberRows.map(engineNumber), routes: routeRows.map(engineRoute) });
  }

  /** Replaces the tenant's carriers in one step: a lookup sees the old set or the new one, never half of each. */
  private install(tenantId: string, carriers: TenantCarriers): void {
    const old = this.tenants.get(tenantId);
    for (const n of old?.numbers ?? []) if (this.byNumber.get(n.number)?.tenantId === tenantId) this.byNumber.delete(n.number);
    for (const n of carriers.numbers) this.byNumber.set(n.number, n);
    if (carriers.trunks.length + carriers.numbers.length + carriers.routes.length === 0) this.tenants.delete(tenantId);
    else this.tenants.set(tenantId, carriers);
    this.enabled = [...this.tenants.values()].flatMap((t) => t.trunks.filter((k) => k.trunk.enabled)).sort((a, b) => a.createdAt - b.createdAt);
  }

  private async known(rows: TrunkRow[]): Promise<KnownTrunk[]> {
    return Promise.all(
      rows.map(async (row) => {
        let trunk: Trunk;
        try {
          trunk = toEngineTrunk(row, this.box);
        } catch (err) {
          // A password sealed under a key we no longer hold: the trunk stays usable for what needs no password.
          this.report(err, `carriers:the password of trunk ${row.id} cannot be opened`);
          trunk = toEngineTrunk({ ...row, passwordSealed: null }, this.box);
        }
        const allowed = new net.BlockList();
        for (const a of trunk.allowedAddresses) addToList(allowed, a);
        const servers = new net.BlockList();
        if (trunk.auth === 'registration' && trunk.enabled) {
          for (const address of await this.addressesOf(trunk)) addToList(servers, address);
        }
        return { trunk, createdAt: row.createdAt.getTime(), allowed, servers };
      }),
    );
  }

  /**
   * The addresses a registration trunk's servers resolve to now (A and AAAA through the system's resolver; SRV
   * and NAPTR are not followed). They are read again only when the tenant's carriers change.
   */
  private async addressesOf(trunk: Trunk): Promise<string[]> {
    const found = await Promise.all(
      trunk.servers.map(async (s) => {
        if (net.isIP(s.host)) return [s.host];
        try {
          return await this.resolve(s.host);
        } catch (err) {
          this.report(err, `carriers:server ${s.host} of trunk ${trunk.id} does not resolve`);
          return [];
        }
      }),
    );
    return found.flat();
  }

  private tellTrunksChanged(): void {
    for (const listener of [...this.listeners]) {
      try {
        listener();
      } catch (err) {
        this.report(err, 'carriers:a trunks-changed listener failed');
      }
    }
  }

  private report(err: unknown, context: string): void {
    this.options.onError?.(err, context);
  }
}

function engineNumber(row: typeof phoneNumbers.$inferSelect): PhoneNumber {
  const { createdAt: _createdAt, updatedAt: _updatedAt, ...number } = toPhoneNumber(row);
  return number;
}

function engineRoute(row: typeof outboundRoutes.$inferSelect): OutboundRoute {
  const { createdAt: _createdAt, updatedAt: _updatedAt, ...route } = row;
  return route;
}
