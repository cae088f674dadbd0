/**
 * `npm run bench`: seed Postgres, start Roster as a separate process, drive
 * it over loopback HTTP with autocannon, measure the database's own ceiling
 * for the same work with pgbench, and report (bench/README.md explains it
 * all; `npm run bench -- --help` lists the options).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { HELP, parseArgs } from './lib/args.js';
import { TENANT } from './lib/dataset.js';
import { runScenario, Skip, type Bound, type Scenario, type ScenarioResult } from './lib/drive.js';
import { EVENT_LATENCY, runEventLatency, type EventLatency } from './lib/events.js';
import { combineFloor, FLOOR_FOR, startFloor, type FloorResult, type FloorServer } from './lib/floor.js';
import { scenarios } from './lib/load.js';
import { combinePgbench, runPgbench, type PgbenchResult } from './lib/pgbench.js';
import { formatSummary, summarize } from './lib/profile.js';
import { compare, evaluateTargets, markdown, PGBENCH_FOR, runHeader, updateReadme, writeResults, type BenchReport } from './lib/report.js';
import { runSoak, SOAK_RATE, SOAK_SCENARIO, soakMarkdown, soakTargets, updateSoakReadme, type SoakResult } from './lib/soak.js';
import { startServer } from './lib/server.js';
import { runInSnapshot, snapshotInfo } from './lib/snapshot.js';
import { environment, findPgbench, freePort, machineBusy, rssMB, RssSampler, waitQuiet } from './lib/system.js';
import { dropDatabase, seed } from './seed.js';

/** Reads first, then writes, so the look-ups see the seeded tables as they were analysed. */
const ORDER = [
  'lookup-userName',
  'lookup-email',
  'page-1-index',
  'page-deep-index',
  'page-1-cursor',
  'page-deep-cursor',
  'okta-import',
  'okta-groups',
  'patch-user',
  'member-small',
  'member-big',
  'member-small-representation',
  'member-big-representation',
  'create',
  'entra-cycle',
  // Last: its webhook endpoint is removed afterwards, but its deliveries shared the server until then.
  EVENT_LATENCY,
];
const WRITES = new Set(['patch-user', 'member-small', 'member-big', 'member-small-representation', 'member-big-representation', 'create', 'entra-cycle', EVENT_LATENCY]);

const log = (line: string) => process.stdout.write(`${line}\n`);

async function checkpoint(url: string): Promise<void> {
  // Start every write measurement (Roster's and pgbench's) from a fresh checkpoint, so neither pays for the other's WAL.
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query('checkpoint');
  await c.end();
}

function logScenario(r: ScenarioResult): void {
  log(
    `  ${r.name.padEnd(18)} ${String(r.rps).padStart(8)} req/s  p50 ${r.latencyMs.p50} ms  p99 ${r.latencyMs.p99} ms  max ${r.latencyMs.max} ms  ` +
      `errors ${r.errors + r.timeouts}  non-2xx ${r.non2xx}${r.mismatches ? `  failed checks ${r.mismatches}` : ''}  RSS ${r.rss.endMB} MB  ` +
      `CPU cores: server ${r.cpu.serverCores} (${r.cpu.serverMsPerRequest} ms/req), Postgres ${r.cpu.postgresCores}, load ${r.cpu.loadCores}, other ${r.cpu.otherCores}`,
  );
  for (const f of r.sampleFailures) log(`      ${f}`);
  for (const n of r.notes ?? []) log(`      ${n}`);
}

export async function main(argv: string[]): Promise<BenchReport> {
  const o = parseArgs(argv);
  const date = new Date();
  // Inside a snapshot (--source head), results and the README go to the work tree the run started from.
  const snap = snapshotInfo();
  const home = snap?.home ?? process.cwd();
  const outDir = path.resolve(home, o.outDir);
  const readme = path.join(home, 'bench', 'README.md');
  const pgbench = o.skipPgbench ? null : findPgbench();
  if (!o.skipPgbench && !pgbench) {
    throw new Error('pgbench not found: install it (Debian: apt-get install postgresql-client, or postgresql-contrib on older releases), or pass --skip-pgbench');
  }
  log(`bench: ${o.users.toLocaleString('en-US')} users, ${o.requests ? `${o.requests} requests` : `${o.duration} s`} per scenario, ${o.connections} connections`);

  const seeded = await seed({ adminUrl: o.adminUrl, database: o.database, users: o.users, token: o.token, reseed: o.reseed, log });
  // Seeding may share the machine; measuring should not.
  const quiet = o.waitQuiet > 0 ? await waitQuiet(o.waitQuiet, 0.25, log) : undefined;
  if (quiet && quiet.busy >= 0.25) log(`bench: WARNING: the machine is ${Math.round(quiet.busy * 100)}% busy with other work; figures will be low`);
  const env = await environment(seeded.databaseUrl, pgbench, snap?.commit, o.quick ? 1 : 3);
  log(`bench: ${env.cpus} CPUs (${env.cpuModel}), ${env.memoryGiB} GiB, node ${env.node}, Postgres ${env.postgres}, Roster ${env.commit}${env.dirty ? '+dirty' : ''}`);

  const profDir = o.cpuProf ? path.join(outDir, 'profiles') : undefined;
  const port = await freePort();
  let metricsPort = await freePort();
  while (metricsPort === port) metricsPort = await freePort();
  // The event-latency scenario registers its receiver through the admin API; the receiver is on loopback, which
  // webhook destinations refuse unless allowed.
  const adminToken = `bench-admin-${randomBytes(12).toString('hex')}`;
  const serverEnv = { ADMIN_TOKEN: adminToken, WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32', ...o.serverEnv };
  const server = await startServer(
    { mode: o.server, noBuild: o.noBuild, databaseUrl: seeded.databaseUrl, port, metricsPort, tenant: TENANT, token: o.token, env: serverEnv, cpuProfDir: profDir, logFile: path.join(outDir, 'server.log') },
    log,
  );
  log(`bench: Roster pid ${server.pid} on 127.0.0.1:${port} (${o.server}), RSS ${rssMB(server.pid)} MB`);
  const prepared = o.serverEnv.DATABASE_PREPARED_STATEMENTS !== 'false';
  const wanted = (n: string) => !o.only.length || o.only.includes(n);
  let floor: FloorServer | undefined;
  if (!o.soakMinutes && !o.skipFloor && Object.keys(FLOOR_FOR).some(wanted)) {
    floor = await startFloor({ databaseUrl: seeded.databaseUrl, port: await freePort(), tenant: TENANT, token: o.token, prepared });
    log(`bench: floor pid ${floor.pid} on ${floor.baseUrl}`);
  }

  const results: ScenarioResult[] = [];
  const skipped: { name: string; reason: string }[] = [];
  const pgResults: Record<string, PgbenchResult> = {};
  const floorResults: Record<string, FloorResult> = {};
  let events: EventLatency | undefined;
  let soak: SoakResult | undefined;
  const sampler = new RssSampler(server.pid, o.database);
  const floorSampler = floor ? new RssSampler(floor.pid, o.database) : undefined;
  let peak = 0;
  let rssEnd = 0;
  let exitCode: number | null = null;
  let backgroundAfter: number | undefined;
  try {
    const target = {
      baseUrl: `http://127.0.0.1:${port}`,
      prefix: `/scim/v2/${TENANT}`,
      token: o.token,
      users: o.users,
      connections: o.connections,
      runTag: date.getTime().toString(36),
    };
    const all = scenarios(target);
    const byName = new Map(all.map((s) => [s.name, s]));
    for (const n of o.only) if (!ORDER.includes(n)) throw new Error(`unknown scenario ${n}; known: ${ORDER.join(', ')}`);

    // Warm-up (not recorded): lets V8 optimise the hot paths before anything is measured.
    if (o.warmup > 0 && !o.requests) {
      for (const n of ['lookup-userName', 'patch-user']) {
        await runScenario(target, byName.get(n)!, { seconds: o.warmup }, sampler);
      }
      if (floor) for (const n of Object.keys(FLOOR_FOR).filter(wanted)) await runScenario({ ...target, baseUrl: floor.baseUrl }, byName.get(n)!, { seconds: o.warmup }, floorSampler!);
    }

    if (o.soakMinutes) {
      await checkpoint(seeded.databaseUrl);
      soak = await runSoak(target, byName.get(SOAK_SCENARIO)!, { minutes: o.soakMinutes, rate: SOAK_RATE, serverPid: server.pid, rss: sampler, log });
      peak = soak.rssPeakMB;
      for (const m of soak.perMinute) log(`  soak minute ${m.minute}: ${m.requests} requests  p50 ${m.p50} ms  p99 ${m.p99} ms  max ${m.max} ms  errors ${m.errors}  RSS ${m.rssMB} MB`);
    }

    // The floor of a scenario, right before and right after it as the pgbench ceiling is.
    const floorRun = async (s: Scenario, bound: Bound, latencies: number[]): Promise<ScenarioResult> => {
      if (WRITES.has(s.name)) await checkpoint(seeded.databaseUrl);
      const r = await runScenario({ ...target, baseUrl: floor!.baseUrl }, s, bound, floorSampler!, (_status, ms) => Number.isFinite(ms) && latencies.push(ms));
      for (const f of r.sampleFailures) log(`      floor: ${f}`);
      return r;
    };

    for (const name of o.soakMinutes ? [] : ORDER) {
      if (!wanted(name)) continue;
      if (name === EVENT_LATENCY) {
        await checkpoint(seeded.databaseUrl);
        const e = await runEventLatency({ target, adminToken, bound: { seconds: o.duration, requests: o.requests, rate: o.eventRate }, warmup: o.warmup, rss: sampler });
        events = e.events;
        results.push(e.scenario);
        peak = Math.max(peak, e.scenario.rss.peakMB);
        logScenario(e.scenario);
        continue;
      }
      const s = byName.get(name)!;
      let notes: string[] | void = undefined;
      try {
        notes = await s.prepare?.();
      } catch (err) {
        if (!(err instanceof Skip)) throw err;
        skipped.push({ name, reason: err.message });
        log(`  ${name.padEnd(18)} skipped: ${err.message}`);
        continue;
      }
      // The database's ceiling is measured right before and right after the scenario (the same duration
      // each, each write run from a fresh checkpoint) and combined, so that the machine's drift over these
      // minutes weighs on both sides alike (bench/README.md, "Machines differ").
      const script = PGBENCH_FOR[name];
      const ceiling = async (pgbench: string, script: string): Promise<PgbenchResult> => {
        if (WRITES.has(name)) await checkpoint(seeded.databaseUrl);
        const p = await runPgbench({
          pgbench,
          databaseUrl: seeded.databaseUrl,
          script: path.join('bench', 'pgbench', `${script}.sql`),
          clients: o.connections,
          seconds: o.duration,
          transactions: o.requests ? Math.max(1, Math.ceil(o.requests / o.connections)) : undefined,
          users: o.users,
          database: o.database,
          ownPids: floor ? [server.pid, floor.pid] : [server.pid],
          // The statements go to Postgres the way Roster sends them: named and prepared unless the server is
          // told otherwise (src/db/prepared.ts marks every statement behind these four scenarios).
          protocol: o.serverEnv.DATABASE_PREPARED_STATEMENTS === 'false' ? 'extended' : 'prepared',
        });
        for (const e of p.errors) log(`      ${e}`);
        return p;
      };
      const before = script && pgbench ? await ceiling(pgbench, script) : undefined;
      const bound = { seconds: o.duration, requests: o.requests };
      const floorLatencies: number[] = [];
      const floorBefore = floor && FLOOR_FOR[name] ? await floorRun(s, bound, floorLatencies) : undefined;

      if (WRITES.has(name)) await checkpoint(seeded.databaseUrl);
      const r = await runScenario(target, s, bound, sampler);
      const after = s.after?.() ?? [];
      if (notes || after.length) r.notes = [...(notes ?? []), ...after];
      results.push(r);
      peak = Math.max(peak, r.rss.peakMB);
      logScenario(r);

      if (floorBefore) {
        const f = combineFloor(name, [floorBefore, await floorRun(s, bound, floorLatencies)], floorLatencies);
        floorResults[name] = f;
        log(
          `  ${'floor'.padEnd(18)} ${String(f.rps).padStart(8)} req/s  (before ${f.runs[0]!.rps}, after ${f.runs[1]!.rps})  p50 ${f.latencyMs.p50} ms  p99 ${f.latencyMs.p99} ms  ` +
            `server CPU ${f.serverMsPerRequest} ms/req  errors ${f.errors}  → Roster at ${Math.round((r.rps / f.rps) * 100) / 100}×  other ${f.otherCores}`,
        );
      }

      if (script && pgbench && before) {
        const p = combinePgbench([before, await ceiling(pgbench, script)]);
        pgResults[script] = p;
        log(
          `  ${`pgbench ${script}`.padEnd(18)} ${String(p.tps).padStart(8)} tps    (before ${p.runs![0]!.tps}, after ${p.runs![1]!.tps})  p50 ${p.latencyMs.p50} ms  p99 ${p.latencyMs.p99} ms  ` +
            `→ Roster at ${Math.round((r.rps / p.tps) * 100) / 100}×  CPU cores: Postgres ${p.cpu.postgresCores}, pgbench ${p.cpu.pgbenchCores}, other ${p.cpu.otherCores}`,
        );
      }
    }
    rssEnd = rssMB(server.pid) ?? 0;
    backgroundAfter = await machineBusy(2000);
    peak = Math.max(peak, rssEnd);
  } finally {
    await floor?.stop();
    exitCode = await server.stop();
  }

  if (profDir) {
    // The main thread's profile (thread 0); loader threads (tsx) write their own.
    const files = execFileSync('sh', ['-c', `ls -t ${profDir}/CPU.*.${server.pid}.0.*.cpuprofile 2>/dev/null | head -n1`], { encoding: 'utf8' }).trim();
    if (files) {
      const text = formatSummary(summarize(files, 30));
      writeFileSync(`${files}.txt`, text + '\n');
      log(`\n${files}\n${text}\n`);
    }
  }

  const partial: Omit<BenchReport, 'targets'> = {
    date: date.toISOString(),
    options: { ...o, token: undefined, adminUrl: undefined },
    environment: env,
    background: { busyBefore: quiet?.busy ?? null, waitedSeconds: quiet?.waitedSeconds ?? 0, busyAfterIdle: backgroundAfter ?? null },
    seed: { users: seeded.users, groups: seeded.groups, memberships: seeded.memberships, seconds: seeded.seconds, reused: seeded.reused, phases: seeded.phases },
    scenarios: results,
    skipped,
    pgbench: pgResults,
    comparisons: compare(results, pgResults),
    floor: floorResults,
    ...(events ? { events } : {}),
    ...(soak ? { soak } : {}),
    server: { rssEndMB: rssEnd, rssPeakMB: peak, exitCode },
  };
  const report: BenchReport = { ...partial, targets: soak ? soakTargets(soak) : evaluateTargets(partial) };
  const file = writeResults(outDir, report, [o.quick ? 'quick' : '', soak ? 'soak' : ''].filter(Boolean).join('-'));
  const link = path.relative(path.dirname(readme), file);
  // A soak and a full run each keep their own block of the README.
  const md = soak ? soakMarkdown(soak, report.targets, runHeader(report, link)) : markdown(report, link);
  if (o.readme) (soak ? updateSoakReadme : updateReadme)(readme, md);
  log(`\n${md}\n`);
  log(`bench: results in ${file}${o.readme ? ', table in bench/README.md' : ''}`);
  if (o.dropAfter) await dropDatabase(o.adminUrl, o.database);
  return report;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const argv = process.argv.slice(2);
  const fail = (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    if (err instanceof Error && /unknown option/.test(err.message)) process.stderr.write(HELP);
    process.exit(1);
  };
  try {
    const o = parseArgs(argv);
    if (o.source === 'head' && !snapshotInfo()) {
      runInSnapshot(process.cwd(), argv, log).then((code) => process.exit(code), fail);
    } else {
      main(argv).catch(fail);
    }
  } catch (err) {
    fail(err);
  }
}
