/**
 * Observability and housekeeping of the outbox: an endpoint's health, the
 * global backlog gauge, pruning old events.
 */
import { CURRENT_DEAD } from './deliveries.js';
import { sql, type Kysely } from 'kysely';
import type { EndpointHealth } from '../events/types.js';
import { date, dateOrNull, num } from './outbox-rows.js';
import type { Database } from './types.js';

type Db = Kysely<Database>;

export async function endpointHealth(db: Db, endpointId: string, windowHours = 24): Promise<EndpointHealth> {
  const w = await sql<{ attempts: unknown; ok: unknown }>`
    select count(*) as attempts, count(*) filter (where outcome = 'succeeded') as ok from webhook_attempts
    where endpoint_id = ${endpointId} and attempted_at > now() - make_interval(hours => ${windowHours})`.execute(db);
  const lastOk = await sql<{ attempted_at: unknown }>`
    select attempted_at from webhook_attempts where endpoint_id = ${endpointId} and outcome = 'succeeded'
    order by attempted_at desc limit 1`.execute(db);
  const lastFail = await sql<{ attempted_at: unknown; error: string | null; status_code: unknown }>`
    select attempted_at, error, status_code from webhook_attempts where endpoint_id = ${endpointId} and outcome <> 'succeeded'
    order by attempted_at desc limit 1`.execute(db);
  const b = await sql<{ pending: unknown; oldest: unknown; dead: unknown; now: unknown }>`
    select
      (select count(*) from webhook_deliveries where endpoint_id = ${endpointId} and status = 'pending') as pending,
      (select min(created_at) from webhook_deliveries where endpoint_id = ${endpointId} and status = 'pending') as oldest,
      (select count(*) from webhook_deliveries d where d.endpoint_id = ${endpointId} and ${CURRENT_DEAD}) as dead,
      now() as now`.execute(db);
  const attempts = num(w.rows[0]!.attempts);
  const ok = num(w.rows[0]!.ok);
  const bl = b.rows[0]!;
  const oldest = dateOrNull(bl.oldest);
  const fail = lastFail.rows[0];
  return {
    windowHours,
    attempts,
    successRate: attempts ? ok / attempts : null,
    lastSuccessAt: dateOrNull(lastOk.rows[0]?.attempted_at),
    lastFailureAt: dateOrNull(fail?.attempted_at),
    lastError: fail ? (fail.error ?? (fail.status_code === null ? null : `HTTP ${num(fail.status_code)}`)) : null,
    backlog: num(bl.pending),
    oldestPendingAgeSeconds: oldest ? Math.max(0, (date(bl.now).getTime() - oldest.getTime()) / 1000) : null,
    deadLettered: num(bl.dead),
  };
}

/** Pending deliveries across all endpoints and the age of the oldest (for a gauge). */
export async function globalBacklog(db: Db): Promise<{ pending: number; oldestAgeSeconds: number | null }> {
  const r = await sql<{ pending: unknown; age: unknown }>`
    select (select coalesce(sum(pending), 0) from webhook_queues where pending > 0) as pending,
           extract(epoch from now() - (select min(created_at) from webhook_deliveries where status = 'pending')) as age`.execute(db);
  const row = r.rows[0]!;
  return { pending: num(row.pending), oldestAgeSeconds: row.age === null ? null : Math.max(0, num(row.age)) };
}

/**
 * Delete events older than the retention period whose deliveries are all
 * finished (a pending delivery, or a safeguard hold, keeps its event however old). Deliveries and
 * attempts go with them (ON DELETE CASCADE). Returns the number deleted.
 */
export async function pruneEvents(db: Db, olderThanDays: number, batch = 1000): Promise<number> {
  const r = await sql`
    delete from events where id in (
      select e.id from events e
      where e.occurred_at < now() - make_interval(days => ${olderThanDays})
        and not exists (select 1 from webhook_deliveries d where d.event_id = e.id and d.status = 'pending')
        -- A held event (src/db/holds.ts) has no delivery yet: it waits for its hold, however old.
        and e.held_by is null
      order by e.occurred_at limit ${batch})`.execute(db);
  return num(r.numAffectedRows ?? 0);
}
