/**
 * `npx tsx bench/floor/run.ts [seconds]`: the `lookup-userName` scenario against
 * bench/floor/server.mjs instead of Roster, on the seeded bench database
 * (run `npm run bench` once first), with the same load: 10 connections, a random
 * seeded user per request, each answer checked to hold exactly one user, the
 * server's CPU per request read from /proc, and the server started with the
 * chart's heap limit. Compare with
 * `npm run bench -- --only lookup-userName --skip-pgbench --no-readme` run right
 * before or after it (bench/README.md, "Machines differ"). The look-up is a named
 * prepared statement, as Roster sends it; FLOOR_PREPARED=false sends it unnamed.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { rng, TENANT, userName } from '../lib/dataset.js';
import { freePort, processCpuSeconds } from '../lib/system.js';

const seconds = Number(process.argv[2] ?? 12);
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
const run = (s: number) =>
  autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: 10,
    duration: s,
    headers: { authorization: `Bearer ${token}` },
    requests: [
      {
        setupRequest: (req: Record<string, unknown>) => ({
          ...req,
          path: `/scim/v2/${TENANT}/Users?filter=${encodeURIComponent(`userName eq "${userName(1 + Math.floor(next() * users))}"`)}`,
        }),
        onResponse: (status: number, body: string) => {
          if (status === 200 && (JSON.parse(body) as { Resources: unknown[] }).Resources.length === 1) found++;
        },
      },
    ],
  });

try {
  await run(2); // warm-up, as the bench does
  found = 0;
  const cpu0 = processCpuSeconds(server.pid!) ?? 0;
  const r = await run(seconds);
  const cpu = (processCpuSeconds(server.pid!) ?? 0) - cpu0;
  const total = Object.values(r.statusCodeStats ?? {}).reduce((a, v) => a + (v as { count: number }).count, 0);
  console.log(
    `floor lookup-userName: ${(total / seconds).toFixed(1)} req/s  p50 ${r.latency.p50} ms  p99 ${r.latency.p99} ms  max ${r.latency.max} ms  ` +
      `server CPU ${((cpu * 1000) / total).toFixed(2)} ms/req  errors ${r.errors + r.non2xx}  found ${found}/${total}`,
  );
  if (found !== total || r.errors + r.non2xx > 0) process.exitCode = 1;
} finally {
  server.kill();
}
