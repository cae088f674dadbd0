/**
 * The event outbox and its delivery queues (migration 0002_events): this
 * file writes events; outbox-feed.ts reads them back, outbox-requeue.ts
 * queues them again, outbox-claims.ts is the worker's side and
 * outbox-housekeeping.ts observes and prunes. README.md, "Provisioning
 * events for the host platform" explains the design.
 *
 * Concurrency in one paragraph: events are written in the service's
 * transaction, under the resource's row lock, so one resource's events get
 * increasing ids. Each (endpoint, resource) pair has a webhook_queues row
 * counting its pending deliveries. A worker claims ready queue rows with one
 * UPDATE … FROM (SELECT … FOR UPDATE SKIP LOCKED) that also pushes ready_at
 * forward by a lease, so no other worker (in this process or another) takes
 * the same queue until the lease runs out; it then sends the queue's oldest
 * pending delivery with no database transaction open, and completes it with
 * a short transaction fenced by its claim token. The outbox writer and the
 * completing worker both update the queue row, so its counter is exact.
 */
import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { EventResourceType, NewEvent } from '../events/types.js';
import { num } from './outbox-rows.js';
import { prepared } from './prepared.js';
import type { Database } from './types.js';
import type { ResourceWrite } from './resources.js';

type Executor = Kysely<Database> | Transaction<Database>;

/** Channel of the Postgres NOTIFY sent when deliveries are queued. */
export const NOTIFY_CHANNEL = 'roster_webhooks';

/**
 * Write the events of one change and queue a delivery for every enabled
 * endpoint of the tenant that subscribes to their types. Runs inside the
 * caller's transaction. Returns the number of deliveries queued.
 *
 * `write`, when given, is the resource write itself (src/db/resources.ts
 * `insertStatement` / `updateStatement`), run as the first part of the same
 * statement: one round trip fewer, and since a single statement is atomic
 * without BEGIN/COMMIT, a create and its event cost one round trip instead of
 * four. Postgres runs every data-modifying WITH part exactly once whether or
 * not it is referenced, and a failure of any part (a unique violation of the
 * write) fails the whole statement, events included. Returns the deliveries
 * queued and, for a `guarded` write, the version it wrote (null when it
 * matched no row: then nothing was written, not even a sequence number).
 */
export async function insertEvents(
  trx: Executor,
  scope: { tenantId: string; resourceType: EventResourceType; resourceId: string; txn: string; heldBy?: string | null },
  events: NewEvent[],
  write?: ResourceWrite,
): Promise<{ deliveries: number; version: number | null }> {
  if (events.length === 0) {
    if (!write) return { deliveries: 0, version: null };
    const w = await sql<{ version: number }>`${write.statement}${prepared}`.execute(trx);
    return { deliveries: 0, version: write.guarded ? (w.rows[0]?.version ?? null) : null };
  }
  const guarded = write?.guarded === true;
  const { tenantId, resourceId } = scope;
  const n = events.length;
  const rows = events.map((e, i) => ({ uid: e.uid, type: e.type, ord: i + 1, data: e.data, resource: e.resource }));
  // One statement, one round trip: take n sequence numbers for the resource,
  // then write the events and their deliveries (deliveryTail).
  const r = await sql<{ deliveries: unknown; version?: number | null }>`
    with ${write ? sql`rw as (${write.statement}), ` : sql``}s as (
      insert into event_sequences (tenant_id, resource_id, last_seq)
      ${guarded ? sql`select ${tenantId}, ${resourceId}, ${n}::bigint from rw` : sql`values (${tenantId}, ${resourceId}, ${n})`}
      on conflict (tenant_id, resource_id) do update set last_seq = event_sequences.last_seq + excluded.last_seq
      returning last_seq
    ), x as (
      select r.uid, r.type, r.ord, ${guarded ? sql`r.data || (select jsonb_build_object('version', version, 'etag', 'W/"' || version || '"') from rw)` : sql`r.data`} as data,
        r.resource, s.last_seq - ${n} + r.ord as seq
      from json_to_recordset(${JSON.stringify(rows)}::json) as r(uid text, type text, ord int, data jsonb, resource json) cross join s
    ), ${deliveryTail(scope)}
    select (select count(*) from dl) as deliveries, (select count(*) from nt) as notified${guarded ? sql`, (select version from rw) as version` : sql``}${prepared}`.execute(trx);
  const row = r.rows[0]!;
  return { deliveries: num(row.deliveries), version: guarded ? (row.version ?? null) : null };
}

/**
 * The CTEs that follow the event rows `x` (uid, type, ord, data, resource, seq)
 * of one resource: the events, their deliveries (in event order, so delivery
 * ids follow event ids), the queue counters, and a NOTIFY that Postgres
 * delivers to listening workers when (and only if) the transaction commits.
 * The statement's last SELECT reads `dl` for the deliveries queued.
 */
export function deliveryTail(scope: { tenantId: string; resourceType: EventResourceType; resourceId: string; txn: string; heldBy?: string | null }): RawBuilder<unknown> {
  const { tenantId, resourceType, resourceId, txn } = scope;
  // Held events (the mass-deprovision safeguard, src/db/holds.ts) are written without deliveries; releasing queues them.
  const heldBy = scope.heldBy ?? null;
  return sql`ev as (
      insert into events (uid, tenant_id, type, resource_type, resource_id, seq, txn, data, resource, actor, held_by)
      select x.uid, ${tenantId}, x.type, ${resourceType}, ${resourceId}, x.seq, ${txn}, x.data || jsonb_build_object('sequence', x.seq), x.resource, x.data -> 'actor', ${heldBy}::bigint
      from x order by x.ord
      returning id, type
    ), dl as (
      insert into webhook_deliveries (event_id, endpoint_id, resource_id)
      select ev.id, w.id, ${resourceId}
      from ev join webhook_endpoints w
        on w.tenant_id = ${tenantId} and w.enabled and (w.events is null or ev.type = any (w.events))
      where ${heldBy}::bigint is null
      order by ev.id, w.id
      returning endpoint_id
    ), q as (
      insert into webhook_queues (endpoint_id, resource_id, pending, ready_at)
      select endpoint_id, ${resourceId}, count(*), now() from dl group by endpoint_id order by endpoint_id
      on conflict (endpoint_id, resource_id) do update
        set pending = webhook_queues.pending + excluded.pending,
            ready_at = case when webhook_queues.pending <= 0 then excluded.ready_at else webhook_queues.ready_at end
      returning pending
    ), nt as (
      select pg_notify(${NOTIFY_CHANNEL}, '') from (select 1 from q limit 1) s
    )`;
}
