/**
 * The delivery browser (README "Delivery browser"): an endpoint's
 * deliveries by status, newest first, with their event and last attempt, and
 * the dead letters to send again.
 *
 * A dead letter counts while it is the latest delivery of its event to its
 * endpoint: once the event is redelivered or replayed to that endpoint, the
 * newer delivery tells its fate (and a successful one ends the matter).
 */
import { sql, type RawBuilder } from 'kysely';
import type { EventResourceType, EventType } from '../events/types.js';
import type { Db } from './index.js';
import { dateOf } from './timeline.js';

/** What `?status=` selects; `failed`: pending deliveries whose attempts failed so far (being retried). */
export const DELIVERY_FILTERS = ['pending', 'failed', 'succeeded', 'dead'] as const;
export type DeliveryFilter = (typeof DELIVERY_FILTERS)[number];

export interface DeliveryView {
  id: string;
  status: 'pending' | 'succeeded' | 'dead';
  reason: 'live' | 'replay' | 'redeliver';
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  lastAttemptAt: Date | null;
  createdAt: Date;
  finishedAt: Date | null;
  event: { id: string; type: EventType; resourceType: EventResourceType; resourceId: string; sequence: number; occurredAt: Date };
}

/** `d` (webhook_deliveries) is a current dead letter: no later delivery of its event to its endpoint. */
export const CURRENT_DEAD = sql`d.status = 'dead' and not exists (
  select 1 from webhook_deliveries later where later.event_id = d.event_id and later.endpoint_id = d.endpoint_id and later.id > d.id)`;

function filterSql(f: DeliveryFilter | undefined): RawBuilder<unknown> {
  switch (f) {
    case undefined:
      return sql`true`;
    case 'pending':
      return sql`d.status = 'pending'`;
    case 'failed':
      return sql`d.status = 'pending' and d.attempts > 0`;
    case 'succeeded':
      return sql`d.status = 'succeeded'`;
    case 'dead':
      return CURRENT_DEAD;
  }
}

/** One page of an endpoint's deliveries (with `status`, or all), newest first, before delivery id `before`. */
export async function listDeliveries(db: Db, endpointId: string, q: { status?: DeliveryFilter | undefined; before?: string | undefined; limit: number }): Promise<DeliveryView[]> {
  const before = q.before !== undefined ? sql`and d.id < ${q.before}::bigint` : sql``;
  const r = await sql<{
    id: unknown; status: DeliveryView['status']; reason: DeliveryView['reason']; attempts: unknown; last_status: unknown; last_error: string | null;
    created_at: unknown; finished_at: unknown; last_attempt_at: unknown;
    uid: string; type: EventType; resource_type: EventResourceType; resource_id: string; seq: unknown; occurred_at: unknown;
  }>`
    select d.id, d.status, d.reason, d.attempts, d.last_status, d.last_error, d.created_at, d.finished_at,
           (select a.attempted_at from webhook_attempts a where a.delivery_id = d.id order by a.id desc limit 1) as last_attempt_at,
           e.uid, e.type, e.resource_type, e.resource_id, e.seq, e.occurred_at
    from webhook_deliveries d join events e on e.id = d.event_id
    where d.endpoint_id = ${endpointId} and ${filterSql(q.status)} ${before}
    order by d.id desc limit ${q.limit}`.execute(db);
  return r.rows.map((row) => ({
    id: String(row.id),
    status: row.status,
    reason: row.reason,
    attempts: Number(row.attempts),
    lastStatus: row.last_status === null ? null : Number(row.last_status),
    lastError: row.last_error,
    lastAttemptAt: row.last_attempt_at === null || row.last_attempt_at === undefined ? null : dateOf(row.last_attempt_at),
    createdAt: dateOf(row.created_at),
    finishedAt: row.finished_at === null || row.finished_at === undefined ? null : dateOf(row.finished_at),
    event: { id: row.uid, type: row.type, resourceType: row.resource_type, resourceId: row.resource_id, sequence: Number(row.seq), occurredAt: dateOf(row.occurred_at) },
  }));
}

/** Ids of the events of an endpoint's current dead letters after event id `after`, in event order (a page of `limit`). */
export async function deadLetterEvents(db: Db, endpointId: string, after: string, limit: number): Promise<string[]> {
  const r = await sql<{ event_id: unknown }>`
    select d.event_id from webhook_deliveries d
    where d.endpoint_id = ${endpointId} and d.event_id > ${after}::bigint and ${CURRENT_DEAD}
    order by d.event_id limit ${limit}`.execute(db);
  return r.rows.map((row) => String(row.event_id));
}
