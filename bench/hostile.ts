/**
 * Does one request stall everyone else? (issue 24) Roster on a real loopback
 * port, in this process; a prober thread asks `GET /livez` every 5 ms over
 * its own keep-alive connection, and a load thread sends the largest
 * requests Roster allows, one after another, for each scenario. Both threads
 * have their own event loop, so what they measure is the server's.
 *
 *   npx tsx bench/hostile.ts [--backend postgres|pglite] [--repeat 10] [--only a,b]
 *   node --cpu-prof --import tsx bench/hostile.ts --only bulk-max    (profile)
 *
 * Reports per scenario: the requests' own latency, /livez p50/p99/max while
 * they ran, and the server's event-loop blocking (perf_hooks
 * monitorEventLoopDelay: the longest and p99 delay of the loop; a request
 * that computes for 80 ms shows as ~80 ms, and more when the machine is
 * busy and the process waits for a core) and this process's CPU time per
 * request (the work a request causes, whatever the load). Writes bench/results/<time>-hostile.json.
 * Uses a throw-away database on BENCH_ADMIN_URL / TEST_DATABASE_URL
 * (default postgres://postgres@127.0.0.1:5432/test), or PGlite in memory.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { migrateToLatest, openDatabase, type DatabaseHandle } from '../src/db/index.js';
import { MAX_CUSTOM_FIELDS, MAX_PATCH_OPERATIONS, MAX_VALUES_PER_ATTRIBUTE } from '../src/scim/limits.js';
import { BULK_REQUEST_SCHEMA, ENTERPRISE_USER_SCHEMA as ENT, PATCH_OP_SCHEMA, USER_SCHEMA } from '../src/scim/schema.js';

const arg = (name: string, d: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : d;
};
const BACKEND = arg('backend', 'postgres') as 'postgres' | 'pglite';
const REPEAT = Number(arg('repeat', '10'));
const ONLY = arg('only', '').split(',').filter(Boolean);
const ADMIN_URL = process.env.BENCH_ADMIN_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

// ---------------------------------------------------------------------------
// Threads: the prober and the load generator (plain JavaScript, run with eval).

const PROBER = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
let samples = null;
const probe = () => new Promise((resolve) => {
  const t0 = performance.now();
  http.get({ host: '127.0.0.1', port: workerData.port, path: '/livez', agent }, (res) => {
    res.resume();
    res.on('end', () => resolve(performance.now() - t0));
  }).on('error', () => resolve(-1));
});
(async () => {
  for (;;) {
    const ms = await probe();
    if (samples) samples.push(ms);
    await new Promise((r) => setTimeout(r, 5));
  }
})();
parentPort.on('message', (m) => {
  if (m === 'start') samples = [];
  else if (m === 'stop') { parentPort.postMessage(samples); samples = null; }
});
`;

const LOADER = `
const { parentPort, workerData } = require('node:worker_threads');
parentPort.on('message', async ({ method, path, body, headers, repeat }) => {
  const latencies = [];
  const statuses = {};
  for (let i = 0; i < repeat; i++) {
    const payload = typeof body === 'function' ? undefined : body;
    const t0 = performance.now();
    const res = await fetch('http://127.0.0.1:' + workerData.port + path.replace('{i}', String(i)), { method, headers: { authorization: 'Bearer ' + workerData.token, 'content-type': 'application/scim+json', ...headers }, body: payload === undefined ? undefined : payload.replaceAll('{i}', String(i)) });
    await res.arrayBuffer();
    latencies.push(performance.now() - t0);
    statuses[res.status] = (statuses[res.status] || 0) + 1;
  }
  parentPort.postMessage({ latencies, statuses });
});
`;

const request = <T>(w: Worker, message: unknown): Promise<T> =>
  new Promise((resolve) => {
    w.once('message', resolve);
    w.postMessage(message);
  });

const pct = (xs: number[], p: number) => {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const r1 = (n: number) => Math.round(n * 10) / 10;

// ---------------------------------------------------------------------------
// The database and the server.

async function database(): Promise<{ handle: DatabaseHandle; drop: () => Promise<void> }> {
  if (BACKEND === 'pglite') {
    const handle = await openDatabase({ dataDir: 'memory://' });
    await migrateToLatest(handle.db);
    return { handle, drop: async () => undefined };
  }
  const name = `roster_hostile_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const handle = await openDatabase({ databaseUrl: url.toString(), poolMax: 10 });
  await migrateToLatest(handle.db);
  return {
    handle,
    drop: async () => {
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

const { handle, drop } = await database();
const config = loadConfig({ LOG_LEVEL: 'silent', RATE_LIMIT_SCIM_PER_MINUTE: '0', WEBHOOK_WORKER: 'false', PUBLIC_URL: 'http://127.0.0.1' });
const { app, services } = await buildApp({ config, database: handle });
await services.tenants.create({ id: 'bench' });
const token = (await services.tenants.issueToken('bench', { name: 'bench' })).secret;
await app.listen({ host: '127.0.0.1', port: 0 });
const port = (app.server.address() as { port: number }).port;
const prober = new Worker(PROBER, { eval: true, workerData: { port } });
const loader = new Worker(LOADER, { eval: true, workerData: { port, token } });

// Seed: a full page of users (1,000), through Bulk requests of 500.
const bulkOf = (ops: unknown[]) => JSON.stringify({ schemas: [BULK_REQUEST_SCHEMA], Operations: ops });
for (let b = 0; b < 2; b++) {
  await request(loader, { method: 'POST', path: '/scim/v2/bench/Bulk', body: bulkOf(Array.from({ length: 500 }, (_, i) => ({ method: 'POST', path: '/Users', bulkId: `s${i}`, data: { schemas: [USER_SCHEMA], userName: `seed-${b}-${i}@example.com`, displayName: `Seed ${i}`, emails: [{ value: `seed-${b}-${i}@example.com`, type: 'work' }] } }))), repeat: 1 });
}
const target = await app.inject({ method: 'POST', url: '/scim/v2/bench/Users', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' }, payload: JSON.stringify({ schemas: [USER_SCHEMA], userName: 'target@example.com' }) });
const targetId = target.json().id as string;

// ---------------------------------------------------------------------------
// Scenarios: the largest requests allowed, and some just over the limits (refused: cheaply?).

const customFields = (n: number, len: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`field${i}`, 'v'.repeat(len)]));
const oneMiB = config.maxBodyBytes;
// roles: MAX_VALUES_PER_ATTRIBUTE values, as long as fits in the body limit.
const roleLength = Math.floor((oneMiB - 2000) / MAX_VALUES_PER_ATTRIBUTE) - 40;
const scenarios: { name: string; what: string; method: string; path: string; body?: string; headers?: Record<string, string> }[] = [
  { name: 'idle', what: 'nothing but /livez (baseline)', method: 'GET', path: '/livez' },
  { name: 'custom-fields-max', what: `POST /Users with ${MAX_CUSTOM_FIELDS} custom enterprise fields of 4,000 characters (~800 KB)`, method: 'POST', path: '/scim/v2/bench/Users', body: JSON.stringify({ schemas: [USER_SCHEMA, ENT], userName: 'cf-{i}@example.com', [ENT]: customFields(MAX_CUSTOM_FIELDS, 4000) }) },
  { name: 'custom-fields-20000', what: 'POST /Users with 20,000 custom fields (~340 KB; refused, 400)', method: 'POST', path: '/scim/v2/bench/Users', body: JSON.stringify({ schemas: [USER_SCHEMA, ENT], userName: 'cf20k-{i}@example.com', [ENT]: customFields(20_000, 1) }) },
  {
    name: 'patch-max-ops',
    what: `PATCH /Users/{id} with ${MAX_PATCH_OPERATIONS} operations (adds of emails and custom fields)`,
    method: 'PATCH',
    path: `/scim/v2/bench/Users/${targetId}`,
    body: JSON.stringify({ schemas: [PATCH_OP_SCHEMA], Operations: Array.from({ length: MAX_PATCH_OPERATIONS }, (_, i) => (i % 2 ? { op: 'add', path: 'emails', value: [{ value: `e${i}-{i}@example.com`, type: 'other' }] } : { op: 'replace', path: `${ENT}:field${i % 150}`, value: `v${i}-{i}` })) }),
  },
  { name: 'patch-5000-ops', what: 'PATCH /Users/{id} with 5,000 operations (refused, 413)', method: 'PATCH', path: `/scim/v2/bench/Users/${targetId}`, body: JSON.stringify({ schemas: [PATCH_OP_SCHEMA], Operations: Array.from({ length: 5000 }, (_, i) => ({ op: 'replace', path: 'title', value: `t${i}` })) }) },
  { name: 'body-1mib', what: `POST /Users of ~1 MiB: ${MAX_VALUES_PER_ATTRIBUTE} roles of ${roleLength} characters`, method: 'POST', path: '/scim/v2/bench/Users', body: JSON.stringify({ schemas: [USER_SCHEMA], userName: 'big-{i}@example.com', roles: Array.from({ length: MAX_VALUES_PER_ATTRIBUTE }, (_, i) => ({ value: `${i}-${'r'.repeat(roleLength)}` })) }) },
  { name: 'page-1000', what: `GET /Users?count=${config.maxPageSize} (a full page, with groups)`, method: 'GET', path: `/scim/v2/bench/Users?count=${config.maxPageSize}` },
  {
    name: 'bulk-max',
    what: `POST /Bulk with ${config.bulkMaxOperations} operations (creates)`,
    method: 'POST',
    path: '/scim/v2/bench/Bulk',
    body: bulkOf(Array.from({ length: config.bulkMaxOperations }, (_, i) => ({ method: 'POST', path: '/Users', bulkId: `b${i}`, data: { schemas: [USER_SCHEMA], userName: `bulk-{i}-${i}@example.com` } }))),
  },
  { name: 'filter-max', what: 'GET /Users?filter= of 100 userName eq alternatives (199 of the 200 nodes allowed)', method: 'GET', path: `/scim/v2/bench/Users?filter=${encodeURIComponent(Array.from({ length: 100 }, (_, i) => `userName eq "seed-0-${i}@example.com"`).join(' or '))}` },
];

interface Row {
  name: string;
  what: string;
  statuses: Record<string, number>;
  bodyKB: number;
  requestP50: number;
  requestMax: number;
  livezP50: number;
  livezP99: number;
  livezMax: number;
  livezSamples: number;
  loopMax: number;
  loopP99: number;
  /** This process's CPU time per request, less what the prober costs when idle: the work a request causes, which the machine's load does not inflate. */
  cpuMsPerRequest: number;
}

const rows: Row[] = [];
let idleCpuPerMs = 0;
const loop = monitorEventLoopDelay({ resolution: 5 });
loop.enable();
const load0 = os.loadavg()[0]!;
for (const s of scenarios.filter((x) => !ONLY.length || ONLY.includes(x.name))) {
  await new Promise((r) => setTimeout(r, 300));
  loop.reset();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  prober.postMessage('start');
  let latencies: number[] = [];
  let statuses: Record<string, number> = {};
  if (s.name === 'idle') await new Promise((r) => setTimeout(r, 2000));
  else ({ latencies, statuses } = await request<{ latencies: number[]; statuses: Record<string, number> }>(loader, { method: s.method, path: s.path, body: s.body, headers: s.headers, repeat: REPEAT }));
  const livez = (await request<number[]>(prober, 'stop')).filter((x) => x >= 0);
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const wallMs = performance.now() - t0;
  if (s.name === 'idle') idleCpuPerMs = cpuMs / wallMs;
  rows.push({
    name: s.name,
    what: s.what,
    statuses,
    bodyKB: Math.round(Buffer.byteLength(s.body ?? '') / 1024),
    requestP50: r1(pct(latencies, 50)),
    requestMax: r1(Math.max(0, ...latencies)),
    livezP50: r1(pct(livez, 50)),
    livezP99: r1(pct(livez, 99)),
    livezMax: r1(Math.max(0, ...livez)),
    livezSamples: livez.length,
    loopMax: r1(loop.max / 1e6),
    loopP99: r1(loop.percentile(99) / 1e6),
    cpuMsPerRequest: latencies.length ? r1(Math.max(0, cpuMs - idleCpuPerMs * wallMs) / latencies.length) : 0,
  });
  console.log(JSON.stringify(rows.at(-1)));
}
const load1 = os.loadavg()[0]!;

console.log(`\nBackend ${BACKEND}, ${REPEAT} requests per scenario, one at a time; ${os.cpus().length} CPUs (${os.cpus()[0]?.model}); load average ${load0.toFixed(2)} before, ${load1.toFixed(2)} after.\n`);
console.log('| Scenario | body KB | answers | request p50 / max ms | /livez p50 / p99 / max ms | event loop: longest block / p99 ms | CPU ms per request |');
console.log('| --- | ---: | --- | ---: | ---: | ---: | ---: |');
for (const r of rows) {
  console.log(`| \`${r.name}\` — ${r.what} | ${r.bodyKB} | ${Object.entries(r.statuses).map(([k, v]) => `${v}× ${k}`).join(', ') || '—'} | ${r.requestP50} / ${r.requestMax} | ${r.livezP50} / ${r.livezP99} / ${r.livezMax} | ${r.loopMax} / ${r.loopP99} | ${r.cpuMsPerRequest} |`);
}

mkdirSync('bench/results', { recursive: true });
const file = `bench/results/${new Date().toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}-hostile-${BACKEND}.json`;
writeFileSync(file, JSON.stringify({ backend: BACKEND, repeat: REPEAT, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version, loadAverage: { before: load0, after: load1 }, rows }, null, 2));
console.log(`\n${file}`);

await prober.terminate();
await loader.terminate();
await app.close();
await handle.close();
await drop();
