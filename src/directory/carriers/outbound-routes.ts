/**
 * Outbound routes: which dialled numbers leave the building by which trunks. A route matches by dial patterns in
 * the syntax Asterisk made familiar (`_NXXNXXXXXX`, `_011.`, `911`), rewrites the number (strip, then prepend),
 * and names its trunks in the order they are tried. The engine takes the tenant's routes lower priority first.
 */
import { and, asc, eq, max } from 'drizzle-orm';
import { type Db, outboundRoutes } from '../../db/index.ts';
import { PbxError } from '../../errors/index.ts';
import type { PbxEventBus } from '../../events/index.ts';
import { parsePattern, PatternError } from '../../telephony/trunks/dial-plan.ts';
import type { OutboundRoute } from '../../telephony/trunks/types.ts';
import { callerIdOf, checkTrunksExist, invalid, tenantCountry } from './checks.ts';

export interface OutboundRouteInput {
  name: string;
  /** Lower first; left out: after the tenant's last route. */
  priority?: number;
  patterns: string[];
  strip?: number;
  prepend?: string;
  trunkIds: string[];
  callerId?: string | null;
  withholdCallerId?: boolean;
}

export type OutboundRoutePatch = Partial<OutboundRouteInput>;

export interface OutboundRouteRecord extends OutboundRoute {
  createdAt: Date;
  updatedAt: Date;
}

type RouteRow = typeof outboundRoutes.$inferSelect;

/** The gap left between routes given no priority, so one can be put between two later without renumbering. */
const PRIORITY_STEP = 10;
const PREPEND = /^[0-9*#+]{0,32}$/;

export const routeOrder = [asc(outboundRoutes.priority), asc(outboundRoutes.name), asc(outboundRoutes.createdAt)];

export function toOutboundRoute(row: RouteRow): OutboundRouteRecord {
  return { ...row };
}

export class OutboundRouteService {
  constructor(
    private readonly db: Db,
    private readonly bus: PbxEventBus,
  ) {}

  async create(tenantId: string, input: OutboundRouteInput): Promise<OutboundRouteRecord> {
    const values = await this.settle(tenantId, input);
    const row = await this.db.transaction(async (tx) => {
      await checkTrunksExist(tx, tenantId, values.trunkIds.map((id, i) => ({ id, field: `trunkIds.${i}` })), true);
      let priority = input.priority;
      if (priority === undefined) {
        const [last] = await tx.select({ top: max(outboundRoutes.priority) }).from(outboundRoutes).where(eq(outboundRoutes.tenantId, tenantId));
        priority = (last?.top ?? 0) + PRIORITY_STEP;
      }
      const [inserted] = await tx.insert(outboundRoutes).values({ ...values, priority, tenantId }).returning();
      return inserted as RouteRow;
    });
    this.bus.emit('outbound-route.changed', { tenantId, routeId: row.id, change: 'created' });
    return toOutboundRoute(row);
  }

  /** The tenant's routes, lower priority first (then by name). */
  async list(tenantId: string): Promise<OutboundRouteRecord[]> {
    const rows = await this.db.select().from(outboundRoutes).where(eq(outboundRoutes.tenantId, tenantId)).orderBy(...routeOrder);
    return rows.map(toOutboundRoute);
  }

  async get(tenantId: string, id: string): Promise<OutboundRouteRecord> {
    return toOutboundRoute(await this.row(tenantId, id));
  }

  async update(tenantId: string, id: string, patch: OutboundRoutePatch): Promise<OutboundRouteRecord> {
    const current = await this.row(tenantId, id);
    const values = await this.settle(tenantId, {
      name: patch.name ?? current.name,
      priority: patch.priority ?? current.priority,
      patterns: patch.patterns ?? current.patterns,
      strip: patch.strip ?? current.strip,
      prepend: patch.prepend ?? current.prepend,
      trunkIds: patch.trunkIds ?? current.trunkIds,
      callerId: patch.callerId === undefined ? current.callerId : patch.callerId,
      withholdCallerId: patch.withholdCallerId ?? current.withholdCallerId,
    });
    const row = await this.db.transaction(async (tx) => {
      if (patch.trunkIds !== undefined) await checkTrunksExist(tx, tenantId, values.trunkIds.map((tid, i) => ({ id: tid, field: `trunkIds.${i}` })), true);
      const [updated] = await tx
        .update(outboundRoutes)
        .set({ ...values, priority: patch.priority ?? current.priority, updatedAt: new Date() })
        .where(and(eq(outboundRoutes.tenantId, tenantId), eq(outboundRoutes.id, id)))
        .returning();
      return updated;
    });
    if (!row) throw new PbxError('PBX_ERR_ROUTE_NOT_FOUND');
    this.bus.emit('outbound-route.changed', { tenantId, routeId: id, change: 'updated' });
    return toOutboundRoute(row);
  }

  async delete(tenantId: string, id: string): Promise<OutboundRouteRecord> {
    const [row] = await this.db.delete(outboundRoutes).where(and(eq(outboundRoutes.tenantId, tenantId), eq(outboundRoutes.id, id))).returning();
    if (!row) throw new PbxError('PBX_ERR_ROUTE_NOT_FOUND');
    this.bus.emit('outbound-route.changed', { tenantId, routeId: id, change: 'deleted' });
    return toOutboundRoute(row);
  }

  private async row(tenantId: string, id: string): Promise<RouteRow> {
    const [row] = await this.db.select().from(outboundRoutes).where(and(eq(outboundRoutes.tenantId, tenantId), eq(outboundRoutes.id, id))).limit(1);
    if (!row) throw new PbxError('PBX_ERR_ROUTE_NOT_FOUND');
    return row;
  }

  /** Checks everything but the trunks' existence (done in the write's transaction) and answers the values to store. */
  private async settle(tenantId: string, input: OutboundRouteInput): Promise<Omit<OutboundRoute, 'id' | 'tenantId' | 'priority'>> {
    const name = input.name.trim();
    if (!name) throw invalid('name', 'must not be empty');
    if (input.priority !== undefined && (!Number.isInteger(input.priority) || input.priority < 0 || input.priority > 1_000_000)) {
      throw invalid('priority', 'must be a whole number from 0 to 1000000');
    }
    if (input.patterns.length === 0) throw invalid('patterns', 'must list at least one pattern');
    const patterns = input.patterns.map((p, i) => {
      const source = p.trim();
      try {
        parsePattern(source);
      } catch (err) {
        if (err instanceof PatternError) throw invalid(`patterns.${i}`, err.message);
        throw err;
      }
      return source;
    });
    const strip = input.strip ?? 0;
    if (!Number.isInteger(strip) || strip < 0 || strip > 32) throw invalid('strip', 'must be a whole number from 0 to 32');
    const prepend = input.prepend ?? '';
    if (!PREPEND.test(prepend)) throw invalid('prepend', 'must be digits, *, # or + (at most 32)');
    if (input.trunkIds.length === 0) throw invalid('trunkIds', 'must name at least one trunk');
    const seen = new Set<string>();
    input.trunkIds.forEach((id, i) => {
      if (seen.has(id)) throw invalid(`trunkIds.${i}`, 'names a trunk already in the list');
      seen.add(id);
    });
    const callerId = input.callerId === undefined || input.callerId === null ? null : callerIdOf('callerId', input.callerId, await tenantCountry(this.db, tenantId));
    return { name, patterns, strip, prepend, trunkIds: [...input.trunkIds], callerId, withholdCallerId: input.withholdCallerId ?? false };
  }
}
