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
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Db } from '../db/index.js';
import { claimQueues, completeDeliveries, pruneEvents, releaseQueue, repairQueue, type ClaimedQueue, type Completion, type CompletionResult, type HeadDelivery } from '../db/outbox.js';
import { nextDelay, parseRetryAfter } from './backoff.js';
import { deliveryMetrics } from './metrics.js';
import { listenForNotifications, onWake } from './notify.js';
import { webhookEnvelope } from './payload.js';
import { SET_CONTENT_TYPE, setClaims, setIssuer, signSet } from './set.js';
import { signatureHeader } from './signing.js';
import type { AttemptOutcome } from './types.js';

/** The settings the worker reads; `Config` satisfies it. */
export interface DeliveryConfig {
  publicUrl: string;
  databaseUrl?: string | undefined;
  webhookRetrySchedule: readonly number[];
  webhookTimeoutMs: number;
  webhookConcurrency: number;
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

export const USER_AGENT = 'Roster-Webhooks/1';
export const RESPONSE_SNIPPET = 500;
const PRUNE_EVERY_MS = 10 * 60_000;
const COALESCE_MS = 5;

/** The first `max` characters of a response body; the rest is not read (a receiver cannot make Roster buffer a huge answer). */
export async function readStart(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    while (text.length < max) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return text.slice(0, max);
}

type Attempt = { statusCode: number | null; error: string | null; retryAfterMs?: number | undefined; body?: string };

export function startDeliveryWorker(opts: DeliveryWorkerOptions): DeliveryWorker {
  const { db, logger, config } = opts;
  const id = opts.id ?? `worker-${randomUUID().slice(0, 8)}`;
  const leaseMs = opts.leaseMs ?? config.webhookTimeoutMs + 10_000;
  const maxRetryAfterMs = Math.max(...config.webhookRetrySchedule, 60_000);
  const inflight = new Map<string, { abort: AbortController; done: Promise<void> }>();
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

  async function claimAndStart(free: number): Promise<number> {
    const token = `${id}:${randomUUID()}`;
    const claims = await claimQueues(db, free, leaseMs, token);
    for (const { queue: q, head } of claims) {
      if (!head) {
        await repairQueue(db, q, token);
        continue;
      }
      const abort = new AbortController();
      const key = `${q.endpointId}/${q.resourceId}`;
      const done = deliver(q, token, head, abort.signal)
        .catch((err) => logger.error({ err, endpoint: q.endpointId, event: head.event.uid }, 'webhook delivery failed unexpectedly'))
        .finally(() => {
          inflight.delete(key);
          wake();
        });
      inflight.set(key, { abort, done });
    }
    return claims.length;
  }

  async function send(head: HeadDelivery, signal: AbortSignal): Promise<Attempt> {
    const { event, endpoint } = head;
    let body: string;
    const headers: Record<string, string> = { 'user-agent': USER_AGENT };
    if (endpoint.format === 'set') {
      // RFC 8935 §2.1: the SET is the body, media type application/secevent+jwt.
      body = await signSet(db, setClaims(event, endpoint, setIssuer(config.publicUrl, event.tenantId)));
      headers['content-type'] = SET_CONTENT_TYPE;
      headers.accept = 'application/json';
    } else {
      body = JSON.stringify(webhookEnvelope(event, endpoint));
      const ts = Math.floor(Date.now() / 1000);
      headers['content-type'] = 'application/json';
      headers['webhook-id'] = event.uid;
      headers['webhook-timestamp'] = String(ts);
      headers['webhook-signature'] = signatureHeader(endpoint, event.uid, ts, body);
    }
    const timeout = AbortSignal.timeout(config.webhookTimeoutMs);
    try {
      const res = await fetch(endpoint.url, { method: 'POST', body, headers, redirect: 'manual', signal: AbortSignal.any([signal, timeout]) });
      const text = await readStart(res, RESPONSE_SNIPPET);
      return { statusCode: res.status, error: null, retryAfterMs: parseRetryAfter(res.headers.get('retry-after')), body: text };
    } catch (err) {
      if (signal.aborted) throw err;
      if (timeout.aborted) return { statusCode: null, error: `timeout: no response within ${config.webhookTimeoutMs} ms` };
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      return { statusCode: null, error: `connection error: ${cause?.code ?? cause?.message ?? (err as Error).message}` };
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
    while (head) {
      const attemptedAt = new Date();
      const t0 = performance.now();
      let attempt: Attempt;
      try {
        if (signal.aborted) throw new Error('stopping');
        attempt = await send(head, signal);
      } catch (err) {
        if (signal.aborted) {
          // Stopping: give the queue back so that another worker sends it now rather than after the lease.
          await releaseQueue(db, q, token);
          return;
        }
        attempt = { statusCode: null, error: `could not build the request: ${(err as Error).message}` };
      }
      const latencyMs = performance.now() - t0;
      const verdict = classify(head, attempt);
      const result = await complete({
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
      });
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
          break;
      }
      if (result.release) await releaseQueue(db, q, token);
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
      } catch (err) {
        logger.error({ err, worker: id }, 'webhook worker could not claim work; retrying');
        if (!stopping) await sleep(config.webhookPollIntervalMs);
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
        await unlisten();
      })();
      return stopped;
    },
  };
}
