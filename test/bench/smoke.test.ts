/**
 * The benchmark itself, tiny: a few hundred users, 30 requests per scenario,
 * 2 connections, pgbench with 15 transactions per client, in a database of
 * its own that is dropped afterwards. Checks that every scenario answers
 * without errors and that the data set is what Roster would store. Speed is
 * not asserted (that is what bench/ is for).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import pg from 'pg';
import t from 'tap';
import { groupNames, groupResource, userBody, userId, userIdSql, userName, userNameSql, userResource, workEmail, workEmailSql } from '../../bench/lib/dataset.js';
import type { BenchReport } from '../../bench/lib/report.js';
import { findPgbench } from '../../bench/lib/system.js';
import { main } from '../../bench/run.js';
import { dropDatabase } from '../../bench/seed.js';
import { normalizeResource } from '../../src/scim/resource.js';
import { groupResourceType, userResourceType } from '../../src/scim/schema.js';
import { ADMIN_DATABASE_URL } from '../helpers/db.js';

t.test('seeded resources are exactly what Roster stores for the same POST bodies', async (t) => {
  for (const i of [1, 5, 20, 49, 50, 123_457, 1_000_000]) {
    const { resource } = normalizeResource(userResourceType, userBody(i), { mode: 'create', lenient: true });
    t.ok(isDeepStrictEqual(resource, userResource(i)), `user ${i}`) || t.same(resource, userResource(i));
  }
  for (const name of groupNames().slice(0, 3)) {
    const { resource } = normalizeResource(groupResourceType, groupResource(name), { mode: 'create', lenient: true });
    t.same(resource, groupResource(name), name);
  }
});

t.test('the SQL expressions of the pgbench scripts name the same users as the data set', async (t) => {
  const c = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await c.connect();
  t.teardown(() => c.end());
  for (const i of [1, 49, 50, 2_499, 2_500, 999_999]) {
    const r = await c.query(`select ${userNameSql('$1::int')} as n, ${workEmailSql('$1::int')} as e, ${userIdSql('$1::int')}::text as id`, [i]);
    t.same(r.rows[0], { n: userName(i), e: workEmail(i), id: userId(i) }, `user ${i}`);
  }
});

t.test('a tiny benchmark run: every scenario answers, nothing fails', async (t) => {
  const database = `roster_bench_smoke_${randomBytes(4).toString('hex')}`;
  const out = mkdtempSync(path.join(os.tmpdir(), 'roster-bench-smoke-'));
  t.teardown(async () => {
    await dropDatabase(ADMIN_DATABASE_URL, database);
    rmSync(out, { recursive: true, force: true });
  });
  const pgbench = findPgbench();
  if (!pgbench) t.comment('pgbench not installed: the run skips the database ceiling');
  const report: BenchReport = await main([
    '--users', '400',
    '--requests', '30',
    '--connections', '2',
    '--warmup', '0',
    '--server', 'tsx',
    '--source', 'worktree',
    '--database', database,
    '--admin-url', ADMIN_DATABASE_URL,
    '--out', out,
    '--no-readme',
    '--quick',
    ...(pgbench ? [] : ['--skip-pgbench']),
  ]);

  t.equal(report.seed.users, 400);
  t.same(report.skipped, [], 'no scenario skipped');
  t.same(
    report.scenarios.map((s) => s.name).sort(),
    ['create', 'entra-cycle', 'event-latency', 'lookup-email', 'lookup-userName', 'member-big', 'member-big-representation', 'member-small', 'member-small-representation', 'okta-groups', 'okta-import', 'page-1-cursor', 'page-1-index', 'page-deep-cursor', 'page-deep-index', 'patch-user'],
  );
  for (const s of report.scenarios) {
    t.ok(s.requests >= 30, `${s.name}: ${s.requests} requests`);
    t.same({ errors: s.errors, timeouts: s.timeouts, non2xx: s.non2xx, mismatches: s.mismatches }, { errors: 0, timeouts: 0, non2xx: 0, mismatches: 0 }, `${s.name} without failures`, {
      failures: s.sampleFailures,
    });
  }
  // The Okta-like walk pages through all 400 users again and again, one connection, each page after the one before.
  const walk = report.scenarios.find((s) => s.name === 'okta-import');
  t.equal(walk?.connections, 1);
  t.match(walk?.notes?.join(' '), /down to user 400 of 400 \(\d+ complete walks\)/, 'the walk reached the last user');
  if (pgbench) {
    t.same(Object.keys(report.pgbench).sort(), ['create_user', 'lookup_email', 'lookup_username', 'patch_user']);
    for (const [script, p] of Object.entries(report.pgbench)) {
      t.ok(p.transactions > 0 && p.tps > 0, `${script} ran`);
      // Measured before and after the scenario, combined: transactions add up, the rate lies between the two runs'.
      t.equal(p.runs?.length, 2, `${script}: two runs, before and after`);
      t.equal(p.transactions, (p.runs ?? []).reduce((a, x) => a + x.transactions, 0), `${script}: transactions of both runs`);
      const rates = (p.runs ?? []).map((x) => x.tps);
      t.ok(p.tps >= Math.min(...rates) - 0.1 && p.tps <= Math.max(...rates) + 0.1, `${script}: ${p.tps} tps within ${rates.join(' / ')}`);
      t.same(p.errors, [], `${script} without errors`);
    }
  }
  // The floor ran before and after each of its three scenarios, with the same checks, and failed none.
  t.same(Object.keys(report.floor).sort(), ['create', 'lookup-email', 'lookup-userName']);
  for (const f of Object.values(report.floor)) {
    t.equal(f.runs.length, 2, `floor ${f.scenario}: before and after`);
    t.ok(f.requests >= 60 && f.rps > 0, `floor ${f.scenario}: ${f.requests} requests`);
    t.equal(f.errors, 0, `floor ${f.scenario} without failures`);
  }
  // Every create's event reached the receiver, and the endpoint is gone afterwards.
  const ev = report.events;
  t.ok(ev && ev.written >= 30 && ev.arrived === ev.written, `events: ${ev?.arrived} of ${ev?.written} arrived`);
  t.ok(ev && ev.fromTimestampMs.p99 >= 0 && ev.fromTimestampMs.max >= ev.fromTimestampMs.p50, 'event latency measured');
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${database}`;
  const db = new pg.Client({ connectionString: url.toString() });
  await db.connect();
  t.equal(Number((await db.query('select count(*) as n from webhook_endpoints')).rows[0].n), 0, 'the endpoint was removed');
  await db.end();
  const c = report.environment.calibration;
  t.ok(c && c.jsLoopMs > 0, 'JavaScript loop timed');
  t.ok(c && c.syscallMicros !== null && c.syscallMicros > 0, 'system call cost read');
  if (pgbench) t.ok(c && c.selectOneMs! > 0 && c.selectOneTps! > 0, 'select 1 round trip and ceiling measured');
  t.ok(report.server.rssEndMB > 0, 'server memory sampled');
  t.equal(report.server.exitCode, 0, 'server stopped cleanly');
  t.ok(report.targets.length >= 7, 'targets evaluated');

  const files = readdirSync(out).filter((f) => f.endsWith('.json'));
  t.equal(files.length, 1, 'one results file');
  t.same(JSON.parse(readFileSync(path.join(out, files[0]!), 'utf8')).seed.users, 400);
});
