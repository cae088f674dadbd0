import t from 'tap';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { openDatabase } from '../../src/db/index.js';
import { backends, openTestDatabase } from '../helpers/db.js';
import { addEndpoint, adminApp, churn, createTenant, record, sequencesByResource, sleep, startReceiver, until, userChange, worker } from './helpers.js';

/** A receiver that holds every request open until release(), then answers 200. */
async function holdingReceiver(t: Parameters<typeof startReceiver>[0]) {
  let hang = true;
  const rx = await startReceiver(t, async (_req, _body, res) => {
    while (hang && !res.destroyed) await sleep(20);
    if (!res.destroyed) res.writeHead(200).end();
  });
  return { rx, release: () => (hang = false) };
}

if (backends.includes('postgres')) {
  t.test('postgres: two workers with separate pools (as two processes) share the work: nothing lost, nothing twice, in order', async (t) => {
    const h = await openTestDatabase(t, 'postgres');
    const tenant = await createTenant(h.db);
    const app = await adminApp(t, h.db);
    const rx = await startReceiver(t, async (_req, _body, res) => {
      await sleep(Math.random() * 5);
      res.writeHead(200).end();
    });
    await addEndpoint(app, tenant, { url: rx.url });
    const other = await openDatabase({ databaseUrl: h.url, poolMax: 4 });
    t.teardown(() => other.close());
    const a = worker(t, h.db, { id: 'A', config: { databaseUrl: h.url, webhookConcurrency: 4 } });
    const b = worker(t, other.db, { id: 'B', config: { databaseUrl: h.url, webhookConcurrency: 4 } });

    const users = 20;
    const updates = 4;
    await churn(h.db, tenant, users, updates);
    await rx.waitFor(users * (updates + 1), 30_000);
    await sleep(300);
    await a.stop(1000);
    await b.stop(1000);

    t.equal(rx.accepted.length, users * (updates + 1), 'each event exactly once');
    t.equal(new Set(rx.accepted.map((r) => r.headers['webhook-id'])).size, users * (updates + 1));
    for (const [, s] of sequencesByResource(rx.accepted)) t.same(s, [1, 2, 3, 4, 5]);
    const left = await sql<{ n: unknown }>`select count(*) as n from webhook_deliveries where status <> 'succeeded'`.execute(h.db);
    t.equal(Number(left.rows[0]!.n), 0);
  });

  t.test('postgres: a worker process killed mid-delivery loses nothing; another takes over after the lease', async (t) => {
    const h = await openTestDatabase(t, 'postgres');
    const tenant = await createTenant(h.db);
    const app = await adminApp(t, h.db);
    const { rx, release } = await holdingReceiver(t);
    await addEndpoint(app, tenant, { url: rx.url });
    const id = randomUUID();
    await record(h.db, userChange(tenant, id), userChange(tenant, id, { action: 'updated', version: 2, changed: ['title'] }));

    const script = fileURLToPath(new URL('./fixtures/worker-process.ts', import.meta.url));
    const child = spawn(process.execPath, [...process.execArgv, script], {
      env: { ...process.env, ROSTER_WORKER_CHILD: '1', DATABASE_URL: h.url!, LEASE_MS: '1500' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    t.teardown(() => child.kill('SIGKILL'));
    await rx.waitForAll(1, 30_000); // the child is sending event 1 and the receiver holds it
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    release();

    worker(t, h.db, { id: 'successor', config: { databaseUrl: h.url } });
    await rx.waitFor(2, 15_000);
    t.same(
      rx.accepted.map((r) => r.json.data.sequence),
      [1, 2],
      'event 1 again (the killed attempt never completed), then event 2',
    );
    t.equal(rx.accepted[0]!.headers['webhook-id'], rx.all[0]!.headers['webhook-id'], 'same webhook-id as the interrupted attempt');
  });
}

for (const backend of backends) {
  t.test(`${backend}: a worker stopped mid-delivery hands its queue back; a new worker delivers it`, async (t) => {
    const h = await openTestDatabase(t, backend);
    const tenant = await createTenant(h.db);
    const app = await adminApp(t, h.db);
    const { rx, release } = await holdingReceiver(t);
    await addEndpoint(app, tenant, { url: rx.url });
    const first = worker(t, h.db, { id: 'first', config: { databaseUrl: h.url, webhookTimeoutMs: 60_000 }, leaseMs: 120_000 });
    const id = randomUUID();
    await record(h.db, userChange(tenant, id));
    await rx.waitForAll(1);
    await first.stop(100); // deadline passes: the request is aborted and the claim released
    release();

    // Released, not left to the (2-minute) lease: a new worker takes it at once.
    worker(t, h.db, { id: 'second', config: { databaseUrl: h.url } });
    await rx.waitFor(1, 10_000);
    t.equal(rx.accepted[0]!.json.data.id, id);
    await until(
      async () => (await sql<{ status: string }>`select status from webhook_deliveries`.execute(h.db)).rows[0]!.status === 'succeeded',
      5000,
      () => 'succeeded',
    );
    const attempts = await sql<{ n: unknown }>`select count(*) as n from webhook_attempts`.execute(h.db);
    t.equal(Number(attempts.rows[0]!.n), 1, 'the aborted attempt is not counted against the retry schedule');
  });

  t.test(`${backend}: stop() waits for in-flight deliveries within the deadline`, async (t) => {
    const h = await openTestDatabase(t, backend);
    const tenant = await createTenant(h.db);
    const app = await adminApp(t, h.db);
    const rx = await startReceiver(t, async (_req, _body, res) => {
      await sleep(300);
      res.writeHead(200).end();
    });
    await addEndpoint(app, tenant, { url: rx.url });
    const w = worker(t, h.db, { config: { databaseUrl: h.url } });
    await record(h.db, userChange(tenant, randomUUID()));
    await rx.waitForAll(1);
    await w.stop(10_000);
    const d = await sql<{ status: string }>`select status from webhook_deliveries`.execute(h.db);
    t.equal(d.rows[0]!.status, 'succeeded', 'finished, not abandoned');
  });
}
