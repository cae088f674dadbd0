/**
 * Seeds the benchmark database: a dedicated database (default `roster_bench`)
 * migrated with Roster's own migrations, one tenant with N users and the
 * groups described in bench/lib/dataset.ts, loaded with bulk SQL (batched
 * `INSERT … SELECT FROM jsonb_to_recordset`, memberships with
 * `INSERT … SELECT`), never through the HTTP API.
 *
 * The user columns are computed by Roster's own `columnsOf` (src/db/users.ts),
 * so they mirror the JSONB exactly as the service writes them. For large N
 * the secondary indexes of users/group_members are dropped during the load
 * and rebuilt afterwards from their own definitions (pg_indexes), which is
 * several times faster than maintaining them row by row; then VACUUM ANALYZE.
 *
 * A seeded database carries a marker (table bench_seed). A later run with the
 * same N, data-set version and migrations reuses it after removing what
 * earlier runs added (created users, added memberships, events), unless
 * --reseed is given.
 *
 * Standalone: `npx tsx bench/seed.ts --users 100000 [--reseed]`.
 */
import { isDeepStrictEqual } from 'node:util';
import pg from 'pg';
import { migrations } from '../migrations/index.js';
import { migrateToLatest, openDatabase } from '../src/db/index.js';
import { columnsOf } from '../src/db/users.js';
import { TenantService } from '../src/services/tenants.js';
import {
  BIG_GROUP,
  DATASET_VERSION,
  DEPARTMENTS,
  SMALL_GROUP,
  TENANT,
  bigGroupSize,
  createdAt,
  departmentGroup,
  groupId,
  groupNames,
  groupResource,
  rng,
  smallGroupMembers,
  userId,
  userResource,
} from './lib/dataset.js';

export interface SeedOptions {
  /** Server-level URL used for CREATE/DROP DATABASE (any database on the server). */
  adminUrl: string;
  database: string;
  users: number;
  token: string;
  reseed?: boolean;
  log?: (line: string) => void;
}

export interface SeedResult {
  databaseUrl: string;
  reused: boolean;
  seconds: number;
  /** Time per phase, seconds. */
  phases: Record<string, number>;
  users: number;
  groups: number;
  memberships: number;
}

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const BATCH = 5_000;
/** Below this many users, indexes are kept during the load (dropping them is not worth it). */
const DEFER_INDEXES_FROM = 50_000;

export function databaseUrlFor(adminUrl: string, database: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

const ident = (s: string) => {
  if (!/^[a-z_][a-z0-9_]*$/.test(s)) throw new Error(`bad database name ${JSON.stringify(s)}`);
  return s;
};

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function dropDatabase(adminUrl: string, database: string): Promise<void> {
  await withClient(adminUrl, (c) => c.query(`drop database if exists ${ident(database)} with (force)`));
}

interface Marker {
  users: number;
  dataset: number;
  migrations: string;
  seeded_at: Date;
}

export async function seed(opts: SeedOptions): Promise<SeedResult> {
  const log = opts.log ?? (() => {});
  const started = performance.now();
  const phases: Record<string, number> = {};
  let mark = performance.now();
  const phase = (name: string) => {
    const now = performance.now();
    phases[name] = Math.round(now - mark) / 1000;
    mark = now;
    log(`seed: ${name} ${phases[name]!.toFixed(1)} s`);
  };
  const databaseUrl = databaseUrlFor(opts.adminUrl, opts.database);
  const migrationList = Object.keys(migrations).join(',');

  // Reuse a database seeded with the same N, data set and migrations.
  const exists = await withClient(opts.adminUrl, async (c) => (await c.query('select 1 from pg_database where datname = $1', [opts.database])).rowCount === 1);
  if (exists && !opts.reseed) {
    const marker = await withClient(databaseUrl, async (c) => {
      const t = await c.query(`select to_regclass('bench_seed') as t`);
      if (!t.rows[0].t) return undefined;
      return (await c.query<Marker>('select users, dataset, migrations, seeded_at from bench_seed')).rows[0];
    });
    if (marker && marker.users === opts.users && marker.dataset === DATASET_VERSION && marker.migrations === migrationList) {
      await withClient(databaseUrl, (c) => cleanup(c, marker.seeded_at));
      phase('reuse');
      const seconds = Math.round(performance.now() - started) / 1000;
      log(`seed: reused ${opts.database} (${opts.users} users, seeded ${marker.seeded_at.toISOString()})`);
      return { databaseUrl, reused: true, seconds, phases, users: opts.users, groups: groupNames().length, memberships: await countMemberships(databaseUrl) };
    }
  }

  await dropDatabase(opts.adminUrl, opts.database);
  await withClient(opts.adminUrl, (c) => c.query(`create database ${ident(opts.database)}`));
  const handle = await openDatabase({ databaseUrl, poolMax: 2 });
  try {
    await migrateToLatest(handle.db);
    await new TenantService(handle.db).ensure(TENANT, opts.token);
  } finally {
    await handle.close();
  }
  phase('create+migrate');

  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  pool.on('error', () => {});
  try {
    const defer = opts.users >= DEFER_INDEXES_FROM;
    const deferred = defer ? await dropSecondaryIndexes(pool, ['users', 'group_members']) : [];
    if (defer) phase('drop indexes');

    await loadUsers(pool, opts.users, log);
    phase('users');

    await loadGroups(pool, opts.users);
    phase('groups+memberships');

    if (deferred.length) {
      await rebuildIndexes(pool, deferred);
      phase('rebuild indexes');
    }

    await pool.query('vacuum (analyze) users, groups, group_members, tenants, tokens');
    phase('vacuum analyze');

    await verifySample(pool, opts.users);
    phase('verify');

    await pool.query('create table bench_seed (users integer not null, dataset integer not null, migrations text not null, seeded_at timestamptz not null)');
    await pool.query('insert into bench_seed values ($1, $2, $3, now())', [opts.users, DATASET_VERSION, migrationList]);
  } finally {
    await pool.end();
  }
  const seconds = Math.round(performance.now() - started) / 1000;
  const memberships = await countMemberships(databaseUrl);
  log(`seed: ${opts.users} users, ${groupNames().length} groups, ${memberships} memberships in ${seconds.toFixed(1)} s`);
  return { databaseUrl, reused: false, seconds, phases, users: opts.users, groups: groupNames().length, memberships };
}

async function countMemberships(databaseUrl: string): Promise<number> {
  return withClient(databaseUrl, async (c) => Number((await c.query('select count(*) as n from group_members')).rows[0].n));
}

/** Undo what benchmark runs add to a reused database, so each run starts from the same state. */
async function cleanup(c: pg.Client, seededAt: Date): Promise<void> {
  await c.query('delete from group_members where tenant_id = $1 and added_at > $2', [TENANT, seededAt]);
  await c.query('delete from users where tenant_id = $1 and created > $2', [TENANT, new Date(Date.UTC(2025, 0, 1) + 1e10)]);
  // Whatever the outbox migrations created: events of earlier runs would only slow the next one down. And the
  // index paging positions earlier runs left (src/services/paging.ts): each run starts without any. The
  // provisioning log and audit trail of earlier runs too (src/services/request-log.ts).
  const tables = await c.query<{ t: string }>(
    `select tablename as t from pg_tables where schemaname = 'public' and tablename in ('events', 'event_sequences', 'webhook_deliveries', 'webhook_queues', 'webhook_attempts', 'index_resume_points', 'request_log', 'audit_log')`,
  );
  if (tables.rows.length) await c.query(`truncate ${tables.rows.map((r) => r.t).join(', ')}`);
  // A webhook endpoint the event-latency scenario could not remove (a run that was stopped) would make every
  // later write pay for deliveries.
  await c.query('delete from webhook_endpoints where tenant_id = $1', [TENANT]);
  await c.query('vacuum (analyze) users, group_members');
}

async function dropSecondaryIndexes(pool: pg.Pool, tables: string[]): Promise<string[]> {
  // Indexes that back a constraint (primary keys) stay; the others are recreated from their own definitions.
  const r = await pool.query<{ name: string; def: string }>(
    `select i.indexname as name, i.indexdef as def
       from pg_indexes i
      where i.schemaname = 'public' and i.tablename = any($1)
        and not exists (select 1 from pg_constraint c where c.conindid = (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass)`,
    [tables],
  );
  for (const { name } of r.rows) await pool.query(`drop index ${name}`);
  return r.rows.map((x) => x.def);
}

async function rebuildIndexes(pool: pg.Pool, defs: string[]): Promise<void> {
  // Two at a time (2 connections); the big ones first.
  const queue = [...defs].sort((a, b) => Number(/gin/i.test(b)) - Number(/gin/i.test(a)));
  const worker = async () => {
    const c = await pool.connect();
    try {
      await c.query(`set maintenance_work_mem = '512MB'`);
      for (let def = queue.shift(); def; def = queue.shift()) await c.query(def);
    } finally {
      c.release();
    }
  };
  await Promise.all([worker(), worker()]);
}

const USER_INSERT = `
  insert into users (tenant_id, id, user_name, external_id, active, display_name, given_name, family_name, email_values, resource, version, created, last_modified, host_state, inactive_since)
  select $1, r.id, r.user_name, r.external_id, r.active, r.display_name, r.given_name, r.family_name, r.email_values, r.resource, 1, r.created, r.created,
         case when r.active is false then 'inactive' else 'active' end, case when r.active is false then r.created end
    from jsonb_to_recordset($2::jsonb) as r(id uuid, user_name text, external_id text, active boolean, display_name text,
         given_name text, family_name text, email_values text[], resource jsonb, created timestamptz)`;

/** One batch as JSON text; the resource is embedded exactly as columnsOf serialised it. */
function userBatch(from: number, to: number): string {
  const parts: string[] = [];
  for (let i = from; i <= to; i++) {
    const { resource, ...cols } = columnsOf(userResource(i));
    const head = JSON.stringify({ id: userId(i), created: createdAt(i).toISOString(), ...cols });
    parts.push(`${head.slice(0, -1)},"resource":${resource}}`);
  }
  return `[${parts.join(',')}]`;
}

async function loadUsers(pool: pg.Pool, n: number, log: (l: string) => void): Promise<void> {
  let next = 1;
  let done = 0;
  let lastLog = performance.now();
  // Two loaders: while Postgres ingests one batch, the other is being built.
  const worker = async () => {
    while (next <= n) {
      const from = next;
      const to = Math.min(n, from + BATCH - 1);
      next = to + 1;
      await pool.query(USER_INSERT, [TENANT, userBatch(from, to)]);
      done += to - from + 1;
      if (performance.now() - lastLog > 10_000) {
        lastLog = performance.now();
        log(`seed: ${done} / ${n} users`);
      }
    }
  };
  await Promise.all([worker(), worker()]);
}

async function loadGroups(pool: pg.Pool, n: number): Promise<void> {
  const names = groupNames();
  const at = createdAt(0).toISOString();
  await pool.query(
    `insert into groups (tenant_id, id, display_name, external_id, resource, version, created, last_modified)
     select $1, r.id, r.display_name, r.external_id, r.resource, 1, $3::timestamptz, $3::timestamptz
       from jsonb_to_recordset($2::jsonb) as r(id uuid, display_name text, external_id text, resource jsonb)`,
    [
      TENANT,
      JSON.stringify(
        names.map((name) => {
          const resource = groupResource(name);
          return { id: groupId(name), display_name: name, external_id: resource.externalId, resource };
        }),
      ),
      at,
    ],
  );
  // Memberships straight from the users table: employeeNumber is the user's index (dataset.ts).
  const B = bigGroupSize(n);
  const small = smallGroupMembers(n);
  const num = `(u.resource -> '${ENTERPRISE}' ->> 'employeeNumber')::int`;
  await pool.query(
    `insert into group_members (tenant_id, group_id, member_id, member_type)
     select u.tenant_id, $2, u.id, 'User' from users u where u.tenant_id = $1 and ${num} <= $3`,
    [TENANT, groupId(BIG_GROUP), B],
  );
  await pool.query(
    `insert into group_members (tenant_id, group_id, member_id, member_type)
     select u.tenant_id, $2, u.id, 'User' from users u where u.tenant_id = $1 and ${num} between $3 and $4`,
    [TENANT, groupId(SMALL_GROUP), small[0], small[small.length - 1]],
  );
  await pool.query(
    `insert into group_members (tenant_id, group_id, member_id, member_type)
     select u.tenant_id, g.id, u.id, 'User'
       from users u join groups g on g.tenant_id = u.tenant_id and g.display_name = 'Dept ' || (u.resource -> '${ENTERPRISE}' ->> 'department')
      where u.tenant_id = $1`,
    [TENANT],
  );
  const counts = await pool.query<{ id: string; n: string }>('select group_id as id, count(*) as n from group_members group by group_id');
  const byId = new Map(counts.rows.map((r) => [r.id, Number(r.n)]));
  const expect = (name: string, k: number) => {
    if ((byId.get(groupId(name)) ?? 0) !== k) throw new Error(`seed: group ${name} has ${byId.get(groupId(name))} members, expected ${k}`);
  };
  expect(BIG_GROUP, B);
  expect(SMALL_GROUP, small.length);
  const perDept = (d: number) => Math.floor((n - d) / DEPARTMENTS.length) + (d === 0 ? 0 : 1);
  DEPARTMENTS.forEach((d, k) => expect(departmentGroup(d), perDept(k)));
}

/** Spot-check: stored columns and JSONB of random users equal what the service would write. */
async function verifySample(pool: pg.Pool, n: number): Promise<void> {
  const next = rng(7);
  const picks = Array.from({ length: Math.min(200, n) }, () => 1 + Math.floor(next() * n));
  const r = await pool.query(
    `select id, user_name, external_id, active, display_name, given_name, family_name, email_values, resource from users where tenant_id = $1 and id = any($2::uuid[])`,
    [TENANT, picks.map(userId)],
  );
  const byId = new Map(r.rows.map((row) => [row.id as string, row]));
  for (const i of picks) {
    const row = byId.get(userId(i));
    if (!row) throw new Error(`seed: user ${i} missing`);
    const { resource, ...cols } = columnsOf(userResource(i));
    const stored = { ...row, resource: undefined, id: undefined };
    delete stored.resource;
    delete stored.id;
    if (!isDeepStrictEqual(stored, cols) || !isDeepStrictEqual(row.resource, JSON.parse(resource))) {
      throw new Error(`seed: user ${i} stored differently from columnsOf: ${JSON.stringify(stored)} vs ${JSON.stringify(cols)}`);
    }
  }
}

// Standalone use.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { parseArgs } = await import('./lib/args.js');
  const o = parseArgs(process.argv.slice(2));
  const r = await seed({ adminUrl: o.adminUrl, database: o.database, users: o.users, token: o.token, reseed: o.reseed, log: (l) => console.log(l) });
  console.log(JSON.stringify(r, null, 2));
}
