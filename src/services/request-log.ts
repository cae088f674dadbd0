/**
 * The provisioning log (README "Provisioning log"): every SCIM request of a
 * tenant, recorded after its response without a database round trip on the
 * request's path. Entries wait in a bounded in-process queue and are written
 * with one multi-row INSERT every FLUSH_MS or BATCH entries; when the database
 * cannot take them (down, slow), the queue stops growing at MAX_QUEUE and
 * further entries are dropped and counted (roster_request_log_entries_total
 * {outcome="dropped"}), so the log never costs the SCIM API its memory or
 * latency. close() (app shutdown) writes what is queued.
 *
 * Retention (prune(), run by src/services/retention.ts): entries older than
 * REQUEST_LOG_RETENTION_DAYS go, and each tenant keeps at most
 * REQUEST_LOG_MAX_PER_TENANT, the oldest going first; each process caps the
 * tenants it logged since its last pass (only they can have grown).
 */
import type { Db } from '../db/index.js';
import * as repo from '../db/request-log.js';
import type { RequestLogEntry, StoredRequestLogEntry } from '../db/request-log.js';
import { badRequest } from '../scim/errors.js';
import { pageLimit, pageOf, parseTimelineCursor, timeRange, timelineCursor, type PageQuery } from './timeline.js';

export type { RequestLogEntry, StoredRequestLogEntry } from '../db/request-log.js';

export const FLUSH_MS = 200;
export const BATCH = 500;
export const MAX_QUEUE = 20_000;
const WARN_EVERY_MS = 60_000;

export interface RequestLogOptions {
  retentionDays: number;
  maxPerTenant: number;
  logger?: { warn(obj: object, msg: string): void };
  /** Queue bound (tests lower it). */
  maxQueue?: number;
}

export interface RequestLogStats {
  written: number;
  dropped: number;
  queued: number;
}

export class RequestLog {
  readonly #queue: RequestLogEntry[] = [];
  readonly #loggedSincePrune = new Set<string>();
  readonly #timer: NodeJS.Timeout;
  readonly #maxQueue: number;
  #inflight: Promise<void> | undefined;
  #written = 0;
  #dropped = 0;
  #lastWarn = 0;
  #closed = false;

  constructor(
    private readonly db: Db,
    private readonly opts: RequestLogOptions,
  ) {
    this.#maxQueue = opts.maxQueue ?? MAX_QUEUE;
    this.#timer = setInterval(() => void this.flush(), FLUSH_MS);
    this.#timer.unref();
  }

  get stats(): RequestLogStats {
    return { written: this.#written, dropped: this.#dropped, queued: this.#queue.length };
  }

  /** Queue an entry (never waits, never throws). */
  record(entry: RequestLogEntry): void {
    if (this.#closed || this.#queue.length >= this.#maxQueue) {
      this.#dropped++;
      return;
    }
    this.#queue.push(entry);
    if (this.#queue.length >= BATCH && !this.#inflight) void this.flush();
  }

  /** Write everything queued so far (a reader calls this to see this process's latest requests). */
  async flush(): Promise<void> {
    while (this.#inflight) await this.#inflight;
    if (this.#queue.length === 0) return;
    this.#inflight = this.#drain().finally(() => (this.#inflight = undefined));
    await this.#inflight;
  }

  async #drain(): Promise<void> {
    while (this.#queue.length) {
      const batch = this.#queue.splice(0, BATCH);
      try {
        this.#written += await repo.insertRequestLog(this.db, batch);
        for (const e of batch) this.#loggedSincePrune.add(e.tenantId);
      } catch (err) {
        // The database could not take them: drop this batch rather than hold it (the queue is bounded either way).
        this.#dropped += batch.length;
        if (Date.now() - this.#lastWarn > WARN_EVERY_MS) {
          this.#lastWarn = Date.now();
          this.opts.logger?.warn({ err, dropped: batch.length }, 'request log entries could not be written and were dropped');
        }
        return;
      }
    }
  }

  /**
   * Apply retention: by age across tenants, then the row cap of every tenant
   * this process logged since its last pass (or `tenants`).
   */
  async prune(tenants?: string[]): Promise<number> {
    let deleted = await untilNone(() => repo.pruneRequestLogByAge(this.db, this.opts.retentionDays));
    const ids = tenants ?? [...this.#loggedSincePrune];
    if (!tenants) this.#loggedSincePrune.clear();
    for (const id of ids) deleted += await untilNone(() => repo.pruneRequestLogOverCap(this.db, id, this.opts.maxPerTenant));
    return deleted;
  }

  /** One page of a tenant's log, newest first (after writing this process's queue, so its latest requests are in). */
  async search(tenantId: string, q: RequestLogSearch): Promise<{ items: StoredRequestLogEntry[]; next: string | null }> {
    const limit = pageLimit(q.limit);
    const query = { tenantId, before: parseTimelineCursor(q.cursor), ...timeRange(q), status: statusRange(q.status, q.errors), resourceId: q.resource, tokenId: q.token, limit: limit + 1 };
    await this.flush();
    return pageOf(await repo.listRequestLog(this.db, query), limit, timelineCursor);
  }

  async activity(tenantId: string, since: Date): Promise<{ requests: number; errors: number; last: StoredRequestLogEntry | undefined }> {
    await this.flush();
    return repo.requestActivity(this.db, tenantId, since);
  }

  /** Stop the timer and write what is queued (app shutdown); later entries are dropped. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#closed = true;
    await this.flush();
  }
}

export interface RequestLogSearch extends PageQuery {
  /** A status class (`4xx`) or code (`409`). */
  status?: string | undefined;
  /** `true`: only requests answered with an error (status ≥ 400). */
  errors?: string | undefined;
  /** Only requests that touched (or named) this resource id. */
  resource?: string | undefined;
  /** Only requests made with this token id. */
  token?: string | undefined;
}

const STATUS_RULE = 'status must be a class (1xx, 2xx, 3xx, 4xx, 5xx) or a status code such as 409';

/** Inclusive bounds of `status` and `errors`, or undefined for any status. */
export function statusRange(status: string | undefined, errors: string | undefined): { min: number; max: number } | undefined {
  if (errors !== undefined && errors !== 'true' && errors !== 'false') throw badRequest('invalidValue', 'errors must be true or false');
  let range: { min: number; max: number } | undefined;
  if (status !== undefined) {
    const cls = /^([1-5])xx$/i.exec(status);
    if (cls) range = { min: Number(cls[1]) * 100, max: Number(cls[1]) * 100 + 99 };
    else if (/^[1-5]\d\d$/.test(status)) range = { min: Number(status), max: Number(status) };
    else throw badRequest('invalidValue', `${STATUS_RULE}, not ${JSON.stringify(status)}`);
  }
  if (errors === 'true') range = { min: Math.max(400, range?.min ?? 400), max: range?.max ?? 599 };
  return range;
}

/** Run a batched delete until it deletes nothing; the total. */
export async function untilNone(step: () => Promise<number>): Promise<number> {
  let total = 0;
  for (let n = await step(); n > 0; n = await step()) total += n;
  return total;
}
