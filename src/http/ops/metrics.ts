/**
 * Prometheus metrics (prom-client), one registry per app.
 *
 * - roster_http_requests_total / roster_http_request_duration_seconds by
 *   method, route pattern (`/scim/v2/:tenant/Users/:id`, never the raw URL,
 *   so ids cannot blow up cardinality) and status code;
 * - roster_scim_operations_total by tenant, resource endpoint, operation and
 *   outcome, for authenticated SCIM requests only (an unauthenticated caller
 *   cannot invent tenant label values);
 * - roster_db_pool_connections{state}, roster_db_pool_waiting and
 *   roster_db_pool_max_connections from the pool;
 * - webhook delivery outcomes and the outbox backlog (registerDeliveryMetrics);
 * - the prom-client default process and Node.js metrics.
 *
 * Other modules add their own metrics to `metrics.registry`, e.g. the outbox
 * backlog as a gauge read at scrape time:
 *
 *   new Gauge({ name: 'roster_outbox_backlog', help: '…', registers: [metrics.registry],
 *               async collect() { this.set(await countPending()); } });
 *
 * Served at /metrics on a separate listener (startMetricsServer, started by
 * main.ts at METRICS_PORT) and, with METRICS_ON_MAIN_LISTENER=true, on the
 * public listener too.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Db } from '../../db/index.js';
import { deliveryBacklog, deliveryMetrics, type DeliveryMetrics } from '../../events/metrics.js';

export type PoolStats = { total: number; idle: number; waiting: number };

export type ScimOutcome = 'success' | 'not_found' | 'conflict' | 'precondition_failed' | 'rate_limited' | 'client_error' | 'server_error';

export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests: Counter<'method' | 'route' | 'status_code'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  readonly scimOperations: Counter<'tenant' | 'resource_type' | 'operation' | 'outcome'>;

  constructor(opts: { poolStats: () => PoolStats; poolMax: number }) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.httpRequests = new Counter({
      name: 'roster_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status_code'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'roster_http_request_duration_seconds',
      help: 'Time from receiving a request to sending its response, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.scimOperations = new Counter({
      name: 'roster_scim_operations_total',
      help: 'Authenticated SCIM requests by tenant, resource endpoint (Users, Groups, Bulk, ...), operation and outcome.',
      labelNames: ['tenant', 'resource_type', 'operation', 'outcome'],
      registers,
    });
    new Gauge({
      name: 'roster_db_pool_connections',
      help: 'Open database connections of this process by state (in_use, idle).',
      labelNames: ['state'],
      registers,
      collect() {
        const s = opts.poolStats();
        this.set({ state: 'in_use' }, s.total - s.idle);
        this.set({ state: 'idle' }, s.idle);
      },
    });
    new Gauge({ name: 'roster_db_pool_max_connections', help: 'Largest number of database connections this process opens (DATABASE_POOL_MAX).', registers }).set(opts.poolMax);
    new Gauge({
      name: 'roster_db_pool_waiting',
      help: 'Queries waiting for a free database connection.',
      registers,
      collect() {
        this.set(opts.poolStats().waiting);
      },
    });
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/**
 * Webhook delivery metrics: the delivery worker's process-wide totals
 * (src/events/metrics.ts) as counters, and the outbox backlog (all
 * processes, read from the database once per scrape, given up after
 * `timeoutMs`) as gauges.
 */
export function registerDeliveryMetrics(metrics: Metrics, db: Db, opts: { timeoutMs?: number } = {}): void {
  const registers = [metrics.registry];
  const total = (name: string, help: string, read: (m: DeliveryMetrics) => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        // The worker keeps monotonic totals; mirror them.
        this.reset();
        const v = read(deliveryMetrics);
        if (v > 0) this.inc(v);
      },
    });
  new Counter({
    name: 'roster_webhook_deliveries_total',
    help: 'Webhook deliveries finished by this process, by outcome: delivered (2xx) or dead_lettered (retries exhausted or a permanent 4xx).',
    labelNames: ['outcome'],
    registers,
    collect() {
      this.reset();
      this.inc({ outcome: 'delivered' }, deliveryMetrics.delivered);
      this.inc({ outcome: 'dead_lettered' }, deliveryMetrics.deadLettered);
    },
  });
  total('roster_webhook_failed_attempts_total', 'Delivery attempts that failed and will be retried (timeout, connection error, 408, 425, 429, 5xx).', (m) => m.failedAttempts);
  total('roster_webhook_endpoints_disabled_total', 'Webhook endpoints switched off because they answered 410 Gone.', (m) => m.endpointsDisabled);
  total('roster_webhook_circuit_opened_total', 'Times a webhook endpoint kept timing out and was backed off (circuit breaker).', (m) => m.circuitsOpened);
  total('roster_webhook_attempts_total', 'HTTP delivery attempts made by this process.', (m) => m.attemptCount);
  total('roster_webhook_attempt_seconds_total', 'Total time spent in delivery attempts; divide by roster_webhook_attempts_total for the mean.', (m) => m.attemptLatencyMsSum / 1000);
  total('roster_webhook_first_attempt_deliveries_total', 'Events delivered on their first attempt.', (m) => m.commitToDeliveryCount);
  total(
    'roster_webhook_commit_to_delivery_seconds_total',
    'Total time from commit to successful first-attempt delivery; divide by roster_webhook_first_attempt_deliveries_total for the mean.',
    (m) => m.commitToDeliveryMsSum / 1000,
  );

  // One database read per scrape for both gauges; a slow or failing database leaves the last values.
  const timeoutMs = opts.timeoutMs ?? 2_000;
  let reading: Promise<void> | undefined;
  let pending = 0;
  let oldest = 0;
  const read = () =>
    (reading ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      try {
        const b = await Promise.race([
          deliveryBacklog(db),
          new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), timeoutMs))),
        ]);
        pending = b.pending;
        oldest = b.oldestAgeSeconds ?? 0;
      } catch {
        // keep the previous reading
      } finally {
        clearTimeout(timer);
        reading = undefined;
      }
    })());
  new Gauge({
    name: 'roster_outbox_pending_deliveries',
    help: 'Webhook deliveries waiting to be sent, across all endpoints and processes.',
    registers,
    async collect() {
      await read();
      this.set(pending);
    },
  });
  new Gauge({
    name: 'roster_outbox_oldest_pending_age_seconds',
    help: 'Age of the oldest pending webhook delivery (0 when none).',
    registers,
    async collect() {
      await read();
      this.set(oldest);
    },
  });
}

const SCIM_ROUTE = '/scim/v2/:tenant';

/** Resource endpoint and operation of a SCIM route pattern, e.g. ['Users', 'patch']. */
export function scimOperationOf(method: string, route: string): [resourceType: string, operation: string] | undefined {
  if (!route.startsWith(SCIM_ROUTE)) return undefined;
  const segs = route.slice(SCIM_ROUTE.length).split('/').filter(Boolean);
  // Queries across resource types (GET on the base URL, POST /.search; RFC 7644 §3.4.2.1, §3.4.3) count as "*".
  const resource = segs[0] === undefined || segs[0] === '.search' ? '*' : segs[0];
  const last = segs[segs.length - 1] ?? '';
  const byId = last.startsWith(':');
  switch (method) {
    case 'GET':
    case 'HEAD':
      return [resource, byId || resource === 'ServiceProviderConfig' ? 'get' : 'list'];
    case 'POST':
      if (last.toLowerCase() === '.search') return [resource, 'search'];
      if (resource.toLowerCase() === 'bulk') return [resource, 'bulk'];
      return [resource, 'create'];
    case 'PUT':
      return [resource, 'replace'];
    case 'PATCH':
      return [resource, 'patch'];
    case 'DELETE':
      return [resource, 'delete'];
    default:
      return [resource, method.toLowerCase()];
  }
}

export function outcomeOf(status: number): ScimOutcome {
  if (status < 400) return 'success';
  if (status === 404) return 'not_found';
  if (status === 409) return 'conflict';
  if (status === 412) return 'precondition_failed';
  if (status === 429) return 'rate_limited';
  return status < 500 ? 'client_error' : 'server_error';
}

/** scimOperationOf per method and route pattern, worked out once (the patterns are the app's own routes, a fixed set). */
const operations = new Map<string, ReturnType<typeof scimOperationOf>>();
function operationOfRoute(method: string, route: string): ReturnType<typeof scimOperationOf> {
  const key = `${method} ${route}`;
  if (operations.has(key)) return operations.get(key);
  const op = scimOperationOf(method, route);
  operations.set(key, op);
  return op;
}

/** Count every response; call on the root instance before routes are registered. */
export function installMetricsHooks(app: FastifyInstance, metrics: Metrics): void {
  // Callback style: runs for every response, and an async hook would cost a promise each time.
  app.addHook('onResponse', (req: FastifyRequest, reply: FastifyReply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const labels = { method: req.method, route, status_code: String(reply.statusCode) };
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
    const tenant = (req as Partial<Pick<FastifyRequest, 'scim'>>).scim?.tenant?.id;
    const op = tenant ? operationOfRoute(req.method, route) : undefined;
    if (tenant && op) metrics.scimOperations.inc({ tenant, resource_type: op[0], operation: op[1], outcome: outcomeOf(reply.statusCode) });
    done();
  });
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** A plain HTTP listener answering GET /metrics and nothing else. */
export async function startMetricsServer(metrics: Metrics, opts: { host: string; port: number }): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: metrics are at GET /metrics\n');
      return;
    }
    metrics.render().then(
      ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(req.method === 'HEAD' ? undefined : body),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics collection failed: ${err instanceof Error ? err.message : String(err)}\n`),
    );
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
