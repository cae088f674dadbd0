/**
 * `npx tsx bench/floor/run.ts [seconds] [lookup-userName|lookup-email|create]`:
 * one scenario (default lookup-userName) against bench/floor/server.mjs alone,
 * on the seeded bench database (run `npm run bench` once first; BENCH_USERS
 * and BENCH_DATABASE_URL if it is not the million-user roster_bench), with the
 * bench's load, checks and CPU reading (bench/lib/floor.ts). A full
 * `npm run bench` measures the floor beside Roster by itself; this is for
 * trying the floor on its own. FLOOR_PREPARED=false sends unnamed statements.
 */
import { TENANT } from '../lib/dataset.js';
import { runScenario } from '../lib/drive.js';
import { FLOOR_FOR, startFloor } from '../lib/floor.js';
import { scenarios } from '../lib/load.js';
import { freePort, RssSampler } from '../lib/system.js';

const seconds = Number(process.argv[2] ?? 12);
const name = process.argv[3] === 'lookup' ? 'lookup-userName' : (process.argv[3] ?? 'lookup-userName');
if (!FLOOR_FOR[name]) throw new Error(`unknown scenario ${name}: ${Object.keys(FLOOR_FOR).join(', ')}`);
const databaseUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/roster_bench';
const token = 'floor-token-0000000000';
const floor = await startFloor({ databaseUrl, port: await freePort(), tenant: TENANT, token, prepared: process.env.FLOOR_PREPARED !== 'false' });
const target = { baseUrl: floor.baseUrl, prefix: `/scim/v2/${TENANT}`, token, users: Number(process.env.BENCH_USERS ?? 1_000_000), connections: 10, runTag: Date.now().toString(36) };
const s = scenarios(target).find((x) => x.name === name)!;
const sampler = new RssSampler(floor.pid, new URL(databaseUrl).pathname.slice(1));
try {
  await runScenario(target, s, { seconds: 2 }, sampler); // warm-up, as the bench does
  const r = await runScenario(target, s, { seconds }, sampler);
  const bad = r.errors + r.timeouts + r.non2xx + r.mismatches;
  console.log(
    `floor ${name}: ${r.rps} req/s  p50 ${r.latencyMs.p50} ms  p99 ${r.latencyMs.p99} ms  max ${r.latencyMs.max} ms  ` +
      `server CPU ${r.cpu.serverMsPerRequest} ms/req  errors and failed checks ${bad}${r.sampleFailures.length ? `\n  ${r.sampleFailures.join('\n  ')}` : ''}`,
  );
  if (bad) process.exitCode = 1;
} finally {
  await floor.stop();
}
