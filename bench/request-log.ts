/**
 * What the provisioning log costs a SCIM request (src/services/request-log.ts):
 * two Roster apps in this process on one Postgres database, one with the log
 * (REQUEST_LOG_ENABLED=true) and one without, driven in alternating rounds
 * (ABBA…) so that whatever else the machine does weighs on both alike. Each
 * round sends `--round` requests, 10 at a time, through the app (inject: the
 * real routing, hooks, services and SQL, no sockets), half look-ups by
 * userName and half creates; the app with the log then writes its queue, and
 * that wait counts in its round.
 *
 *   npx tsx bench/request-log.ts [--rounds 20] [--round 400]
 *
 * Reports the median over rounds of this process's CPU time per request and
 * of wall time per request, with and without the log, and what one entry
 * costs Postgres to insert in batches of 500. Uses a throw-away database on
 * BENCH_ADMIN_URL / TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test).
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { migrateToLatest, openDatabase } from '../src/db/index.js';

const arg = (name: string, d: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const ROUNDS = arg('rounds', 20);
const ROUND = arg('round', 400);
const ADMIN_URL = process.env.BENCH_ADMIN_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const name = `roster_rlog_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ connectionString: ADMIN_URL });
await admin.connect();
await admin.query(`create database ${name}`);
const url = new URL(ADMIN_URL);
url.pathname = `/${name}`;
const database = await openDatabase({ databaseUrl: url.toString(), poolMax: 10 });
try {
  await migrateToLatest(database.db);
  const env = { LOG_LEVEL: 'silent', RATE_LIMIT_SCIM_PER_MINUTE: '0', WEBHOOK_WORKER: 'false' };
  const on = await buildApp({ config: loadConfig({ ...env, REQUEST_LOG_ENABLED: 'true' }), database });
  const off = await buildApp({ config: loadConfig({ ...env, REQUEST_LOG_ENABLED: 'false' }), database });
  await on.services.tenants.create({ id: 'bench' });
  const token = (await on.services.tenants.issueToken('bench', { name: 'bench' })).secret;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json', 'user-agent': 'Okta SCIM Client 1.0.0' };
  let n = 0;
  const send = (app: typeof on.app, i: number) =>
    i % 2 === 0
      ? app.inject({ method: 'GET', url: `/scim/v2/bench/Users?filter=userName%20eq%20%22seed-${i % 1000}%22`, headers })
      : app.inject({ method: 'POST', url: '/scim/v2/bench/Users', headers, payload: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: `u-${n++}`, name: { givenName: 'Ada' } }) });
  for (let i = 0; i < 1000; i += 10) await Promise.all([...Array(10)].map((_, j) => off.app.inject({ method: 'POST', url: '/scim/v2/bench/Users', headers, payload: JSON.stringify({ userName: `seed-${i + j}` }) })));

  const runRound = async (app: typeof on.app, flush?: () => Promise<void>) => {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < ROUND; i += 10) await Promise.all([...Array(10)].map((_, j) => send(app, i + j)));
    await flush?.();
    const cpu = process.cpuUsage(cpu0);
    return { cpuUs: (cpu.user + cpu.system) / ROUND, wallUs: ((performance.now() - t0) * 1000) / ROUND };
  };
  const results = { on: [] as { cpuUs: number; wallUs: number }[], off: [] as { cpuUs: number; wallUs: number }[] };
  await runRound(on.app, () => on.services.requestLog!.flush()); // warm-up
  await runRound(off.app);
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const);
    for (const which of order) results[which].push(which === 'on' ? await runRound(on.app, () => on.services.requestLog!.flush()) : await runRound(off.app));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const row = (which: 'on' | 'off') => ({ cpuUs: median(results[which].map((x) => x.cpuUs)), wallUs: median(results[which].map((x) => x.wallUs)) });
  const a = row('off');
  const b = row('on');

  // Postgres's share: batches of 500 entries as the writer sends them.
  const c = new pg.Client({ connectionString: url.toString() });
  await c.connect();
  const entries = (await c.query<{ n: string }>('select count(*) as n from request_log')).rows[0]!.n;
  const t0 = performance.now();
  await c.query(`insert into request_log (tenant_id, at, request_id, actor, user_agent, idp, method, path, filter, status, duration_ms, resource_ids)
                 select tenant_id, at, request_id, actor, user_agent, idp, method, path, filter, status, duration_ms, resource_ids from request_log limit 500`);
  const insertUs = ((performance.now() - t0) * 1000) / 500;
  await c.end();

  const pct = (x: number, y: number) => `${(((y - x) / x) * 100).toFixed(1)} %`;
  console.log(`${ROUNDS} rounds × ${ROUND} requests (half look-ups, half creates), 10 at a time; ${entries} entries written`);
  console.log(`without the log: ${a.cpuUs.toFixed(0)} µs CPU, ${a.wallUs.toFixed(0)} µs wall per request (medians of rounds)`);
  console.log(`with the log:    ${b.cpuUs.toFixed(0)} µs CPU, ${b.wallUs.toFixed(0)} µs wall per request (${pct(a.cpuUs, b.cpuUs)} CPU, ${pct(a.wallUs, b.wallUs)} wall)`);
  console.log(`Postgres: one entry in a batch of 500 takes ${insertUs.toFixed(1)} µs of the insert statement`);
  await on.app.close();
  await off.app.close();
} finally {
  await database.close();
  await admin.query(`drop database if exists ${name} with (force)`);
  await admin.end();
}
