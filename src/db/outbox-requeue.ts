/**
 * Queueing deliveries outside the live path: redelivery of chosen events and
 * replay of a time range.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Endpoint } from '../events/types.js';
import { NOTIFY_CHANNEL } from './outbox.js';
import { num } from './outbox-rows.js';
import type { Database } from './types.js';

type Db = Kysely<Database>;

/** Queue `events × endpoints` again (in event order). Returns the number of deliveries queued. */
export async function enqueueRedelivery(db: Db, eventIds: string[], endpointIds: string[]): Promise<number> {
  if (eventIds.length === 0 || endpointIds.length === 0) return 0;
  return db.transaction().execute(async (trx) => {
    const r = await sql<{ deliveries: unknown }>`
      with dl as (
        insert into webhook_deliveries (event_id, endpoint_id, resource_id, reason)
        select e.id, w.id, e.resource_id, 'redeliver'
        from events e join webhook_endpoints w on w.tenant_id = e.tenant_id
        where e.id in (${sql.join(eventIds)}) and w.id in (${sql.join(endpointIds)}) and e.held_by is null
        order by e.id, w.id
        returning endpoint_id, resource_id
      ), q as (${upsertQueues()})
      select (select count(*) from dl) as deliveries, (select count(*) from q) as queues`.execute(trx);
    await notify(trx);
    return num(r.rows[0]!.deliveries);
  });
}

/**
 * Queue every event of the endpoint's tenant that occurred in [from, to) and
 * that the endpoint subscribes to, oldest first. Replayed events keep their
 * ids and sequence numbers, so receivers recognise what they already have.
 */
export async function enqueueReplay(db: Db, endpoint: Endpoint, from: Date, to: Date): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const types = endpoint.events ? sql`and e.type in (${sql.join(endpoint.events)})` : sql``;
    const r = await sql<{ deliveries: unknown }>`
      with dl as (
        insert into webhook_deliveries (event_id, endpoint_id, resource_id, reason)
        select e.id, ${endpoint.id}::uuid, e.resource_id, 'replay'
        from events e
        where e.tenant_id = ${endpoint.tenantId} and e.occurred_at >= ${from.toISOString()} and e.occurred_at < ${to.toISOString()} and e.held_by is null ${types}
        order by e.id
        returning endpoint_id, resource_id
      ), q as (${upsertQueues()})
      select (select count(*) from dl) as deliveries, (select count(*) from q) as queues`.execute(trx);
    await notify(trx);
    return num(r.rows[0]!.deliveries);
  });
}

/**
 * Release a safeguard hold's events (src/db/holds.ts): they become visible
 * (the feed sequencer numbers them) and are queued for every enabled endpoint
 * that subscribes to them, in event order, as if written now. Inside the
 * caller's transaction. Returns the number of deliveries queued.
 */
export async function enqueueReleased(trx: Transaction<Database>, tenantId: string, holdId: string): Promise<number> {
  const r = await sql<{ deliveries: unknown }>`
    with ev as (
      update events set held_by = null where held_by = ${holdId} and tenant_id = ${tenantId}
      returning id, type, resource_id
    ), dl as (
      insert into webhook_deliveries (event_id, endpoint_id, resource_id)
      select ev.id, w.id, ev.resource_id
      from ev join webhook_endpoints w on w.tenant_id = ${tenantId} and w.enabled and (w.events is null or ev.type = any (w.events))
      order by ev.id, w.id
      returning endpoint_id, resource_id
    ), q as (${upsertQueues()})
    select (select count(*) from dl) as deliveries, (select count(*) from q) as queues`.execute(trx);
  await notify(trx);
  return num(r.rows[0]!.deliveries);
}

const upsertQueues = () => sql`
  insert into webhook_queues (endpoint_id, resource_id, pending, ready_at)
  select endpoint_id, resource_id, count(*), now() from dl group by endpoint_id, resource_id order by endpoint_id, resource_id
  on conflict (endpoint_id, resource_id) do update
    set pending = webhook_queues.pending + excluded.pending,
        ready_at = case when webhook_queues.pending <= 0 then excluded.ready_at else webhook_queues.ready_at end
  returning pending`;

async function notify(trx: Transaction<Database>): Promise<void> {
  await sql`select pg_notify(${NOTIFY_CHANNEL}, '')`.execute(trx);
}
