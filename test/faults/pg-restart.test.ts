/**
 * Postgres restarted under write load (issue 23): a private cluster
 * (test/faults/cluster.ts) is restarted with `pg_ctl restart -m fast`, as a
 * failover or minor-version upgrade does, and later stopped for a moment,
 * while SCIM creates run through a real port against Roster with its
 * delivery worker and LISTEN connection. Roster must stay up (a `pg` client
 * without an error listener would crash this very process), answer 503 with
 * Retry-After while the database is away and never 500, keep every 201 with
 * its event, report the outage on /readyz and recover, and deliver every
 * event afterwards.
 */
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import pino from 'pino';
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { startDeliveryWorker } from '../../src/events/worker.js';
import { openConfiguredDatabase } from '../../src/startup.js';
import { startReceiver, until } from '../events/helpers.js';
import { USER_SCHEMA } from '../helpers/app.js';
import { postgresBin, startCluster } from './cluster.js';

const bin = postgresBin();
const ADMIN_TOKEN = 'fault-test-admin-token-0123456';

interface Outcome {
  userName: string;
  status: number;
  retryAfter?: string | undefined;
  body: any;
  phase: string;
}

t.test('Postgres restarted and stopped under write load', { skip: bin ? false : 'initdb not found under /usr/lib/postgresql (set PG_BIN to run the fault suite)' }, async (t) => {
  const cluster = await startCluster(t, bin!);
  const admin = new pg.Client({ connectionString: cluster.url() });
  await admin.connect();
  await admin.query('create database roster');
  await admin.end();

  const config = loadConfig({
    DATABASE_URL: cluster.url('roster'),
    ADMIN_TOKEN,
    LOG_LEVEL: 'silent',
    RATE_LIMIT_SCIM_PER_MINUTE: '0',
    WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32',
    WEBHOOK_POLL_INTERVAL_MS: '100',
    WEBHOOK_RETRY_SCHEDULE: '100ms,200ms,400ms,800ms',
  });
  const database = await openConfiguredDatabase(config);
  t.teardown(() => database.close());
  const { app, services } = await buildApp({ config, database });
  t.teardown(() => app.close());
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const worker = startDeliveryWorker({ db: database.db, logger: pino({ level: 'silent' }), config });
  t.teardown(() => worker.stop(0));

  await services.tenants.create({ id: 'acme' });
  const { secret: token } = await services.tenants.issueToken('acme', { name: 'faults' });
  const rx = await startReceiver(t);
  const hook = await fetch(`${base}/admin/v1/tenants/acme/webhooks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url: rx.url, events: ['user.created'] }),
  });
  t.equal(hook.status, 201);

  // The load: 6 writers creating users until told to stop (bounded to 3,000 requests).
  let phase = 'before';
  let stop = false;
  let n = 0;
  const outcomes: Outcome[] = [];
  const failures: string[] = [];
  const writer = async () => {
    while (!stop && n < 3000) {
      const userName = `fault-${n++}`;
      try {
        const r = await fetch(`${base}/scim/v2/acme/Users`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
          body: JSON.stringify({ schemas: [USER_SCHEMA], userName }),
        });
        outcomes.push({ userName, status: r.status, retryAfter: r.headers.get('retry-after') ?? undefined, body: await r.json(), phase });
      } catch (err) {
        failures.push(`${userName}: ${(err as Error).message}`);
      }
    }
  };
  const readiness: { status: number; phase: string }[] = [];
  const probe = async () => {
    while (!stop) {
      const r = await fetch(`${base}/readyz`);
      readiness.push({ status: r.status, phase });
      await r.text();
      await sleep(50);
    }
  };
  const load = [...Array.from({ length: 6 }, writer), probe()];
  const created = () => outcomes.filter((o) => o.status === 201).length;

  await until(() => created() >= 100, 10_000, () => 'writes before the restart');
  phase = 'restart';
  const restartStarted = Date.now();
  await cluster.restart();
  const restartMs = Date.now() - restartStarted;
  phase = 'after restart';
  await until(() => outcomes.some((o) => o.phase === 'after restart' && o.status === 201), 10_000, () => 'writes after the restart');

  // A longer outage (the server is down for a second), so that requests meet a refused connection and /readyz sees it.
  await sleep(300);
  phase = 'stopped';
  await cluster.stop();
  await sleep(1000);
  phase = 'starting';
  await cluster.start();
  phase = 'after';
  await until(() => outcomes.some((o) => o.phase === 'after' && o.status === 201) && readiness.at(-1)?.status === 200, 15_000, () => 'recovery after the outage');
  await sleep(300);
  stop = true;
  await Promise.all(load);

  const count = (status: number) => outcomes.filter((o) => o.status === status).length;
  const unavailableIn = (phases: string[]) => outcomes.filter((o) => o.status === 503 && phases.includes(o.phase)).length;
  t.comment(`${outcomes.length} requests: ${count(201)} × 201, ${count(503)} × 503; /readyz ${readiness.filter((r) => r.status === 503).length} × 503 of ${readiness.length}`);
  t.comment(`restart -m fast took ${restartMs} ms: ${unavailableIn(['restart', 'after restart'])} × 503; ${unavailableIn(['stopped', 'starting', 'after'])} × 503 around the 1 s stop`);
  t.same(failures, [], 'every request got an answer: the process stayed up');
  t.same([...new Set(outcomes.map((o) => o.status))].filter((s) => s !== 201 && s !== 503), [], 'only 201 and 503, never 500');
  const unavailable = outcomes.filter((o) => o.status === 503);
  t.ok(unavailable.length > 0, 'requests while the database was away got 503');
  t.ok(
    unavailable.every((o) => o.retryAfter === '5' && o.body.status === '503' && o.body.schemas?.[0] === 'urn:ietf:params:scim:api:messages:2.0:Error'),
    '503 carries Retry-After and a SCIM error body',
  );
  t.ok(unavailable.every((o) => o.phase !== 'before'), 'no 503 before the database went away');
  t.ok(readiness.some((r) => r.status === 503 && (r.phase === 'stopped' || r.phase === 'starting')), '/readyz reported the outage');
  t.equal(readiness.at(-1)?.status, 200, '/readyz recovered');

  // Every 201 is stored, with its event (503s may or may not have committed: a commit in flight when the connection dropped).
  const names = outcomes.filter((o) => o.status === 201).map((o) => o.userName);
  const check = new pg.Client({ connectionString: cluster.url('roster') });
  await check.connect();
  t.teardown(() => check.end());
  const stored = await check.query<{ n: string; e: string }>(
    `select count(*) as n, count(e.id) as e from users u
     left join events e on e.resource_id = u.id::text and e.type = 'user.created'
     where u.user_name = any ($1)`,
    [names],
  );
  t.equal(Number(stored.rows[0]!.n), names.length, 'every user answered 201 is stored');
  t.equal(Number(stored.rows[0]!.e), names.length, 'each with its event');

  // Deliveries resumed: every event in the database reaches the receiver.
  const events = Number((await check.query<{ n: string }>(`select count(*) as n from events where type = 'user.created'`)).rows[0]!.n);
  const delivered = () => new Set(rx.accepted.map((r) => r.headers['webhook-id'])).size;
  await until(() => delivered() >= events, 20_000, () => `receiver got ${delivered()} of ${events} events`);
  t.equal(delivered(), events, 'every event delivered after the outage');
});
