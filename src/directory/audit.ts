/**
 * The audit trail: who did what to which target in which tenant, and how it ended. The API writes a row for every
 * change it is asked to make, refused or not, and for every login to a known account.
 */
import { and, count, desc, eq } from 'drizzle-orm';
import { auditLog, type Db } from '../db/index.ts';

export interface AuditEntryInput {
  tenantId: string;
  actorId: string | null;
  actorLabel: string;
  action: string;
  targetType?: string | null;
  targetId?: string | null;
  outcome: 'success' | 'failure';
  statusCode: number;
  errorCode?: string | null;
  ip?: string | null;
  requestId?: string | null;
  details?: Record<string, unknown> | null;
}

export type AuditEntry = typeof auditLog.$inferSelect;

/**
 * PostgreSQL text cannot hold U+0000, and a refused request's raw path id may (`/api/users/a%00b`): it is written
 * out as `\u0000` so that the refusal's row is not lost with it.
 */
function storable(text: string): string;
function storable(text: string | null | undefined): string | null;
function storable(text: string | null | undefined): string | null {
  return text === null || text === undefined ? null : text.replaceAll('\u0000', '\\u0000');
}

export class AuditService {
  constructor(private readonly db: Db) {}

  async record(entry: AuditEntryInput): Promise<void> {
    await this.db.insert(auditLog).values({
      tenantId: entry.tenantId,
      actorId: entry.actorId,
      actorLabel: storable(entry.actorLabel),
      action: entry.action,
      targetType: storable(entry.targetType),
      targetId: storable(entry.targetId),
      outcome: entry.outcome,
      statusCode: entry.statusCode,
      errorCode: entry.errorCode ?? null,
      ip: entry.ip ?? null,
      requestId: entry.requestId ?? null,
      details: entry.details ?? null,
    });
  }

  /** Newest first. */
  async list(tenantId: string, page: { limit: number; offset: number; action?: string }): Promise<{ entries: AuditEntry[]; total: number }> {
    const where = page.action ? and(eq(auditLog.tenantId, tenantId), eq(auditLog.action, page.action)) : eq(auditLog.tenantId, tenantId);
    const [entries, totals] = await Promise.all([
      this.db.select().from(auditLog).where(where).orderBy(desc(auditLog.createdAt), desc(auditLog.id)).limit(page.limit).offset(page.offset),
      this.db.select({ total: count() }).from(auditLog).where(where),
    ]);
    return { entries, total: Number(totals[0]?.total ?? 0) };
  }
}
