/**
 * Webhook delivery benchmark: how fast committed changes reach a receiver.
 *
 *   npx tsx bench/delivery.ts                       # Postgres and PGlite, default load
 *   npx tsx bench/delivery.ts --backend postgres --rate 800,1200 --seconds 30
 *   npx tsx bench/delivery.ts --no-readme           # print only
 *
 * The writer and the delivery worker run in this process, as in a Roster
 * server (SCIM requests and the worker share the process and its pool); the
 * receiver is a separate Node process on 127.0.0.1 that answers 204 and
 * timestamps each request. Every change is its own transaction through
 * recordChange, exactly as the services write them.
 *
 * Scenarios:
 * - steady: `--rate` changes per second (a comma-separated list runs each in
 *   turn; default 100,300,500; `--pglite-rate` for PGlite, default 50,100,200)
 *   for `--seconds`, spread over `--users` users. Latency is from the writer seeing COMMIT acknowledged to the
 *   receiver reading the request (same machine clock).
 * - drain: `--burst` events written while no worker runs (the receiver was
 *   "down"), then a worker starts: how fast the backlog empties.
 * - one resource: `--serial` events of a single user: per-resource ordering
 *   makes these strictly sequential (claim, POST, complete, next).
 * Every run checks that every event arrived, in order per user, and counts
 * repeats (at-least-once: an attempt that timed out is sent again).
 * Each backend waits (up to --wait-quiet seconds, default 600) for the machine
 * to be under 25 % busy first, and reports how busy it was.
 *
 * Postgres: a throw-away database on BENCH_ADMIN_URL / TEST_DATABASE_URL
 * (default postgres://postgres@127.0.0.1:5432/test). Results go to
 * bench/README.md between the `delivery` markers unless --no-readme.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import pg from 'pg';
import pino from 'pino';
import { loadConfig } from '../src/config.js';
import { migrateToLatest, openDatabase, type DatabaseHandle } from '../src/db/index.js';
import { insertTenant } from '../src/db/tenants.js';
import { recordChange, type ResourceChange } from '../src/events/record.js';
import { WebhookService } from '../src/events/service.js';
import { startDeliveryWorker, type DeliveryWorker } from '../src/events/worker.js';
import { waitQuiet } from './lib/system.js';

// ---------------------------------------------------------------------------
// Receiver process (this same file, forked with --receiver)

if (process.argv.includes('--receiver')) {
  const { createServer } = await import('node:http');
  const got: [string, number, number][] = [];
  const unique = new Set<string>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = performance.timeOrigin + performance.now();
      const d = JSON.parse(Buffer.concat(chunks).toString('utf8')).data;
      got.push([d.id, d.sequence, at]);
      unique.add(`${d.id}/${d.sequence}`);
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 30_000;
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as { port: number }).port }));
  process.on('message', (m: { cmd: string }) => {
    if (m.cmd === 'count') process.send!({ count: unique.size });
    if (m.cmd === 'take') {
      unique.clear();
      process.send!({ got: got.splice(0) });
    }
    if (m.cmd === 'exit') server.close(() => process.exit(0));
  });
}

// ---------------------------------------------------------------------------

interface Args {
  backends: ('postgres' | 'pglite')[];
  rates: number[];
  pgliteRates: number[];
  seconds: number;
  users: number;
  burst: number;
  serial: number;
  writers: number;
  readme: boolean;
  waitQuietSeconds: number;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const num = (name: string, d: number) => (get(name) === undefined ? d : Number(get(name)));
  const b = get('backend') ?? 'both';
  return {
    backends: b === 'both' ? ['postgres', 'pglite'] : [b as 'postgres' | 'pglite'],
    rates: (get('rate') ?? '100,300,500').split(',').map(Number),
    pgliteRates: (get('pglite-rate') ?? '50,100,200').split(',').map(Number),
    seconds: num('seconds', 20),
    users: num('users', 1000),
    burst: num('burst', 20_000),
    serial: num('serial', 1000),
    writers: num('writers', 8),
    readme: !argv.includes('--no-readme'),
    waitQuietSeconds: num('wait-quiet', 600),
  };
}

const log = (s: string) => process.stdout.write(`${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();

class Receiver {
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {}

  static async start(): Promise<Receiver> {
    const child = fork(fileURLToPath(import.meta.url), ['--receiver'], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)));
    return new Receiver(child, `http://127.0.0.1:${port}/hook`);
  }

  private ask<T>(cmd: string): Promise<T> {
    return new Promise((resolve) => {
      this.child.once('message', (m) => resolve(m as T));
      this.child.send({ cmd });
    });
  }

  /** Distinct events received since the last take(). */
  async count(): Promise<number> {
    return (await this.ask<{ count: number }>('count')).count;
  }

  async take(): Promise<[string, number, number][]> {
    return (await this.ask<{ got: [string, number, number][] }>('take')).got;
  }

  async waitFor(n: number, maxMs: number): Promise<void> {
    const end = Date.now() + maxMs;
    while ((await this.count()) < n) {
      if (Date.now() > end) throw new Error(`receiver got ${await this.count()} of ${n} within ${maxMs} ms`);
      await sleep(20);
    }
  }

  close(): void {
    this.child.send({ cmd: 'exit' });
  }
}

/** A user-updated change with a realistic (~1 KB) resource. */
function change(tenantId: string, id: string, version: number): ResourceChange {
  const userName = `bench.${id.slice(0, 8)}@example.com`;
  return {
    tenantId,
    resourceType: 'User',
    action: version === 1 ? 'created' : 'updated',
    id,
    externalId: id.slice(0, 13),
    name: userName,
    version,
    etag: `W/"${version}"`,
    changed: version === 1 ? [] : ['title'],
    resource: {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],
      id,
      externalId: id.slice(0, 13),
      userName,
      name: { givenName: 'Bench', familyName: `User ${id.slice(0, 4)}`, formatted: `Bench User ${id.slice(0, 4)}` },
      displayName: `Bench User ${id.slice(0, 4)}`,
      title: `Engineer v${version}`,
      active: true,
      emails: [{ value: userName, type: 'work', primary: true }],
      phoneNumbers: [{ value: '+1 555 0100', type: 'work' }],
      addresses: [{ type: 'work', streetAddress: '1 Main St', locality: 'Springfield', postalCode: '12345', country: 'US' }],
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { employeeNumber: String(version), department: 'R&D', costCenter: 'CC-1', manager: { value: randomUUID() } },
      meta: { resourceType: 'User', created: new Date().toISOString(), lastModified: new Date().toISOString(), version: `W/"${version}"`, location: `https://roster.example/scim/v2/bench/Users/${id}` },
    },
    actor: { type: 'scimToken', id: '00000000-0000-4000-8000-000000000001', name: 'bench' },
  };
}

interface Writer {
  /** commit-acknowledged time per `${id}/${sequence}` */
  committed: Map<string, number>;
  seq: Map<string, number>;
}

async function write(db: DatabaseHandle['db'], tenant: string, w: Writer, id: string): Promise<void> {
  const s = (w.seq.get(id) ?? 0) + 1;
  w.seq.set(id, s);
  await db.transaction().execute((trx) => recordChange(trx, change(tenant, id, s)));
  w.committed.set(`${id}/${s}`, now());
}

/** Run `count` writes with `concurrency` in flight, paced at `rate` per second (0 = as fast as possible). */
async function drive(count: number, concurrency: number, rate: number, one: (i: number) => Promise<void>): Promise<number> {
  const t0 = now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        if (rate > 0) {
          const due = t0 + (i * 1000) / rate;
          const wait = due - now();
          if (wait > 0) await sleep(wait);
        }
        await one(i);
      }
    }),
  );
  return (now() - t0) / 1000;
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Check {
  delivered: number;
  duplicates: number;
  outOfOrder: number;
  latencies: number[];
  lastAt: number;
}

function check(got: [string, number, number][], w: Writer, before: Map<string, number> = new Map()): Check {
  const seen = new Set<string>();
  const last = new Map(before);
  let duplicates = 0;
  let outOfOrder = 0;
  const latencies: number[] = [];
  let lastAt = 0;
  for (const [id, s, at] of got) {
    const k = `${id}/${s}`;
    if (seen.has(k)) {
      duplicates++; // at-least-once: a repeat (after a timeout or a lost claim) is not an ordering fault
      continue;
    }
    seen.add(k);
    if ((last.get(id) ?? 0) !== s - 1) outOfOrder++;
    last.set(id, s);
    const c = w.committed.get(k);
    if (c !== undefined) latencies.push(at - c);
    lastAt = Math.max(lastAt, at);
  }
  latencies.sort((a, b) => a - b);
  return { delivered: seen.size, duplicates, outOfOrder, latencies, lastAt };
}

interface Steady {
  target: number;
  achieved: number;
  events: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  within1s: number;
  dup: number;
  ooo: number;
}

interface BackendResult {
  backend: string;
  /** Machine CPU busy (other work) just before the run, 0–1. */
  busyBefore: number;
  steady: Steady[];
  drain: { events: number; resources: number; writeSeconds: number; drainSeconds: number; perSecond: number; dup: number; ooo: number };
  serial: { events: number; seconds: number; perSecond: number; ooo: number };
}

async function runBackend(backend: 'postgres' | 'pglite', a: Args): Promise<BackendResult> {
  const quiet = await waitQuiet(a.waitQuietSeconds, 0.25, log);
  log(`[${backend}] machine ${Math.round(quiet.busy * 100)} % busy before the run`);
  const adminUrl = process.env.BENCH_ADMIN_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  let dbName: string | undefined;
  let url: string | undefined;
  if (backend === 'postgres') {
    dbName = `roster_delivery_bench_${randomBytes(4).toString('hex')}`;
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    await c.query(`create database ${dbName}`);
    await c.end();
    const u = new URL(adminUrl);
    u.pathname = `/${dbName}`;
    url = u.toString();
  }
  // The receiver is on loopback, which webhook destinations refuse unless allowed.
  const config = { ...loadConfig({ LOG_LEVEL: 'silent', WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32' }), databaseUrl: url };
  const h = await openDatabase(url ? { databaseUrl: url, poolMax: config.databasePoolMax } : { dataDir: 'memory://' });
  const rx = await Receiver.start();
  const workers: DeliveryWorker[] = [];
  try {
    await migrateToLatest(h.db);
    const tenant = 'bench';
    await insertTenant(h.db, { id: tenant, name: tenant, settings: {} });
    const svc = new WebhookService(h.db, { secretGraceSeconds: 0, destinations: { allowed: config.webhookAllowedCidrs, denied: [] } });
    const ep = await svc.create(tenant, { url: rx.url });
    const logger = pino({ level: 'warn' });
    const startWorker = () => {
      const w = startDeliveryWorker({ db: h.db, logger, config });
      workers.push(w);
      return w;
    };
    const users = Array.from({ length: a.users }, () => randomUUID());

    // -- steady, at each rate
    let w1 = startWorker();
    const ws: Writer = { committed: new Map(), seq: new Map() };
    const steady: Steady[] = [];
    for (const rate of backend === 'pglite' ? a.pgliteRates : a.rates) {
      log(`[${backend}] steady: ${rate}/s for ${a.seconds} s over ${a.users} users (${a.writers} writers, pool ${config.databasePoolMax}, worker concurrency ${config.webhookConcurrency}, poll ${config.webhookPollIntervalMs} ms)`);
      const before = new Map(ws.seq);
      ws.committed.clear();
      const total = Math.round(rate * a.seconds);
      const writeSeconds = await drive(total, a.writers, rate, (i) => write(h.db, tenant, ws, users[i % users.length]!));
      await rx.waitFor(total, 600_000);
      const s = check(await rx.take(), ws, before);
      const within1s = s.latencies.filter((l) => l <= 1000).length / s.latencies.length;
      const st: Steady = {
        target: rate,
        achieved: total / writeSeconds,
        events: s.delivered,
        p50: pct(s.latencies, 50),
        p90: pct(s.latencies, 90),
        p99: pct(s.latencies, 99),
        max: s.latencies[s.latencies.length - 1]!,
        within1s,
        dup: s.duplicates,
        ooo: s.outOfOrder,
      };
      steady.push(st);
      log(`  wrote ${total} at ${st.achieved.toFixed(0)}/s; commit→receiver p50 ${st.p50.toFixed(1)} ms, p90 ${st.p90.toFixed(1)}, p99 ${st.p99.toFixed(1)}, max ${st.max.toFixed(1)}; ${(within1s * 100).toFixed(2)} % within 1 s; duplicates ${s.duplicates}, out of order ${s.outOfOrder}`);
    }

    // -- drain
    await w1.stop(5000);
    const wd: Writer = { committed: new Map(), seq: new Map(ws.seq) };
    log(`[${backend}] drain: ${a.burst} events over ${a.users} users written with no worker running`);
    const burstWrite = await drive(a.burst, a.writers, 0, (i) => write(h.db, tenant, wd, users[i % users.length]!));
    const t0 = now();
    w1 = startWorker();
    await rx.waitFor(a.burst, 600_000);
    const d = check(await rx.take(), wd, ws.seq);
    const drainSeconds = (d.lastAt - t0) / 1000;
    const drain = { events: a.burst, resources: a.users, writeSeconds: burstWrite, drainSeconds, perSecond: a.burst / drainSeconds, dup: d.duplicates, ooo: d.outOfOrder };
    log(`  written in ${burstWrite.toFixed(1)} s (${(a.burst / burstWrite).toFixed(0)}/s); drained in ${drainSeconds.toFixed(1)} s = ${drain.perSecond.toFixed(0)} deliveries/s; duplicates ${d.duplicates}, out of order ${d.outOfOrder}`);

    // -- one resource
    log(`[${backend}] one resource: ${a.serial} events of one user`);
    const one = randomUUID();
    const wo: Writer = { committed: new Map(), seq: new Map() };
    const t1 = now();
    await drive(a.serial, 1, 0, () => write(h.db, tenant, wo, one));
    await rx.waitFor(a.serial, 300_000);
    const o = check(await rx.take(), wo);
    const serialSeconds = (o.lastAt - t1) / 1000;
    const serial = { events: a.serial, seconds: serialSeconds, perSecond: a.serial / serialSeconds, ooo: o.outOfOrder };
    log(`  ${serial.perSecond.toFixed(0)} deliveries/s for a single resource (strictly sequential); out of order ${o.outOfOrder}`);

    const left = await sql<{ n: unknown }>`select count(*) as n from webhook_deliveries where endpoint_id = ${ep.endpoint.id} and status = 'dead'`.execute(h.db);
    if (Number(left.rows[0]!.n) !== 0) throw new Error(`${left.rows[0]!.n} deliveries dead-lettered`);
    return { backend, busyBefore: quiet.busy, steady, drain, serial };
  } finally {
    await Promise.all(workers.map((w) => w.stop(2000)));
    rx.close();
    await h.close();
    if (dbName) {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`drop database if exists ${dbName} with (force)`);
      await c.end();
    }
  }
}

async function postgresVersion(): Promise<string> {
  const c = new pg.Client({ connectionString: process.env.BENCH_ADMIN_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' });
  await c.connect();
  const r = await c.query<{ server_version: string }>('show server_version');
  await c.end();
  return r.rows[0]!.server_version;
}

function markdown(a: Args, results: BackendResult[], env: string): string {
  const f = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : '—');
  const lines = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${env}; \`npx tsx bench/delivery.ts --rate ${a.rates.join(',')} --pglite-rate ${a.pgliteRates.join(',')} --seconds ${a.seconds} --users ${a.users} --burst ${a.burst} --serial ${a.serial}\`.`,
    '',
    '| Backend | Offered changes/s | Written/s | commit→receiver p50 | p90 | p99 | max | within 1 s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.flatMap((r) =>
      r.steady.map(
        (st) =>
          `| ${r.backend} | ${st.target} | ${f(st.achieved)} | ${f(st.p50, 1)} ms | ${f(st.p90, 1)} ms | ${f(st.p99, 1)} ms | ${f(st.max)} ms | ${f(st.within1s * 100, 1)} % |`,
      ),
    ),
    '',
    '| Backend | Backlog drain | One resource | Duplicates / out of order (all scenarios) | Other CPU load before the run |',
    '| --- | --- | --- | --- | --- |',
    ...results.map((r) => {
      const dup = r.steady.reduce((n, st) => n + st.dup, 0) + r.drain.dup;
      const ooo = r.steady.reduce((n, st) => n + st.ooo, 0) + r.drain.ooo + r.serial.ooo;
      return `| ${r.backend} | ${f(r.drain.perSecond)} deliveries/s (${r.drain.events} events over ${r.drain.resources} users) | ${f(r.serial.perSecond)} deliveries/s | ${dup} / ${ooo} | ${f(r.busyBefore * 100)} % |`;
    }),
  ];
  return lines.join('\n');
}

const START = '<!-- delivery:start -->';
const END = '<!-- delivery:end -->';

function updateReadme(table: string): void {
  const file = fileURLToPath(new URL('./README.md', import.meta.url));
  const readme = readFileSync(file, 'utf8');
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  let out: string;
  if (a >= 0 && b > a) out = `${readme.slice(0, a + START.length)}\n${table}\n${readme.slice(b)}`;
  else out = `${readme.trimEnd()}\n\n## Delivery\n\n${DELIVERY_INTRO}\n\n${START}\n${table}\n${END}\n`;
  writeFileSync(file, out);
}

const DELIVERY_INTRO = `How quickly committed changes reach a webhook receiver (\`bench/delivery.ts\`, run with
\`npx tsx bench/delivery.ts\`; \`--help\` is the comment at the top of the file). Writer and delivery worker share one
process and its connection pool (a Roster server gives the worker connections of its own), with settings as in a Roster server (\`WEBHOOK_CONCURRENCY=64\`,
\`WEBHOOK_POLL_INTERVAL_MS=1000\`, pool of 10); the receiver is another process on 127.0.0.1 answering 204. Each
change is its own transaction through \`recordChange\`, with a ~1 KB user resource. **Steady**: changes at a fixed
rate spread over many users; latency is from COMMIT acknowledged to the receiver reading the request. **Backlog
drain**: events written while no worker runs (a receiver that was down), then one worker starts. **One resource**:
events of a single user, which per-resource ordering sends strictly one after another (claim, POST, complete).
Every run checks that every event arrived, in order per user, and counts repeats (delivery is at-least-once: a request
that times out is sent again). Writers and worker share a 2-core machine with the receiver and Postgres; PGlite runs
in the writer's own thread, so its capacity is that of one busy core.`;

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const results: BackendResult[] = [];
  for (const b of a.backends) results.push(await runBackend(b, a));
  const cpus = os.cpus();
  const env = `${cpus.length} × ${cpus[0]?.model.trim() ?? 'CPU'}, Node ${process.version}${a.backends.includes('postgres') ? `, Postgres ${await postgresVersion()} on the same machine` : ''}, PGlite in-process (memory://)`;
  const table = markdown(a, results, env);
  log('\n' + table);
  if (a.readme) {
    updateReadme(table);
    log('\nbench/README.md updated (Delivery section).');
  }
}

if (!process.argv.includes('--receiver')) await main();
