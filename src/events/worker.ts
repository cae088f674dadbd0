/**
 * The delivery worker: claims ready (endpoint, resource) queues, sends each
 * queue's oldest pending event, records the outcome. Any number of workers,
 * in one process or many, can run against one database (src/db/outbox.ts
 * explains the locking). No database transaction is ever open while an HTTP
 * request is in flight: claim (one statement) → send → complete (one short
 * transaction).
 *
 * Outcomes of an attempt:
 * - 2xx → succeeded (RFC 8935 §2.2 asks SET receivers for 202; any 2xx is taken);
 * - 410 Gone → the endpoint is disabled, the delivery stays pending for when
 *   an administrator re-enables it;
 * - timeout, connection error, 408, 425, 429, 5xx → retried after the next delay
 *   of the schedule (or Retry-After, if later), dead-lettered when it runs out;
 * - any other status (3xx, 4xx; RFC 8935 §2.4: a SET rejected with 400) →
 *   dead-lettered at once: the receiver said it will never take this request,
 *   and holding it would block the resource's later events for days.
 *
 * Fairness: one endpoint holds at most WEBHOOK_ENDPOINT_CONCURRENCY of the
 * process's slots, claims are shared round-robin across tenants and endpoints
 * (src/db/outbox-claims.ts), and an endpoint that stops answering is backed
 * off by its circuit breaker (src/events/breaker.ts).
 *
 * Database outages: a failed claim is retried with a growing pause (and at
 * once when the LISTEN connection comes back); an outcome that could not be
 * recorded is retried until the claim's lease would run out, so a delivery
 * the receiver already has is not sent again merely because Postgres
 * restarted.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { isDatabaseUnavailable } from '../db/errors.js';
import type { Db } from '../db/index.js';
import { claimQueues, completeDeliveries, releaseQueue, repairQueue, type ClaimedQueue, type Completion, type CompletionResult, type HeadDelivery } from '../db/outbox-claims.js';
import { pruneEvents } from '../db/outbox-housekeeping.js';
import { nextDelay } from './backoff.js';
import { EndpointBreakers } from './breaker.js';
import type { DeliveryAgentOptions } from './http-client.js';
import { deliveryMetrics } from './metrics.js';
import { listenForNotifications, onWake } from './notify.js';
import { createSender, type Attempt, type SenderConfig } from './sender.js';
import { internalActor } from '../services/actor.js';
import { recordTenantEvent } from './record.js';
import type { AttemptOutcome } from './types.js';

/** Who the events the worker itself records are from (data.actor). */
const WORKER_ACTOR = internalActor('system', 'webhook delivery');

/** The settings the worker reads; `Config` satisfies it. */
export interface DeliveryConfig extends SenderConfig {
  databaseUrl?: string | undefined;
  webhookRetrySchedule: readonly number[];
  webhookConcurrency: number;
  /** Slots one endpoint may hold; default half of webhookConcurrency (at least 1). */
  webhookEndpointConcurrency?: number | undefined;
  webhookPollIntervalMs: number;
  eventsRetentionDays?: number;
}

export interface DeliveryWorkerOptions {
  db: Db;
  logger: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  config: DeliveryConfig;
  /** How long a claim stays exclusive; default timeout + 10 s. A crashed worker's queues come back after it. */
  leaseMs?: number;
  /** Name in logs and claim tokens. */
  id?: string;
  /** Name resolution for deliveries (src/events/http-client.ts); the system resolver by default. */
  lookup?: DeliveryAgentOptions['lookup'];
}

export interface DeliveryWorker {
  readonly id: string;
  /** Look for work now. */
  wake(): void;
  /**
   * Stop claiming, let in-flight deliveries finish for up to `deadlineMs`,
   * then abort the rest and hand their queues back (they are sent again,
   * by this or another process: at-least-once).
   */
  stop(deadlineMs?: number): Promise<void>;
}

const PRUNE_EVERY_MS = 10 * 60_000;
const COALESCE_MS = 5;
/** Longest pause between claims while the database is unavailable (the LISTEN connection's return ends it early). */
const MAX_OUTAGE_PAUSE_MS = 5_000;

/** Default share of the process's slots one endpoint may hold. */
export const endpointConcurrency = (c: Pick<DeliveryConfig, 'webhookConcurrency' | 'webhookEndpointConcurrency'>): number =>
  Math.min(c.webhookConcurrency, c.webhookEndpointConcurrency ?? Math.max(1, Math.ceil(c.webhookConcurrency / 2)));

export function startDeliveryWorker(opts: DeliveryWorkerOptions): DeliveryWorker {
  const { db, logger, config } = opts;
  const id = opts.id ?? `worker-${randomUUID().slice(0, 8)}`;
  const leaseMs = opts.leaseMs ?? config.webhookTimeoutMs + 10_000;
  const maxRetryAfterMs = Math.max(...config.webhookRetrySchedule, 60_000);
  const inflight = new Map<string, { abort: AbortController; done: Promise<void> }>();
  /** Deliveries in flight per endpoint, and each endpoint's circuit. */
  const busy = new Map<string, number>();
  const breakers = new EndpointBreakers();
  const perEndpoint = endpointConcurrency(config);
  const sender = createSender(db, config, opts.lookup ? { lookup: opts.lookup } : {});
  let stopping = false;
  let dirty = true;
  let waiter: (() => void) | undefined;
  let lastPrune = 0;

  const wake = () => {
    dirty = true;
    waiter?.();
  };
  const unsubscribe = onWake(wake);
  const unlisten = config.databaseUrl ? listenForNotifications(config.databaseUrl, wake, logger) : async () => {};

  // Completions are written in batches: while one batch is being written, the
  // next ones gather (one statement for all of them; on PGlite's single
  // connection this is what keeps delivery up with the writers).
  const batch: { c: Completion; resolve: (r: CompletionResult | undefined) => void; reject: (e: unknown) => void }[] = [];
  let flushing = false;
  const complete = (c: Completion) =>
    new Promise<CompletionResult | undefined>((resolve, reject) => {
      batch.push({ c, resolve, reject });
      if (batch.length === 1) setImmediate(() => void flush()); // gather what completes in the same turn
    });
  async function flush(): Promise<void> {
    if (flushing) return;
    flushing = true;
    try {
      while (batch.length) {
        const now = batch.splice(0, 200);
        try {
          const ok = await completeDeliveries(db, now.map((b) => b.c));
          for (const b of now) b.resolve(ok.get(b.c.deliveryId));
        } catch (err) {
          for (const b of now) b.reject(err);
        }
      }
    } finally {
      flushing = false;
    }
  }

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        waiter = undefined;
        resolve();
      };
      const t = setTimeout(done, ms);
      waiter = done;
    });

  /** What each endpoint with deliveries in flight or a limiting circuit may still take. */
  function allowances(): Map<string, number> {
    const m = new Map<string, number>();
    for (const e of new Set([...busy.keys(), ...breakers.limited()])) m.set(e, Math.max(0, breakers.slots(e, perEndpoint) - (busy.get(e) ?? 0)));
    return m;
  }

  async function claimAndStart(free: number): Promise<number> {
    const token = `${id}:${randomUUID()}`;
    const claims = await claimQueues(db, free, leaseMs, token, { perEndpoint, allowances: allowances() });
    for (const { queue: q, head } of claims) {
      if (!head) {
        await repairQueue(db, q, token);
        continue;
      }
      const abort = new AbortController();
      const key = `${q.endpointId}/${q.resourceId}`;
      busy.set(q.endpointId, (busy.get(q.endpointId) ?? 0) + 1);
      const done = deliver(q, token, head, abort.signal)
        .catch((err) => logger.error({ err, endpoint: q.endpointId, event: head.event.uid }, 'webhook delivery failed unexpectedly'))
        .finally(() => {
          inflight.delete(key);
          const n = (busy.get(q.endpointId) ?? 1) - 1;
          if (n > 0) busy.set(q.endpointId, n);
          else busy.delete(q.endpointId);
          wake();
        });
      inflight.set(key, { abort, done });
    }
    return claims.length;
  }

  /** Record an outcome; while the database is unavailable, try again until the claim's lease would run out. */
  async function completeRetrying(c: Completion, leaseFrom: number): Promise<CompletionResult | undefined> {
    for (let pause = 250; ; pause = Math.min(pause * 2, MAX_OUTAGE_PAUSE_MS)) {
      try {
        return await complete(c);
      } catch (err) {
        if (!isDatabaseUnavailable(err) || Date.now() + pause - leaseFrom > leaseMs) throw err;
        logger.warn({ worker: id, err: (err as Error).message, retryInMs: pause }, 'webhook outcome could not be recorded (database unavailable); retrying');
        await new Promise((r) => setTimeout(r, pause));
      }
    }
  }

  function classify(head: HeadDelivery, a: Attempt): { outcome: AttemptOutcome; error: string | null; retryInMs?: number } {
    const s = a.statusCode;
    if (s !== null && s >= 200 && s < 300) return { outcome: 'succeeded', error: null };
    if (s === 410) return { outcome: 'disabled', error: `410 Gone from ${head.endpoint.url}: endpoint disabled` };
    const retryable = s === null || s === 408 || s === 425 || s === 429 || s >= 500;
    const detail = a.error ?? `HTTP ${s}${a.body ? `: ${a.body}` : ''}`;
    if (!retryable) return { outcome: 'dead', error: `${detail} (not retried)` };
    const delay = nextDelay(config.webhookRetrySchedule, head.attempts + 1);
    if (delay === undefined) return { outcome: 'dead', error: `${detail} (retries exhausted after ${head.attempts + 1} attempts)` };
    const retryAfter = a.retryAfterMs === undefined ? 0 : Math.min(a.retryAfterMs, maxRetryAfterMs);
    return { outcome: 'retry', error: detail, retryInMs: Math.max(delay, retryAfter) };
  }

  /**
   * Work one claimed queue: send its head; after a final outcome keep the
   * claim and go on with the queue's next event (one statement per event),
   * until the queue is empty, an attempt is to be retried later, or the
   * worker stops.
   */
  async function deliver(q: ClaimedQueue, token: string, first: HeadDelivery, signal: AbortSignal): Promise<void> {
    let head: HeadDelivery | undefined = first;
    let leaseFrom = Date.now(); // the claim, or the completion that extended it
    while (head) {
      const attemptedAt = new Date();
      const t0 = performance.now();
      let attempt: Attempt;
      try {
        if (signal.aborted) throw new Error('stopping');
        attempt = await sender.send(head.event, head.endpoint, signal);
      } catch (err) {
        if (signal.aborted) {
          // Stopping: give the queue back so that another worker sends it now rather than after the lease.
          await releaseQueue(db, q, token);
          return;
        }
        // Signing needs the database (SET keys); an outage there says nothing about the receiver.
        if (isDatabaseUnavailable(err)) throw err;
        attempt = { statusCode: null, error: `could not build the request: ${(err as Error).message}`, timedOut: false };
      }
      const latencyMs = performance.now() - t0;
      if (breakers.record(head.endpoint.id, attempt.timedOut) === 'opened') {
        deliveryMetrics.circuitsOpened++;
        logger.warn({ worker: id, endpoint: head.endpoint.id, url: head.endpoint.url, error: attempt.error }, 'webhook endpoint keeps timing out; backing it off (circuit open)');
      }
      const verdict = classify(head, attempt);
      const result = await completeRetrying({
        queue: q,
        token,
        deliveryId: head.deliveryId,
        outcome: verdict.outcome,
        attemptedAt,
        statusCode: attempt.statusCode,
        latencyMs,
        error: verdict.error,
        ...(verdict.retryInMs !== undefined ? { retryInMs: verdict.retryInMs } : {}),
        ...(stopping ? {} : { continueLeaseMs: leaseMs }),
      }, leaseFrom);
      leaseFrom = Date.now();
      const m = deliveryMetrics;
      m.attemptCount++;
      m.attemptLatencyMsSum += latencyMs;
      const log = { worker: id, endpoint: head.endpoint.id, event: head.event.uid, type: head.event.type, status: attempt.statusCode, attempt: head.attempts + 1 };
      if (!result) {
        logger.warn(log, 'webhook claim was lost (lease expired) before the outcome was recorded; another worker owns the queue');
        return;
      }
      switch (verdict.outcome) {
        case 'succeeded':
          m.delivered++;
          if (head.attempts === 0) {
            m.commitToDeliveryCount++;
            m.commitToDeliveryMsSum += Date.now() - head.event.occurredAt.getTime();
          }
          logger.debug({ ...log, latencyMs: Math.round(latencyMs) }, 'webhook delivered');
          break;
        case 'retry':
          m.failedAttempts++;
          logger.info({ ...log, error: verdict.error, retryInMs: verdict.retryInMs }, 'webhook delivery failed; will retry');
          break;
        case 'dead':
          m.deadLettered++;
          logger.warn({ ...log, error: verdict.error }, 'webhook delivery dead-lettered');
          break;
        case 'disabled':
          m.endpointsDisabled++;
          logger.warn({ ...log, url: head.endpoint.url }, 'webhook endpoint answered 410 Gone and was disabled');
          // The host's other endpoints and the poll feed learn of it (README "Tenant events").
          {
            const endpoint = head.endpoint;
            await recordTenantEvent(db, endpoint.tenantId, 'tenant.webhook_disabled', { endpoint: endpoint.id, url: endpoint.url, reason: verdict.error }, WORKER_ACTOR).catch((err: unknown) =>
              logger.error({ err, endpoint: endpoint.id }, 'could not record tenant.webhook_disabled'),
            );
          }
          break;
      }
      if (result.release) await releaseQueue(db, q, token);
      // The circuit opened or this endpoint's share shrank: hand the rest of the queue back to the scheduler.
      if (result.next && breakers.slots(head.endpoint.id, perEndpoint) < (busy.get(head.endpoint.id) ?? 0)) {
        await releaseQueue(db, q, token);
        return;
      }
      head = result.next;
    }
  }

  async function housekeeping(): Promise<void> {
    if (!config.eventsRetentionDays || Date.now() - lastPrune < PRUNE_EVERY_MS) return;
    lastPrune = Date.now();
    let n = 0;
    for (let i = 0; i < 100; i++) {
      const deleted = await pruneEvents(db, config.eventsRetentionDays);
      n += deleted;
      if (deleted === 0 || stopping) break;
    }
    if (n) logger.info({ deleted: n, retentionDays: config.eventsRetentionDays }, 'old events pruned');
  }

  // Claims are batched too: with deliveries in flight, a freed slot waits up to
  // COALESCE_MS for others (a quarter of the slots) rather than costing a
  // query each; an idle worker claims at once, so latency stays low.
  const minBatch = Math.max(1, Math.floor(config.webhookConcurrency / 4));
  let freeSince = 0;
  let failures = 0;
  const loop = (async () => {
    while (!stopping) {
      dirty = false;
      const free = config.webhookConcurrency - inflight.size;
      let claimed = 0;
      if (free > 0 && inflight.size > 0 && free < minBatch) {
        freeSince ||= Date.now();
        const wait = COALESCE_MS - (Date.now() - freeSince);
        if (wait > 0) {
          await sleep(wait); // a completion's wake ends it early; then look again
          continue;
        }
      }
      freeSince = 0;
      try {
        if (free > 0) claimed = await claimAndStart(free);
        await housekeeping();
        if (failures) logger.info({ worker: id, failures }, 'webhook worker reached the database again');
        failures = 0;
      } catch (err) {
        // Each failure doubles the pause (up to MAX_OUTAGE_PAUSE_MS); new events or the LISTEN connection's return wake it early.
        const pause = Math.min(config.webhookPollIntervalMs * 2 ** failures, Math.max(MAX_OUTAGE_PAUSE_MS, config.webhookPollIntervalMs));
        if (failures++ === 0 || !isDatabaseUnavailable(err)) logger.error({ err, worker: id, retryInMs: pause }, 'webhook worker could not claim work; retrying');
        if (!stopping) await sleep(pause);
        continue;
      }
      if (stopping) break;
      if (free > 0 && claimed === free) continue; // there may be more ready right now
      if (dirty) continue;
      await sleep(config.webhookPollIntervalMs);
    }
  })();

  let stopped: Promise<void> | undefined;
  return {
    id,
    wake,
    stop(deadlineMs = 10_000) {
      stopped ??= (async () => {
        stopping = true;
        waiter?.();
        await loop;
        const all = Promise.allSettled([...inflight.values()].map((x) => x.done));
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([all, new Promise<void>((r) => (timer = setTimeout(r, deadlineMs)))]);
        clearTimeout(timer);
        for (const x of inflight.values()) x.abort.abort();
        await all;
        unsubscribe();
        await Promise.all([unlisten(), sender.close()]);
      })();
      return stopped;
    },
  };
}
