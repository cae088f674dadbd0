/**
 * The poll feed and event look-ups: feed positions, pages, one event with
 * its deliveries and attempts.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { AttemptOutcome, DeliveryAttempt, DeliveryRecord, StoredEvent } from '../events/types.js';
import { date, dateOrNull, EVENT_COLUMNS, eventFromRow, num, str, type EventRow } from './outbox-rows.js';
import type { Database } from './types.js';

type Db = Kysely<Database>;
type Executor = Db | Transaction<Database>;

const SEQUENCER_LOCK = 0x726f7374; // 'rost'

/**
 * Give feed positions to committed events that have none, in id order, under
 * an advisory lock so that only one sequencer runs at a time. Positions follow
 * the order in which events became visible, so a cursor never passes an event
 * that commits later (a plain serial id would: ids are taken before commit).
 * A held event (src/db/holds.ts) gets its position when its hold is released.
 */
export async function sequenceFeed(db: Db, max = 10_000): Promise<number> {
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${SEQUENCER_LOCK})`.execute(trx);
    const r = await sql`
      with todo as (
        select id, row_number() over (order by id) as rn
        from events where position is null and held_by is null order by id limit ${max}
      ), base as (select coalesce(max(position), 0) as m from events)
      update events e set position = base.m + todo.rn from todo, base where e.id = todo.id`.execute(trx);
    return num(r.numAffectedRows ?? 0);
  });
}

export async function feedPage(db: Db, tenantId: string, opts: { after: bigint; limit: number; types?: string[] | undefined }): Promise<StoredEvent[]> {
  const types = opts.types?.length ? sql`and e.type in (${sql.join(opts.types)})` : sql``;
  const r = await sql<EventRow>`
    select ${EVENT_COLUMNS} from events e
    where e.tenant_id = ${tenantId} and e.position > ${opts.after.toString()} ${types}
    order by e.position limit ${opts.limit}`.execute(db);
  return r.rows.map(eventFromRow);
}

export async function findEvent(db: Executor, tenantId: string, uid: string): Promise<StoredEvent | undefined> {
  const r = await sql<EventRow>`select ${EVENT_COLUMNS} from events e where e.tenant_id = ${tenantId} and e.uid = ${uid}`.execute(db);
  return r.rows[0] ? eventFromRow(r.rows[0]) : undefined;
}

/** Deliveries of one event with their attempts, oldest first. */
export async function eventDeliveries(db: Db, eventId: string): Promise<DeliveryRecord[]> {
  const ds = await sql<{
    id: unknown;
    endpoint_id: string;
    reason: DeliveryRecord['reason'];
    status: DeliveryRecord['status'];
    attempts: unknown;
    last_status: unknown;
    last_error: string | null;
    created_at: unknown;
    finished_at: unknown;
  }>`select id, endpoint_id, reason, status, attempts, last_status, last_error, created_at, finished_at
     from webhook_deliveries where event_id = ${eventId} order by id`.execute(db);
  if (ds.rows.length === 0) return [];
  const ids = ds.rows.map((d) => str(d.id));
  const as = await sql<{ delivery_id: unknown; attempted_at: unknown; status_code: unknown; latency_ms: unknown; error: string | null; outcome: AttemptOutcome }>`
    select delivery_id, attempted_at, status_code, latency_ms, error, outcome from webhook_attempts
    where delivery_id in (${sql.join(ids)}) order by id`.execute(db);
  const byDelivery = new Map<string, DeliveryAttempt[]>();
  for (const a of as.rows) {
    const k = str(a.delivery_id);
    const list = byDelivery.get(k) ?? [];
    list.push({
      attemptedAt: date(a.attempted_at),
      statusCode: a.status_code === null ? null : num(a.status_code),
      latencyMs: num(a.latency_ms),
      error: a.error,
      outcome: a.outcome,
    });
    byDelivery.set(k, list);
  }
  return ds.rows.map((d) => ({
    id: str(d.id),
    endpointId: d.endpoint_id,
    reason: d.reason,
    status: d.status,
    attempts: num(d.attempts),
    lastStatus: d.last_status === null ? null : num(d.last_status),
    lastError: d.last_error,
    createdAt: date(d.created_at),
    finishedAt: dateOrNull(d.finished_at),
    attemptLog: byDelivery.get(str(d.id)) ?? [],
  }));
}

/** One resource's events, newest first (its history, as the console shows it); held events too. */
export async function resourceEvents(db: Db, tenantId: string, resourceId: string, limit: number): Promise<(StoredEvent & { held: boolean })[]> {
  const r = await sql<EventRow & { held_by: unknown }>`
    select ${EVENT_COLUMNS}, e.held_by from events e
    where e.tenant_id = ${tenantId} and e.resource_id = ${resourceId}
    order by e.seq desc limit ${limit}`.execute(db);
  return r.rows.map((row) => ({ ...eventFromRow(row), held: row.held_by !== null }));
}
