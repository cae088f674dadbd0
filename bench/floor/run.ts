/**
 * `npx tsx bench/floor/run.ts [seconds] [lookup|create]`: the `lookup-userName`
 * (default) or the `create` scenario against bench/floor/server.mjs instead of
 * Roster, on the seeded bench database (run `npm run bench` once first), with
 * the same load: 10 connections; for look-ups a random seeded user per request,
 * each answer checked to hold exactly one user; for creates the bench's user
 * body, each answer checked to be a 201. The server's CPU per request is read
 * from /proc, and the server is started with the chart's heap limit. Compare
 * with `npm run bench -- --only lookup-userName,create --no-readme` run right
 * before or after it (bench/README.md, "Machines differ"). The statements are
 * named prepared statements, as Roster sends them; FLOOR_PREPARED=false sends
 * them unnamed.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { rng, TENANT, userBody, userName } from '../lib/dataset.js';
import { expandScript } from '../lib/pgbench.js';
import { freePort, processCpuSeconds } from '../lib/system.js';

const seconds = Number(process.argv[2] ?? 12);
const scenario = process.argv[3] ?? 'lookup';
if (scenario !== 'lookup' && scenario !== 'create') throw new Error(`unknown scenario ${scenario}: lookup or create`);
// pgbench's create statement with its variables as parameters: $1 tenant, $2 client id, $3 random number, $4 resource, $5 event rows.
const params: Record<string, string> = { tenant: '$1', client_id: '$2', r: '$3', resource: '$4', event_rows: '$5' };
const createSql = expandScript(path.join('bench', 'pgbench', 'create_user.sql'))
  .split('\n')
  .filter((l) => !l.startsWith('--') && !l.startsWith('\\'))
  .join('\n')
  .replace(/(?<!:):(tenant|client_id|r|resource|event_rows)\b/g, (_m, v: string) => params[v]!)
  .replace(/;\s*$/, '');
const users = Number(process.env.BENCH_USERS ?? 1_000_000);
const port = await freePort();
const token = 'floor-token';
const server = spawn(process.execPath, [path.join(path.dirname(fileURLToPath(import.meta.url)), 'server.mjs')], {
  env: {
    ...process.env,
    PORT: String(port),
    TENANT,
    TOKEN: token,
    DATABASE_URL: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/roster_bench',
    FLOOR_CREATE_SQL: createSql,
    NODE_OPTIONS: '--max-old-space-size=256',
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
await new Promise((resolve, reject) => {
  server.stdout.once('data', resolve);
  server.once('exit', (code) => reject(new Error(`floor server exited with ${code}`)));
});

const next = rng(1234);
let found = 0;
let created = 0;
const lookup = {
  setupRequest: (req: Record<string, unknown>) => ({
    ...req,
    path: `/scim/v2/${TENANT}/Users?filter=${encodeURIComponent(`userName eq "${userName(1 + Math.floor(next() * users))}"`)}`,
  }),
  onResponse: (status: number, body: string) => {
    if (status === 200 && (JSON.parse(body) as { Resources: unknown[] }).Resources.length === 1) found++;
  },
};
const create = {
  method: 'POST',
  setupRequest: (req: Record<string, unknown>) => {
    const k = ++created;
    return { ...req, path: `/scim/v2/${TENANT}/Users`, body: JSON.stringify({ ...userBody(1 + (k % users)), userName: `floor-${k}@contoso.example` }) };
  },
  onResponse: (status: number) => {
    if (status === 201) found++;
  },
};
const run = (s: number) =>
  autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: 10,
    duration: s,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
    requests: [scenario === 'lookup' ? lookup : create],
  });

try {
  await run(2); // warm-up, as the bench does
  found = 0;
  const cpu0 = processCpuSeconds(server.pid!) ?? 0;
  const r = await run(seconds);
  const cpu = (processCpuSeconds(server.pid!) ?? 0) - cpu0;
  const total = Object.values(r.statusCodeStats ?? {}).reduce((a, v) => a + (v as { count: number }).count, 0);
  console.log(
    `floor ${scenario === 'lookup' ? 'lookup-userName' : 'create'}: ${(total / seconds).toFixed(1)} req/s  p50 ${r.latency.p50} ms  p99 ${r.latency.p99} ms  max ${r.latency.max} ms  ` +
      `server CPU ${((cpu * 1000) / total).toFixed(2)} ms/req  errors ${r.errors + r.non2xx}  found ${found}/${total}`,
  );
  if (found !== total || r.errors + r.non2xx > 0) process.exitCode = 1;
} finally {
  server.kill();
}
