import { request } from 'node:http';
import t from 'tap';
import { Gauge } from 'prom-client';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/index.js';
import { deliveryMetrics, WebhookService } from '../../src/events/index.js';
import { outcomeOf, scimOperationOf, startMetricsServer } from '../../src/http/ops/metrics.js';
import { backends } from '../helpers/db.js';
import { startApp, user } from '../helpers/app.js';

function get(port: number, path: string): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, method: 'GET', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], body }));
    })
      .on('error', reject)
      .end();
  });
}

/** The value of one sample line, e.g. sample(text, 'roster_http_requests_total', { route: '/livez' }). */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    const m = /^([^{ ]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

t.test('SCIM operation of a route pattern', async (t) => {
  const p = '/scim/v2/:tenant';
  t.same(scimOperationOf('GET', `${p}/Users`), ['Users', 'list']);
  t.same(scimOperationOf('GET', `${p}/Users/:id`), ['Users', 'get']);
  t.same(scimOperationOf('POST', `${p}/Users`), ['Users', 'create']);
  t.same(scimOperationOf('PUT', `${p}/Groups/:id`), ['Groups', 'replace']);
  t.same(scimOperationOf('PATCH', `${p}/Groups/:id`), ['Groups', 'patch']);
  t.same(scimOperationOf('DELETE', `${p}/Users/:id`), ['Users', 'delete']);
  t.same(scimOperationOf('POST', `${p}/Users/.search`), ['Users', 'search']);
  t.same(scimOperationOf('POST', `${p}/.search`), ['*', 'search']);
  t.same(scimOperationOf('GET', p), ['*', 'list']);
  t.same(scimOperationOf('POST', `${p}/Bulk`), ['Bulk', 'bulk']);
  t.same(scimOperationOf('GET', `${p}/ServiceProviderConfig`), ['ServiceProviderConfig', 'get']);
  t.same(scimOperationOf('GET', `${p}/Schemas`), ['Schemas', 'list']);
  t.equal(scimOperationOf('GET', '/admin/v1/tenants'), undefined);
  t.same([200, 201, 204, 304, 400, 401, 404, 409, 412, 429, 500, 503].map(outcomeOf), [
    'success', 'success', 'success', 'success', 'client_error', 'client_error', 'not_found', 'conflict', 'precondition_failed', 'rate_limited', 'server_error', 'server_error',
  ]);
});

for (const backend of backends) {
  t.test(`${backend}: request and SCIM operation metrics use route patterns and authenticated tenants only`, async (t) => {
    const a = await startApp(t, backend);
    const created = await a.scim('POST', '/Users', user('bjensen@example.com'));
    t.equal(created.status, 201);
    const id = created.body.id as string;
    t.equal((await a.scim('GET', `/Users/${id}`)).status, 200);
    t.equal((await a.scim('GET', '/Users/2819c223-7f76-453a-919d-413861904646')).status, 404);
    t.equal((await a.scim('POST', '/Users', user('bjensen@example.com'))).status, 409);
    t.equal((await a.scim('GET', '/users?count=1')).status, 200, 'a lower-case path counts under the registered pattern');
    // Unauthenticated requests to made-up tenants must not create label values.
    const forged = await a.app.inject({ method: 'GET', url: '/scim/v2/attacker-chosen/Users', headers: { authorization: 'Bearer nope' } });
    t.equal(forged.statusCode, 401);
    t.equal((await a.app.inject({ method: 'GET', url: `/no/such/path/${id}` })).statusCode, 404);

    const text = await a.app.metrics.registry.metrics();
    const users = '/scim/v2/:tenant/Users';
    const byId = '/scim/v2/:tenant/Users/:id';
    t.equal(sample(text, 'roster_http_requests_total', { method: 'POST', route: users, status_code: '201' }), 1);
    t.equal(sample(text, 'roster_http_requests_total', { method: 'POST', route: users, status_code: '409' }), 1);
    t.equal(sample(text, 'roster_http_requests_total', { method: 'GET', route: byId, status_code: '200' }), 1);
    t.equal(sample(text, 'roster_http_requests_total', { method: 'GET', route: byId, status_code: '404' }), 1);
    t.equal(sample(text, 'roster_http_requests_total', { method: 'GET', route: users, status_code: '200' }), 1);
    t.equal(sample(text, 'roster_http_requests_total', { method: 'GET', route: users, status_code: '401' }), 1);
    t.equal(sample(text, 'roster_http_requests_total', { method: 'GET', route: 'unmatched', status_code: '404' }), 1);
    t.equal(sample(text, 'roster_http_request_duration_seconds_count', { method: 'GET', route: byId, status_code: '200' }), 1);
    t.ok(sample(text, 'roster_http_request_duration_seconds_bucket', { method: 'GET', route: byId, status_code: '200', le: '+Inf' }) === 1);
    t.notOk(text.includes(id), 'no resource id appears in any label');
    t.notOk(text.includes('/no/such/path'), 'unmatched URLs are not labels');

    const op = (resource_type: string, operation: string, outcome: string) =>
      sample(text, 'roster_scim_operations_total', { tenant: a.tenant, resource_type, operation, outcome });
    t.equal(op('Users', 'create', 'success'), 1);
    t.equal(op('Users', 'create', 'conflict'), 1);
    t.equal(op('Users', 'get', 'success'), 1);
    t.equal(op('Users', 'get', 'not_found'), 1);
    t.equal(op('Users', 'list', 'success'), 1);
    t.notOk(text.includes('attacker-chosen'), 'an unauthenticated tenant id is never a label value');

    t.equal(sample(text, 'roster_db_pool_max_connections', {}), backend === 'pglite' ? 1 : a.config.databasePoolMax);
    const idle = sample(text, 'roster_db_pool_connections', { state: 'idle' });
    const inUse = sample(text, 'roster_db_pool_connections', { state: 'in_use' });
    t.ok(idle !== undefined && idle >= 0 && inUse !== undefined && inUse >= 0, `pool: ${inUse} in use, ${idle} idle`);
    t.equal(sample(text, 'roster_db_pool_waiting', {}), 0);
    t.ok(sample(text, 'process_cpu_user_seconds_total', {}) !== undefined, 'default process metrics');
  });
}

t.test('metrics listener: GET /metrics only; other modules register their own metrics', async (t) => {
  const a = await startApp(t, backends[0]!);
  const server = await startMetricsServer(a.app.metrics, { host: '127.0.0.1', port: 0 });
  t.teardown(() => server.close());
  t.ok(server.port > 0);

  // The registration hook: a gauge read at scrape time, as the outbox backlog is.
  let backlog = 7;
  new Gauge({
    name: 'roster_test_backlog',
    help: 'test gauge',
    registers: [a.app.metrics.registry],
    collect() {
      this.set(backlog);
    },
  });
  await a.app.inject({ method: 'GET', url: '/livez' });
  const res = await get(server.port, '/metrics');
  t.equal(res.status, 200);
  t.match(res.type, /^text\/plain; version=0\.0\.4/);
  t.equal(sample(res.body, 'roster_test_backlog', {}), 7);
  t.equal(sample(res.body, 'roster_http_requests_total', { method: 'GET', route: '/livez', status_code: '200' }), 1);
  backlog = 3;
  t.equal(sample((await get(server.port, '/metrics?x=1')).body, 'roster_test_backlog', {}), 3, 'read at each scrape');

  t.equal((await get(server.port, '/')).status, 404);
  t.equal((await get(server.port, '/livez')).status, 404);
});

t.test('metrics are not on the public listener unless METRICS_ON_MAIN_LISTENER=true', async (t) => {
  const off = await startApp(t, backends[0]!);
  t.equal((await off.app.inject({ method: 'GET', url: '/metrics' })).statusCode, 404);

  const on = await startApp(t, backends[0]!, { METRICS_ON_MAIN_LISTENER: 'true' });
  const res = await on.app.inject({ method: 'GET', url: '/metrics' });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  t.match(res.body, /roster_db_pool_connections/);
});

t.test('each app has its own registry', async (t) => {
  const a = await startApp(t, backends[0]!);
  const b = await buildApp({ config: a.config, database: a.database });
  t.teardown(() => b.app.close());
  t.not(b.ops.metrics.registry, a.app.metrics.registry);
  t.equal(b.ops.metrics, b.app.metrics);
});

for (const backend of backends) {
  t.test(`${backend}: webhook delivery totals and the outbox backlog`, async (t) => {
    const a = await startApp(t, backend, { WEBHOOK_WORKER: 'false' });
    const scrape = () => a.app.metrics.registry.metrics();
    let text = await scrape();
    t.equal(sample(text, 'roster_outbox_pending_deliveries', {}), 0);
    t.equal(sample(text, 'roster_outbox_oldest_pending_age_seconds', {}), 0);
    // The counters mirror the worker's process-wide totals.
    t.equal(sample(text, 'roster_webhook_deliveries_total', { outcome: 'delivered' }), deliveryMetrics.delivered);
    t.equal(sample(text, 'roster_webhook_deliveries_total', { outcome: 'dead_lettered' }), deliveryMetrics.deadLettered);
    t.equal(sample(text, 'roster_webhook_failed_attempts_total', {}), deliveryMetrics.failedAttempts);
    t.equal(sample(text, 'roster_webhook_attempts_total', {}), deliveryMetrics.attemptCount);

    // An endpoint and a change, no worker running: one delivery waits.
    await new WebhookService(a.database.db, { secretGraceSeconds: 0, destinations: { allowed: ['127.0.0.1'], denied: [] } }).create(a.tenant, { url: 'http://127.0.0.1:59999/hook' });
    const g = await a.scim('POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Metrics' });
    t.equal(g.status, 201);
    text = await scrape();
    t.ok((sample(text, 'roster_outbox_pending_deliveries', {}) ?? 0) >= 1, 'the pending delivery is counted');
    t.ok((sample(text, 'roster_outbox_oldest_pending_age_seconds', {}) ?? -1) >= 0);
  });
}

t.test('a scrape still answers when the outbox cannot be read', async (t) => {
  // A database without the outbox tables (not migrated): the gauges keep their last value, the rest is served.
  const database = await openDatabase({ dataDir: 'memory://' });
  t.teardown(() => database.close());
  const { app } = await buildApp({ config: loadConfig({ LOG_LEVEL: 'silent' }), database });
  t.teardown(() => app.close());
  const text = await app.metrics.registry.metrics();
  t.equal(sample(text, 'roster_outbox_pending_deliveries', {}), 0);
  t.ok(sample(text, 'roster_db_pool_max_connections', {}) === 1);
});
