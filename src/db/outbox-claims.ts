/**
 * The delivery worker's side of the outbox: claiming ready queues, recording
 * attempts, handing queues back (outbox.ts explains the locking).
 */
import { sql, type Kysely } from 'kysely';
import type { AttemptOutcome, Endpoint, StoredEvent } from '../events/types.js';
import { ENDPOINT_COLUMNS, EVENT_COLUMNS, eventFromRow, num, str, type EventRow } from './outbox-rows.js';
import type { Database } from './types.js';
import { endpointFromRow, type EndpointRow } from './webhooks.js';

type Db = Kysely<Database>;

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

/** How many queues of each endpoint one claim may take (fair scheduling, below). */
export interface ClaimShares {
  /** Default number per endpoint (the per-endpoint in-flight cap). */
  perEndpoint: number;
  /** Endpoints that may take fewer: what their cap leaves after deliveries in flight, or 0 (circuit open). */
  allowances?: ReadonlyMap<string, number>;
}

/**
 * Claim up to `limit` ready queues of enabled endpoints and load the oldest
 * pending delivery of each, with its event and endpoint, in one statement.
 *
 * Fair scheduling: each endpoint offers at most its share of queues (oldest
 * ready first, through webhook_queues_endpoint_ready), and the offers are
 * taken round-robin: first one queue of each endpoint of each tenant, then a
 * second, and so on; so a tenant with a large backlog, or an endpoint that
 * hangs, cannot crowd out the others. Candidates are chosen without locks,
 * then locked in that order; rows another worker is claiming right now are
 * skipped (SKIP LOCKED) and rechecked as still ready. A claimed row's
 * ready_at moves to the end of the lease, which keeps it from being claimed
 * again until completed, released, or abandoned (crash: the lease runs out).
 */
export async function claimQueues(db: Db, limit: number, leaseMs: number, token: string, shares?: ClaimShares): Promise<Claim[]> {
  const perEndpoint = shares?.perEndpoint ?? limit;
  const allowances = JSON.stringify([...(shares?.allowances ?? [])].map(([endpoint_id, allow]) => ({ endpoint_id, allow })));
  const r = await sql<EventRow & EndpointRow & { q_endpoint_id: string; q_resource_id: string; delivery_id: unknown; attempts: unknown; w_id: string; w_tenant_id: string }>`
    with recursive busy (endpoint_id) as (
      -- Endpoints with pending deliveries, one index probe each (a skip scan of webhook_queues_endpoint_ready),
      -- so a claim costs what the backlog spans, not the number of endpoints.
      (select endpoint_id from webhook_queues where pending > 0 order by endpoint_id limit 1)
      union all
      select (select q.endpoint_id from webhook_queues q where q.pending > 0 and q.endpoint_id > b.endpoint_id order by q.endpoint_id limit 1)
      from busy b where b.endpoint_id is not null
    ), lim as (
      select * from json_to_recordset(${allowances}::json) as l(endpoint_id uuid, allow int)
    ), offer as (
      select w.tenant_id, o.endpoint_id, o.resource_id, o.ready_at, o.n
      from busy join webhook_endpoints w on w.id = busy.endpoint_id
      left join lim on lim.endpoint_id = w.id
      cross join lateral (
        select q2.endpoint_id, q2.resource_id, q2.ready_at, row_number() over (order by q2.ready_at) as n
        from webhook_queues q2
        where q2.endpoint_id = w.id and q2.pending > 0 and q2.ready_at <= now()
        order by q2.ready_at
        limit ${Math.max(1, Math.min(perEndpoint, limit))}
      ) o
      where w.enabled and coalesce(lim.allow, ${perEndpoint}) > 0 and o.n <= coalesce(lim.allow, ${perEndpoint})
    ), turn as (
      select endpoint_id, resource_id, ready_at, n, row_number() over (partition by tenant_id order by n, ready_at) as t
      from offer
    ), picked as (
      select q.endpoint_id, q.resource_id
      from webhook_queues q join turn using (endpoint_id, resource_id)
      where q.pending > 0 and q.ready_at <= now()
      order by turn.t, turn.n, turn.ready_at
      limit ${limit}
      for update of q skip locked
    ), claimed as (
      update webhook_queues q
      set ready_at = now() + make_interval(secs => ${leaseMs / 1000}), claim_token = ${token}
      from picked r
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
