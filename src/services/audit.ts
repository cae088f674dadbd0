/**
 * The audit trail of admin actions (README "Audit trail"). Entries are
 * written by the admin API's audit hook (src/http/admin/audit.ts) before the
 * response is sent, and kept AUDIT_RETENTION_DAYS.
 */
import * as repo from '../db/audit.js';
import type { AuditEntry, StoredAuditEntry } from '../db/audit.js';
import type { Db } from '../db/index.js';
import { untilNone } from './request-log.js';
import { pageLimit, pageOf, parseTimelineCursor, timeRange, timelineCursor, type PageQuery } from './timeline.js';

export type { AuditEntry, StoredAuditEntry } from '../db/audit.js';

export class AuditService {
  constructor(
    private readonly db: Db,
    private readonly opts: { retentionDays: number },
  ) {}

  record(entry: AuditEntry): Promise<void> {
    return repo.insertAudit(this.db, entry);
  }

  /** A page, newest first: every tenant's entries, or one tenant's (which outlive the tenant). */
  async list(q: PageQuery & { tenantId?: string | undefined; action?: string | undefined }): Promise<{ items: StoredAuditEntry[]; next: string | null }> {
    const limit = pageLimit(q.limit);
    const rows = await repo.listAudit(this.db, { tenantId: q.tenantId, action: q.action, before: parseTimelineCursor(q.cursor), ...timeRange(q), limit: limit + 1 });
    return pageOf(rows, limit, timelineCursor);
  }

  prune(): Promise<number> {
    return untilNone(() => repo.pruneAudit(this.db, this.opts.retentionDays));
  }
}
