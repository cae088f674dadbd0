/**
 * The event outbox and its delivery queues (migration 0002_events). All SQL
 * of events, deliveries, queues and attempts lives here; README.md, "Provisioning events for the host platform"
 * explains the design.
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
import { sql, type Kysely, type Transaction } from 'kysely';
import type {
  AttemptOutcome,
  DeliveryAttempt,
  DeliveryRecord,
  Endpoint,
  EndpointHealth,
  EventData,
  EventResourceType,
  EventType,
  NewEvent,
  StoredEvent,
} from '../events/types.js';
import { CURRENT_DEAD } from './deliveries.js';
import { prepared } from './prepared.js';
import type { Database } from './types.js';
import type { ResourceWrite } from './resources.js';
import { endpointFromRow, type EndpointRow } from './webhooks.js';

type Db = Kysely<Database>;
type Executor = Db | Transaction<Database>;

/** Channel of the Postgres NOTIFY sent when deliveries are queued. */
export const NOTIFY_CHANNEL = 'roster_webhooks';

const str = (v: unknown): string => String(v);
const num = (v: unknown): number => Number(v);
const date = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));
const dateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : date(v));
const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

interface EventRow {
  id: unknown;
  uid: string;
  tenant_id: string;
  position: unknown;
  type: string;
  resource_type: EventResourceType;
  resource_id: string;
  seq: unknown;
  txn: string;
  data: unknown;
  resource: unknown;
  occurred_at: unknown;
}

function eventFromRow(r: EventRow): StoredEvent {
  return {
    id: str(r.id),
    uid: r.uid,
    tenantId: r.tenant_id,
    position: r.position === null || r.position === undefined ? null : str(r.position),
    type: r.type as EventType,
    resourceType: r.resource_type,
    resourceId: r.resource_id,
    sequence: num(r.seq),
    txn: r.txn,
    data: json<EventData>(r.data),
    resource: r.resource === null ? null : json<Record<string, unknown>>(r.resource),
    occurredAt: date(r.occurred_at),
  };
}

const EVENT_COLUMNS = sql`e.id, e.uid, e.tenant_id, e.position, e.type, e.resource_type, e.resource_id, e.seq, e.txn, e.data, e.resource, e.occurred_at`;
/** The endpoint a claimed delivery goes to, read in the same statement (alias w). */
const ENDPOINT_COLUMNS = sql`w.id as w_id, w.tenant_id as w_tenant_id, w.url, w.description, w.events, w.format, w.attributes, w.secret,
  w.previous_secret, w.ed25519_secret, w.previous_ed25519_secret, w.previous_expires_at, w.enabled,
  w.disabled_reason, w.created_at, w.updated_at`;

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
 * write) fails the whole statement, events included.
 */
export async function insertEvents(
  trx: Executor,
  scope: { tenantId: string; resourceType: EventResourceType; resourceId: string; txn: string },
  events: NewEvent[],
  write?: ResourceWrite,
): Promise<number> {
  if (events.length === 0) {
    if (write) await sql`${write.statement}${prepared}`.execute(trx);
    return 0;
  }
  const { tenantId, resourceType, resourceId, txn } = scope;
  const n = events.length;
  const rows = events.map((e, i) => ({ uid: e.uid, type: e.type, ord: i + 1, data: e.data, resource: e.resource }));
  // One statement, one round trip: take n sequence numbers for the resource,
  // write the events, their deliveries (in event order, so delivery ids follow
  // event ids), the queue counters, and a NOTIFY that Postgres delivers to
  // listening workers when (and only if) the transaction commits.
  const r = await sql<{ deliveries: unknown }>`
    with ${write ? sql`rw as (${write.statement}), ` : sql``}s as (
      insert into event_sequences (tenant_id, resource_id, last_seq) values (${tenantId}, ${resourceId}, ${n})
      on conflict (tenant_id, resource_id) do update set last_seq = event_sequences.last_seq + excluded.last_seq
      returning last_seq
    ), x as (
      select r.uid, r.type, r.ord, r.data, r.resource, (select last_seq from s) - ${n} + r.ord as seq
      from json_to_recordset(${JSON.stringify(rows)}::json) as r(uid text, type text, ord int, data jsonb, resource json)
    ), ev as (
      insert into events (uid, tenant_id, type, resource_type, resource_id, seq, txn, data, resource, actor)
      select x.uid, ${tenantId}, x.type, ${resourceType}, ${resourceId}, x.seq, ${txn}, x.data || jsonb_build_object('sequence', x.seq), x.resource, x.data -> 'actor'
      from x order by x.ord
      returning id, type
    ), dl as (
      insert into webhook_deliveries (event_id, endpoint_id, resource_id)
      select ev.id, w.id, ${resourceId}
      from ev join webhook_endpoints w
        on w.tenant_id = ${tenantId} and w.enabled and (w.events is null or ev.type = any (w.events))
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
    )
    select (select count(*) from dl) as deliveries, (select count(*) from nt) as notified${prepared}`.execute(trx);
  return num(r.rows[0]!.deliveries);
}

// ---------------------------------------------------------------------------
// Poll feed

const SEQUENCER_LOCK = 0x726f7374; // 'rost'

/**
 * Give feed positions to committed events that have none, in id order, under
 * an advisory lock so that only one sequencer runs at a time. Positions follow
 * the order in which events became visible, so a cursor never passes an event
 * that commits later (a plain serial id would: ids are taken before commit).
 */
export async function sequenceFeed(db: Db, max = 10_000): Promise<number> {
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${SEQUENCER_LOCK})`.execute(trx);
    const r = await sql`
      with todo as (
        select id, row_number() over (order by id) as rn
        from events where position is null order by id limit ${max}
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

// ---------------------------------------------------------------------------
// Queueing deliveries outside the live path (redeliver, replay)

/** Queue `events × endpoints` again (in event order). Returns the number of deliveries queued. */
export async function enqueueRedelivery(db: Db, eventIds: string[], endpointIds: string[]): Promise<number> {
  if (eventIds.length === 0 || endpointIds.length === 0) return 0;
  return db.transaction().execute(async (trx) => {
    const r = await sql<{ deliveries: unknown }>`
      with dl as (
        insert into webhook_deliveries (event_id, endpoint_id, resource_id, reason)
        select e.id, w.id, e.resource_id, 'redeliver'
        from events e join webhook_endpoints w on w.tenant_id = e.tenant_id
        where e.id in (${sql.join(eventIds)}) and w.id in (${sql.join(endpointIds)})
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
        where e.tenant_id = ${endpoint.tenantId} and e.occurred_at >= ${from.toISOString()} and e.occurred_at < ${to.toISOString()} ${types}
        order by e.id
        returning endpoint_id, resource_id
      ), q as (${upsertQueues()})
      select (select count(*) from dl) as deliveries, (select count(*) from q) as queues`.execute(trx);
    await notify(trx);
    return num(r.rows[0]!.deliveries);
  });
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

// ---------------------------------------------------------------------------
// Worker side

export interface ClaimedQueue {
  endpointId: string;
  resourceId: string;
}

export interface HeadDelivery {
  deliveryId: string;
  attempts: number;
  event: StoredEvent;
  endpoint: Endpoint;
}

export interface Claim {
  queue: ClaimedQueue;
  /** The queue's oldest pending delivery; undefined if its counter was off (repair it). */
  head: HeadDelivery | undefined;
}

/**
 * Claim up to `limit` ready queues of enabled endpoints and load the oldest
 * pending delivery of each, with its event and endpoint, in one statement.
 * Rows another worker is claiming right now are skipped (SKIP LOCKED); a
 * claimed row's ready_at moves to the end of the lease, which keeps it from
 * being claimed again until completed, released, or abandoned (crash: the
 * lease runs out).
 */
export async function claimQueues(db: Db, limit: number, leaseMs: number, token: string): Promise<Claim[]> {
  const r = await sql<EventRow & EndpointRow & { q_endpoint_id: string; q_resource_id: string; delivery_id: unknown; attempts: unknown; w_id: string; w_tenant_id: string }>`
    with claimed as (
      update webhook_queues q
      set ready_at = now() + make_interval(secs => ${leaseMs / 1000}), claim_token = ${token}
      from (
        select q2.endpoint_id, q2.resource_id
        from webhook_queues q2 join webhook_endpoints w on w.id = q2.endpoint_id
        where q2.pending > 0 and q2.ready_at <= now() and w.enabled
        order by q2.ready_at
        limit ${limit}
        for update of q2 skip locked
      ) r
      where q.endpoint_id = r.endpoint_id and q.resource_id = r.resource_id
      returning q.endpoint_id, q.resource_id
    )
    select c.endpoint_id as q_endpoint_id, c.resource_id as q_resource_id, h.*
    from claimed c
    left join lateral (
      select d.id as delivery_id, d.attempts, ${EVENT_COLUMNS}, ${ENDPOINT_COLUMNS}
      from webhook_deliveries d
      join events e on e.id = d.event_id
      join webhook_endpoints w on w.id = d.endpoint_id
      where d.endpoint_id = c.endpoint_id and d.resource_id = c.resource_id and d.status = 'pending'
      order by d.id limit 1
    ) h on true`.execute(db);
  return r.rows.map((row) => ({
    queue: { endpointId: row.q_endpoint_id, resourceId: row.q_resource_id },
    head:
      row.delivery_id === null || row.delivery_id === undefined
        ? undefined
        : {
            deliveryId: str(row.delivery_id),
            attempts: num(row.attempts),
            event: eventFromRow(row),
            endpoint: endpointFromRow({ ...row, id: row.w_id, tenant_id: row.w_tenant_id }),
          },
  }));
}

/** A claimed queue whose counter says pending but that has no pending row: recount and release. */
export async function repairQueue(db: Db, q: ClaimedQueue, token: string): Promise<void> {
  await sql`
    update webhook_queues set
      pending = (select count(*) from webhook_deliveries d where d.endpoint_id = ${q.endpointId} and d.resource_id = ${q.resourceId} and d.status = 'pending'),
      ready_at = now(), claim_token = null
    where endpoint_id = ${q.endpointId} and resource_id = ${q.resourceId} and claim_token = ${token}`.execute(db);
}

/** Give a claimed queue back untouched (worker stopping). */
export async function releaseQueue(db: Db, q: ClaimedQueue, token: string): Promise<void> {
  await sql`update webhook_queues set ready_at = now(), claim_token = null
            where endpoint_id = ${q.endpointId} and resource_id = ${q.resourceId} and claim_token = ${token}`.execute(db);
}

export interface Completion {
  queue: ClaimedQueue;
  token: string;
  deliveryId: string;
  outcome: AttemptOutcome;
  attemptedAt: Date;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  /** outcome 'retry': when to try again, in ms from now. */
  retryInMs?: number;
  /**
   * After a final outcome, keep the claim (for another lease) and return the
   * queue's next delivery, so that a busy resource costs one statement per
   * event instead of a completion and a claim.
   */
  continueLeaseMs?: number;
}

export interface CompletionResult {
  /** The next pending delivery of the same queue, still claimed with the same token. */
  next?: HeadDelivery;
  /** The claim was kept but no next delivery could be read (it was not yet visible): release the queue. */
  release?: boolean;
}

/**
 * Record attempts and move their queues on, many at once (one statement, one
 * round trip, whatever the batch size): succeeded/dead finish the delivery
 * (the queue's next event becomes ready at once), retry keeps it pending and
 * makes the queue ready again after the backoff, disabled (410) switches the
 * endpoint off and keeps the delivery pending for when it is switched on.
 * A completion whose claim was lost (lease expired and another worker took
 * the queue) changes nothing. Returns the delivery ids that were recorded.
 */
export async function completeDeliveries(db: Db, cs: Completion[]): Promise<Map<string, CompletionResult>> {
  if (cs.length === 0) return new Map();
  const rows = cs.map((c) => {
    const final = c.outcome === 'succeeded' || c.outcome === 'dead';
    return {
      endpoint_id: c.queue.endpointId,
      resource_id: c.queue.resourceId,
      token: c.token,
      delivery_id: c.deliveryId,
      final,
      keep: final && c.continueLeaseMs !== undefined,
      lease_secs: (c.continueLeaseMs ?? 0) / 1000,
      status: final ? c.outcome : 'pending',
      delay_secs: c.outcome === 'retry' ? Math.max(0, c.retryInMs ?? 0) / 1000 : 0,
      attempted_at: c.attemptedAt.toISOString(),
      status_code: c.statusCode,
      latency_ms: Math.round(c.latencyMs),
      error: c.error,
      outcome: c.outcome,
    };
  });
  // Every part applies only to completions whose claim token is still on the
  // queue row. A kept claim reads the queue's next delivery: the smallest
  // pending id above the one just finished (this statement's own update of
  // it is not visible to its other parts).
  const r = await sql<EventRow & EndpointRow & { delivery_id: unknown; kept: boolean; next_id: unknown; attempts: unknown; w_id: string; w_tenant_id: string }>`
    with c as (
      select * from json_to_recordset(${JSON.stringify(rows)}::json) as c(
        endpoint_id uuid, resource_id text, token text, delivery_id bigint, final boolean, keep boolean, lease_secs float8,
        status text, delay_secs float8, attempted_at timestamptz, status_code int, latency_ms int, error text, outcome text)
    ), q as (
      update webhook_queues q
      set pending = q.pending - case when c.final then 1 else 0 end,
          ready_at = now() + make_interval(secs => case when c.keep and q.pending > 1 then c.lease_secs else c.delay_secs end),
          claim_token = case when c.keep and q.pending > 1 then q.claim_token end
      from c
      where q.endpoint_id = c.endpoint_id and q.resource_id = c.resource_id and q.claim_token = c.token
      returning c.delivery_id, c.endpoint_id, c.resource_id, q.claim_token is not null as kept
    ), d as (
      update webhook_deliveries d
      set status = c.status, attempts = d.attempts + 1, last_status = c.status_code, last_error = c.error,
          finished_at = case when c.final then now() end
      from c
      where d.id = c.delivery_id and c.delivery_id in (select delivery_id from q)
      returning 1
    ), a as (
      insert into webhook_attempts (delivery_id, endpoint_id, attempted_at, status_code, latency_ms, error, outcome)
      select c.delivery_id, c.endpoint_id, c.attempted_at, c.status_code, c.latency_ms, c.error, c.outcome
      from c where c.delivery_id in (select delivery_id from q)
      returning 1
    ), off as (
      update webhook_endpoints w set enabled = false, disabled_reason = coalesce(c.error, 'disabled by the receiver'), updated_at = now()
      from c
      where w.id = c.endpoint_id and c.outcome = 'disabled' and c.delivery_id in (select delivery_id from q)
      returning 1
    )
    select q.delivery_id, q.kept, h.*, (select count(*) from d) + (select count(*) from a) + (select count(*) from off) as written
    from q
    left join lateral (
      select d2.id as next_id, d2.attempts, ${EVENT_COLUMNS}, ${ENDPOINT_COLUMNS}
      from webhook_deliveries d2
      join events e on e.id = d2.event_id
      join webhook_endpoints w on w.id = d2.endpoint_id and w.enabled
      where q.kept and d2.endpoint_id = q.endpoint_id and d2.resource_id = q.resource_id and d2.status = 'pending' and d2.id > q.delivery_id
      order by d2.id limit 1
    ) h on true`.execute(db);
  const out = new Map<string, CompletionResult>();
  for (const row of r.rows) {
    const res: CompletionResult = {};
    if (row.kept) {
      if (row.next_id === null || row.next_id === undefined) res.release = true;
      else
        res.next = {
          deliveryId: str(row.next_id),
          attempts: num(row.attempts),
          event: eventFromRow(row),
          endpoint: endpointFromRow({ ...row, id: row.w_id, tenant_id: row.w_tenant_id }),
        };
    }
    out.set(str(row.delivery_id), res);
  }
  return out;
}

/** One completion (see completeDeliveries); false when the claim was lost. */
export async function completeDelivery(db: Db, c: Completion): Promise<boolean> {
  return (await completeDeliveries(db, [c])).has(c.deliveryId);
}

// ---------------------------------------------------------------------------
// Observability and housekeeping

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
 * finished (a pending delivery keeps its event however old). Deliveries and
 * attempts go with them (ON DELETE CASCADE). Returns the number deleted.
 */
export async function pruneEvents(db: Db, olderThanDays: number, batch = 1000): Promise<number> {
  const r = await sql`
    delete from events where id in (
      select e.id from events e
      where e.occurred_at < now() - make_interval(days => ${olderThanDays})
        and not exists (select 1 from webhook_deliveries d where d.event_id = e.id and d.status = 'pending')
      order by e.occurred_at limit ${batch})`.execute(db);
  return num(r.numAffectedRows ?? 0);
}
