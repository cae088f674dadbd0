/**
 * File imports (README "Importing files") at HRIS scale: a Roster app in this
 * process on a throw-away Postgres database, listening on a loopback port;
 * a CSV export of `--rows` employees (default 100,000) is generated as it is
 * sent, so neither side ever has the file whole. Measured, one after the other:
 *
 *   1. upload + review of the first file (every row a creation)
 *   2. apply: every creation through UserService, as SCIM creations are
 *   3. upload + review of the next file: 5% move department, 1% leave (status), 1% missing, 1% join
 *   4. apply of that diff
 *
 * with wall time, rows per second and this process's peak RSS (the server
 * and the generator together; `maxRSS` of getrusage) after each step.
 *
 *   npx tsx bench/imports.ts [--rows 100000]
 *
 * Uses BENCH_ADMIN_URL / TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) to create
 * and drop the database.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { migrateToLatest, openDatabase } from '../src/db/index.js';

const arg = (name: string, d: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const ROWS = arg('rows', 100_000);
const ADMIN_URL = process.env.BENCH_ADMIN_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const ADMIN_TOKEN = 'bench-admin-token-0123456789';
const DEPARTMENTS = ['Engineering', 'Sales; EMEA', 'Finance, Controlling', 'Support', 'People'];

const mapping = {
  key: 'externalId',
  columns: {
    'Employee ID': 'externalId',
    'Work Email': 'emails',
    'First Name': 'name.givenName',
    'Last Name': 'name.familyName',
    'Job Title': 'title',
    Department: `${ENT}:department`,
    'Cost Center': `${ENT}:costCenter`,
  },
  status: { column: 'Status', active: ['Active', 'On Leave'], inactive: ['Terminated'] },
};

/** The export as Excel saves it in Europe: BOM, `;`, CRLF, quoted fields. `next` changes a few rows. */
function* exportLines(rows: number, next: boolean): Generator<string> {
  yield '\uFEFFEmployee ID;First Name;Last Name;Work Email;Job Title;Department;Cost Center;Status\r\n';
  let batch = '';
  for (let i = 0; i < rows + (next ? rows / 100 : 0); i++) {
    if (next && i % 100 === 7) continue; // 1% missing
    const moved = next && i % 20 === 3;
    const status = next && i % 100 === 11 ? 'Terminated' : 'Active';
    const dept = DEPARTMENTS[(i + (moved ? 1 : 0)) % DEPARTMENTS.length]!;
    batch += `E${i};First${i};Last${i};person${i}@hris.example;Engineer ${i % 7};"${dept}";CC-${i % 40};${status}\r\n`;
    if (batch.length > 64 * 1024) {
      yield batch;
      batch = '';
    }
  }
  yield batch;
}

const peakMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

function send(port: number, method: string, path: string, body?: Readable): Promise<any> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body ? { 'content-type': 'text/csv' } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => (res.statusCode! < 300 ? resolve(JSON.parse(text)) : reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`))));
    });
    req.on('error', reject);
    if (body) body.pipe(req);
    else req.end();
  });
}

const name = `roster_imports_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ connectionString: ADMIN_URL });
await admin.connect();
await admin.query(`create database ${name}`);
const url = new URL(ADMIN_URL);
url.pathname = `/${name}`;
const database = await openDatabase({ databaseUrl: url.toString(), poolMax: 10 });
const results: { step: string; rows: number; seconds: number; rowsPerSecond: number; peakRssMb: number; counts?: unknown }[] = [];
try {
  await migrateToLatest(database.db);
  const { app, services } = await buildApp({ config: loadConfig({ LOG_LEVEL: 'silent', ADMIN_TOKEN, RATE_LIMIT_SCIM_PER_MINUTE: '0', REQUEST_LOG_ENABLED: 'false' }), database });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  await services.tenants.create({ id: 'bench' });
  await services.imports.putMapping('bench', mapping as Parameters<typeof services.imports.putMapping>[1]);
  console.log(`baseline peak RSS ${peakMb()} MB; ${ROWS} rows`);

  const step = async (label: string, rows: number, run: () => Promise<any>) => {
    const t0 = performance.now();
    const out = await run();
    const seconds = (performance.now() - t0) / 1000;
    results.push({ step: label, rows, seconds: Math.round(seconds * 10) / 10, rowsPerSecond: Math.round(rows / seconds), peakRssMb: peakMb(), counts: out.counts });
    console.log(JSON.stringify(results.at(-1)));
    return out;
  };

  const first = await step('upload + review (all new)', ROWS, () => send(port, 'POST', '/admin/v1/tenants/bench/imports', Readable.from(exportLines(ROWS, false))));
  await step('apply (creations)', first.counts.created, () => send(port, 'POST', `/admin/v1/tenants/bench/imports/${first.id}/apply`));
  const next = await step('upload + review (next file)', ROWS, () => send(port, 'POST', '/admin/v1/tenants/bench/imports', Readable.from(exportLines(ROWS, true))));
  const changes = ['created', 'updated', 'deactivated', 'reactivated', 'deleted'].reduce((n, o) => n + next.counts[o], 0);
  await step('apply (the diff)', changes, () => send(port, 'POST', `/admin/v1/tenants/bench/imports/${next.id}/apply`));
  await app.close();
} finally {
  await database.close();
  await admin.query(`drop database if exists ${name}`);
  await admin.end();
}
console.log(JSON.stringify({ rows: ROWS, node: process.version, results }, null, 2));
