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

export class AuditService {
  constructor(private readonly db: Db) {}

  async record(entry: AuditEntryInput): Promise<void> {
    await this.db.insert(auditLog).values({
      tenantId: entry.tenantId,
      actorId: entry.actorId,
      actorLabel: entry.actorLabel,
      action: entry.action,
      targetType: entry.targetType ?? null,
      targetId: entry.targetId ?? null,
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
