/**
 * The audit trail of admin actions (migration 0005_visibility), newest
 * first, pruned by age.
 */
import { sql } from 'kysely';
import type { Actor } from '../services/actor.js';
import type { Db } from './index.js';
import { dateOf, timelineOrder, timelineWhere, type TimelinePosition, type TimeRange } from './timeline.js';

export interface AuditEntry {
  at: Date;
  /** The tenant the action concerned, if any. */
  tenantId: string | null;
  actor: Actor;
  action: string;
  targetType: string;
  targetId: string | null;
  requestId: string | null;
  details: Record<string, unknown>;
}

export interface StoredAuditEntry extends AuditEntry {
  id: string;
}

export interface AuditQuery extends TimeRange {
  /** Only this tenant's entries; undefined: all. */
  tenantId?: string | undefined;
  action?: string | undefined;
  before?: TimelinePosition | undefined;
  limit: number;
}

export async function insertAudit(db: Db, e: AuditEntry): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      at: e.at,
      tenant_id: e.tenantId,
      actor: JSON.stringify(e.actor),
      action: e.action,
      target_type: e.targetType,
      target_id: e.targetId,
      request_id: e.requestId,
      details: JSON.stringify(e.details),
    })
    .execute();
}

interface Row {
  id: unknown;
  at: unknown;
  tenant_id: string | null;
  actor: unknown;
  action: string;
  target_type: string;
  target_id: string | null;
  request_id: string | null;
  details: unknown;
}

const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

export async function listAudit(db: Db, q: AuditQuery): Promise<StoredAuditEntry[]> {
  const tenant = q.tenantId !== undefined ? sql`and a.tenant_id = ${q.tenantId}` : sql``;
  const action = q.action !== undefined ? sql`and a.action = ${q.action}` : sql``;
  const r = await sql<Row>`
    select a.* from audit_log a
    where true ${tenant} ${timelineWhere('a', q.before, q)} ${action}
    ${timelineOrder('a')} limit ${q.limit}`.execute(db);
  return r.rows.map((row) => ({
    id: String(row.id),
    at: dateOf(row.at),
    tenantId: row.tenant_id,
    actor: json<Actor>(row.actor),
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    requestId: row.request_id,
    details: json<Record<string, unknown>>(row.details),
  }));
}

/** Delete up to `batch` entries older than `days`, oldest first. */
export async function pruneAudit(db: Db, days: number, batch = 5000): Promise<number> {
  const r = await sql`
    delete from audit_log where id in (select id from audit_log where at < now() - make_interval(days => ${days}) order by at limit ${batch})`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}
