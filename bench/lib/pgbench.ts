/**
 * The database's own ceiling for the work behind each HTTP scenario: pgbench
 * runs bench/pgbench/<script>.sql with the same number of clients, the
 * statements named or unnamed as Roster sends them (PgbenchRun.protocol), and
 * per-transaction logs from which p50/p99/max are computed.
 *
 * The scripts hold {{placeholders}} for SQL expressions and JSON literals that
 * come from bench/lib/dataset.ts (so they look up users that exist, and write
 * resources of the same size as Roster's); they are expanded into a temporary
 * directory before each run.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ENTERPRISE_USER_SCHEMA } from '../../src/scim/schema.js';
import { TENANT, userId, userIdSql, userNameSql, userResource, workEmailSql } from './dataset.js';
import { machineCpu, PostgresCpuTracker, processCpuSeconds } from './system.js';

export interface PgbenchResult {
  script: string;
  /** pgbench's query mode (-M), the way Roster sends the same statements (DATABASE_PREPARED_STATEMENTS). */
  protocol: 'extended' | 'prepared';
  clients: number;
  seconds: number;
  transactions: number;
  tps: number;
  latencyMs: { avg: number; p50: number; p99: number; max: number };
  failed: number;
  /** Non-empty when pgbench reported errors (aborted clients, failed transactions). */
  errors: string[];
  /** CPU cores used by Postgres (this database's backends and writers), pgbench itself, and everything else. */
  cpu: { postgresCores: number; pgbenchCores: number; otherCores: number; machineCores: number };
  /**
   * When the ceiling combines runs (combinePgbench): each run's own figures, in order. The bench runs
   * pgbench right before and right after the HTTP scenario, so that a drift of the machine's speed
   * over that half minute or so affects both sides alike.
   */
  runs?: { seconds: number; transactions: number; tps: number; p99: number }[];
}

/** Per-transaction latencies (ms, sorted) of each result runPgbench returned, for combinePgbench. */
const latencies = new WeakMap<PgbenchResult, Float64Array>();

const r2 = (x: number) => Math.round(x * 100) / 100;

function latencyOf(sorted: Float64Array): PgbenchResult['latencyMs'] {
  const avg = sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : 0;
  return { avg: r2(avg), p50: r2(percentile(sorted, 50)), p99: r2(percentile(sorted, 99)), max: r2(sorted[sorted.length - 1] ?? 0) };
}

/**
 * One ceiling from several runs of the same script: transactions over the
 * runs' total time, percentiles over all their transactions, CPU weighted by
 * time; `runs` keeps each run's own figures.
 */
export function combinePgbench(parts: PgbenchResult[]): PgbenchResult {
  const [first] = parts;
  if (!first) throw new Error('combinePgbench: no runs');
  const seconds = parts.reduce((a, p) => a + p.seconds, 0);
  // Each run's time at its own rate (pgbench's tps leaves out connection time; with -t there is no duration).
  const time = (p: PgbenchResult) => (p.tps > 0 ? p.transactions / p.tps : 0);
  const totalTime = parts.reduce((a, p) => a + time(p), 0);
  const tps = totalTime ? parts.reduce((a, p) => a + p.transactions, 0) / totalTime : 0;
  const all = parts.map((p) => latencies.get(p) ?? new Float64Array());
  const sorted = new Float64Array(all.reduce((a, l) => a + l.length, 0));
  let at = 0;
  for (const l of all) {
    sorted.set(l, at);
    at += l.length;
  }
  sorted.sort();
  const cpu = (k: keyof PgbenchResult['cpu']) => r2(totalTime ? parts.reduce((a, p) => a + p.cpu[k] * time(p), 0) / totalTime : 0);
  const combined: PgbenchResult = {
    script: first.script,
    protocol: first.protocol,
    clients: first.clients,
    seconds,
    transactions: parts.reduce((a, p) => a + p.transactions, 0),
    tps: Math.round(tps * 10) / 10,
    latencyMs: latencyOf(sorted),
    failed: parts.reduce((a, p) => a + p.failed, 0),
    errors: parts.flatMap((p) => p.errors),
    cpu: { postgresCores: cpu('postgresCores'), pgbenchCores: cpu('pgbenchCores'), otherCores: cpu('otherCores'), machineCores: cpu('machineCores') },
    runs: parts.map((p) => ({ seconds: p.seconds, transactions: p.transactions, tps: p.tps, p99: p.latencyMs.p99 })),
  };
  latencies.set(combined, sorted);
  return combined;
}

/**
 * JSON documents of the same size as Roster's, passed as pgbench variables
 * (-D), which the extended protocol sends as bound parameters, as
 * node-postgres does. (Inlined into the SQL, pgbench would read `"a":true`
 * as a reference to a variable `true`.)
 */
function documents(): Record<string, string> {
  const i = 123_457;
  const resource = userResource(i);
  const id = userId(i);
  const at = new Date().toISOString();
  const { schemas, ...rest } = resource;
  // Same shape as toScim() (src/scim/representation.ts) produces for the event's `resource`.
  const scim = {
    schemas,
    id,
    ...rest,
    meta: { resourceType: 'User', created: at, lastModified: at, location: `http://127.0.0.1:8080/scim/v2/${TENANT}/Users/${id}`, version: 'W/"1"' },
  };
  const data = {
    tenant: TENANT,
    resourceType: 'User',
    id,
    externalId: resource.externalId,
    userName: resource.userName,
    version: 1,
    etag: 'W/"1"',
    changed: [],
    sequence: 1,
    // Who caused it (src/services/actor.ts): the bench's SCIM token.
    actor: { type: 'scimToken', id: '00000000-0000-4000-8000-000000000001', name: 'bench' },
  };
  if (!(ENTERPRISE_USER_SCHEMA in resource)) throw new Error('dataset without enterprise extension');
  // The events parameter src/db/outbox.ts insertEvents sends: one row per event (the scripts put a fresh uid
  // and the event type in SQL).
  const eventRows = [{ uid: 'evt_0', type: 'user.created', ord: 1, data, resource: scim }];
  return { resource: JSON.stringify(resource), event_rows: JSON.stringify(eventRows) };
}

/**
 * The rest of the statement src/db/outbox.ts insertEvents sends after the resource write (`rw`): the
 * per-resource event number, the event from the :event_rows parameter (a fresh uid, the given type), its
 * deliveries and queue counters (none without endpoints) and the NOTIFY. `id` is the resource id as SQL
 * text; `tag` keeps one script's event uids apart from another's.
 */
function recordEventSql(type: string, id: string, tag: string): string {
  return `s AS (
  INSERT INTO event_sequences (tenant_id, resource_id, last_seq) VALUES (:tenant, ${id}, 1)
  ON CONFLICT (tenant_id, resource_id) DO UPDATE SET last_seq = event_sequences.last_seq + excluded.last_seq
  RETURNING last_seq
), x AS (
  SELECT 'evt_' || md5('evt-${tag}-' || :client_id || '-' || :r) AS uid, '${type}' AS type, r.ord, r.data, r.resource, (SELECT last_seq FROM s) - 1 + r.ord AS seq
  FROM json_to_recordset(:event_rows::json) AS r(uid text, type text, ord int, data jsonb, resource json)
), ev AS (
  INSERT INTO events (uid, tenant_id, type, resource_type, resource_id, seq, txn, data, resource, actor)
  SELECT x.uid, :tenant, x.type, 'User', ${id}, x.seq, md5('txn-${tag}-' || :client_id || '-' || :r), x.data || jsonb_build_object('sequence', x.seq), x.resource, x.data -> 'actor'
  FROM x ORDER BY x.ord
  RETURNING id, type
), dl AS (
  INSERT INTO webhook_deliveries (event_id, endpoint_id, resource_id)
  SELECT ev.id, w.id, ${id}
  FROM ev JOIN webhook_endpoints w ON w.tenant_id = :tenant AND w.enabled AND (w.events IS NULL OR ev.type = ANY (w.events))
  ORDER BY ev.id, w.id
  RETURNING endpoint_id
), q AS (
  INSERT INTO webhook_queues (endpoint_id, resource_id, pending, ready_at)
  SELECT endpoint_id, ${id}, count(*), now() FROM dl GROUP BY endpoint_id ORDER BY endpoint_id
  ON CONFLICT (endpoint_id, resource_id) DO UPDATE
    SET pending = webhook_queues.pending + excluded.pending,
        ready_at = CASE WHEN webhook_queues.pending <= 0 THEN excluded.ready_at ELSE webhook_queues.ready_at END
  RETURNING pending
), nt AS (
  SELECT pg_notify('roster_webhooks', '') FROM (SELECT 1 FROM q LIMIT 1) s
)
SELECT (SELECT count(*) FROM dl) AS deliveries, (SELECT count(*) FROM nt) AS notified;`;
}

/** SQL substituted for {{name}} in the scripts. */
function placeholders(): Record<string, string> {
  const iExpr = '(:i)::int';
  return {
    userName: userNameSql(iExpr),
    workEmail: workEmailSql(iExpr),
    userId: userIdSql(iExpr),
    recordCreated: recordEventSql('user.created', `md5('pgb-' || :client_id || '-' || :r)::uuid::text`, 'create'),
    recordUpdated: recordEventSql('user.updated', `${userIdSql(iExpr)}::text`, 'patch'),
  };
}

/** `overrides`: SQL for some placeholders instead of the scripts' own (the floor's parameters). */
export function expandScript(file: string, overrides: Record<string, string> = {}): string {
  const values = { ...placeholders(), ...overrides };
  return readFileSync(file, 'utf8').replace(/\{\{(\w+)\}\}/g, (m, name: string) => {
    const v = values[name];
    if (v === undefined) throw new Error(`${file}: unknown placeholder ${m}`);
    return v;
  });
}

/** The p-th percentile of ascending values (nearest rank); 0 when there are none. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export interface PgbenchRun {
  pgbench: string;
  databaseUrl: string;
  script: string;
  clients: number;
  /** Seconds (-T), or a transaction count per client (-t) when `transactions` is set. */
  seconds: number;
  transactions?: number | undefined;
  users: number;
  /** The bench database's name (for attributing Postgres CPU). */
  database: string;
  /** Processes of the bench whose CPU is not "other" work (the idle server). */
  ownPids?: number[];
  /**
   * pgbench's query mode (-M): `prepared` when Roster sends the scenario's statements as named prepared
   * statements (src/db/prepared.ts; the default), `extended` (unnamed, parsed and planned every time) when
   * the server runs with DATABASE_PREPARED_STATEMENTS=false. Default `extended`.
   */
  protocol?: 'extended' | 'prepared';
}

let runCount = 0;

export async function runPgbench(o: PgbenchRun): Promise<PgbenchResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'roster-pgbench-'));
  try {
    const name = path.basename(o.script, '.sql');
    const protocol = o.protocol ?? 'extended';
    const file = path.join(dir, `${name}.sql`);
    writeFileSync(file, expandScript(o.script));
    const args = [
      '-n',
      '-M',
      protocol,
      '-c',
      String(o.clients),
      '-j',
      String(Math.min(2, o.clients)),
      ...(o.transactions ? ['-t', String(o.transactions)] : ['-T', String(Math.max(1, Math.round(o.seconds)))]),
      '-D',
      `tenant=${TENANT}`,
      '-D',
      `users=${o.users}`,
      ...Object.entries(documents()).flatMap(([k, v]) => ['-D', `${k}=${v}`]),
      // A new seed for every run of a bench run: the write scripts derive ids from random numbers, so a second
      // run with the same seed (the ceiling after a scenario) would repeat the first run's ids.
      `--random-seed=${42 + runCount++}`,
      '-l',
      `--log-prefix=${path.join(dir, 'log')}`,
      '-f',
      file,
      o.databaseUrl,
    ];
    const own0 = (o.ownPids ?? []).map((pid) => processCpuSeconds(pid) ?? 0);
    const self0 = process.cpuUsage();
    const pgTracker = new PostgresCpuTracker(o.database);
    pgTracker.start();
    const m0 = machineCpu();
    const t0 = performance.now();
    let pgbenchCpu = 0;
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const p = spawn(o.pgbench, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      // pgbench's own CPU, read while it runs (its /proc entry is gone after exit).
      const poll = setInterval(() => (pgbenchCpu = processCpuSeconds(p.pid!) ?? pgbenchCpu), 200);
      let out = '';
      let err = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (err += d));
      p.once('error', reject);
      p.once('exit', (c) => {
        clearInterval(poll);
        resolve({ code: c, stdout: out, stderr: err });
      });
    });
    const wall = (performance.now() - t0) / 1000;
    const m1 = machineCpu();
    const pgCpu = pgTracker.stop();
    const self = process.cpuUsage(self0);
    const ownCpu = (o.ownPids ?? []).reduce((a, pid, k) => a + ((processCpuSeconds(pid) ?? 0) - own0[k]!), 0) + (self.user + self.system) / 1e6;
    const machineCores = m1.total > m0.total ? ((m1.busy - m0.busy) / (m1.total - m0.total)) * os.availableParallelism() : 0;
    const c2 = (x: number) => Math.round((x / wall) * 100) / 100;
    const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1] ?? NaN);
    const failed = Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0);
    const errors = stderr
      .split('\n')
      .filter((l) => /error|abort|fatal/i.test(l))
      .slice(0, 5);
    if (code !== 0 && errors.length === 0) errors.push(`pgbench exited with ${code}: ${stderr.slice(0, 500)}`);
    if (!Number.isFinite(tps)) throw new Error(`pgbench ${name}: no tps in output\n${stdout}\n${stderr}`);

    // Per-transaction log lines: client_id transaction_no time_us script_no epoch epoch_us …
    const lat: number[] = [];
    for (const f of readdirSync(dir).filter((x) => x.startsWith('log'))) {
      for (const line of readFileSync(path.join(dir, f), 'utf8').split('\n')) {
        const parts = line.split(' ');
        if (parts.length >= 3) lat.push(Number(parts[2]) / 1000);
      }
    }
    const sorted = Float64Array.from(lat).sort();
    const seconds = Number(/duration: (\d+) s/.exec(stdout)?.[1] ?? o.seconds);
    const result: PgbenchResult = {
      script: `bench/pgbench/${name}.sql`,
      protocol,
      clients: o.clients,
      seconds,
      transactions: Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1] ?? lat.length),
      tps: Math.round(tps * 10) / 10,
      latencyMs: latencyOf(sorted),
      failed,
      errors,
      cpu: {
        postgresCores: c2(pgCpu),
        pgbenchCores: c2(pgbenchCpu),
        otherCores: Math.max(0, Math.round((machineCores - (pgCpu + pgbenchCpu + ownCpu) / wall) * 100) / 100),
        machineCores: Math.round(machineCores * 100) / 100,
      },
    };
    latencies.set(result, sorted);
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
