/**
 * The floor: bench/floor/server.mjs, Fastify and pg answering the look-ups and
 * the create with the SQL of the pgbench scripts and nothing else. Roster's
 * throughput is compared with it, measured right before and right after the
 * matching Roster scenario with the same load and checks (bench/README.md,
 * "What a run does").
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ScenarioResult } from './drive.js';
import { expandScript, percentile } from './pgbench.js';
import { chartNodeOptions } from './server.js';

/** The scenarios the floor answers, with the pgbench script whose SQL it sends. */
export const FLOOR_FOR: Record<string, string> = {
  'lookup-userName': 'lookup_username',
  'lookup-email': 'lookup_email',
  create: 'create_user',
};

/**
 * A pgbench script as one statement with $n parameters: `vars` maps its
 * :variables to parameters, `placeholders` overrides {{placeholders}} (the
 * look-ups' user, which pgbench computes from a random number, is the
 * request's parameter here); comment and \set lines are dropped.
 */
export function scriptStatement(script: string, vars: Record<string, string>, placeholders: Record<string, string> = {}): string {
  const names = Object.keys(vars).join('|');
  return expandScript(path.join('bench', 'pgbench', `${script}.sql`), placeholders)
    .split('\n')
    .filter((l) => !l.startsWith('--') && !l.startsWith('\\'))
    .join('\n')
    .replace(new RegExp(`(?<!:):(${names})\\b`, 'g'), (_m, v: string) => vars[v]!)
    .replace(/;\s*$/, '');
}

/** The floor server's statements, passed in its environment. */
export function floorStatements(): Record<string, string> {
  // The look-ups: $1 tenant, $2 the filter's value, lowercased as Roster compares it.
  const lookup = { tenant: '$1' };
  const value = 'lower($2::text)';
  return {
    FLOOR_LOOKUP_USERNAME_SQL: scriptStatement(FLOOR_FOR['lookup-userName']!, lookup, { userName: value }),
    FLOOR_LOOKUP_EMAIL_SQL: scriptStatement(FLOOR_FOR['lookup-email']!, lookup, { workEmail: value }),
    // $1 tenant, $2 client id, $3 random number, $4 resource, $5 event rows (what pgbench passes as variables).
    FLOOR_CREATE_SQL: scriptStatement(FLOOR_FOR.create!, { tenant: '$1', client_id: '$2', r: '$3', resource: '$4', event_rows: '$5' }),
  };
}

export interface FloorServer {
  pid: number;
  baseUrl: string;
  stop(): Promise<void>;
}

export interface FloorOptions {
  databaseUrl: string;
  port: number;
  tenant: string;
  token: string;
  /** false: unnamed statements (as Roster with DATABASE_PREPARED_STATEMENTS=false). */
  prepared: boolean;
}

/** Start bench/floor/server.mjs with the chart's heap limit, as Roster runs. */
export async function startFloor(o: FloorOptions): Promise<FloorServer> {
  const file = fileURLToPath(new URL('../floor/server.mjs', import.meta.url));
  const node = chartNodeOptions();
  const child = spawn(process.execPath, [file], {
    env: {
      PATH: process.env.PATH,
      PORT: String(o.port),
      TENANT: o.tenant,
      TOKEN: o.token,
      DATABASE_URL: o.databaseUrl,
      FLOOR_PREPARED: String(o.prepared),
      ...floorStatements(),
      ...(node ? { NODE_OPTIONS: node } : {}),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  await new Promise((resolve, reject) => {
    child.stdout!.once('data', resolve);
    child.once('exit', (code) => reject(new Error(`floor server exited with ${code}`)));
  });
  return {
    pid: child.pid!,
    baseUrl: `http://127.0.0.1:${o.port}`,
    async stop() {
      if (!exited) child.kill('SIGTERM');
      await exit;
    },
  };
}

/** The floor of one scenario: its runs before and after Roster's, combined. */
export interface FloorResult {
  scenario: string;
  script: string;
  requests: number;
  seconds: number;
  rps: number;
  latencyMs: { p50: number; p99: number; max: number };
  serverMsPerRequest: number;
  /** Cores busy with other work on the machine meanwhile (time-weighted). */
  otherCores: number;
  errors: number;
  runs: { rps: number; p99: number; requests: number; seconds: number }[];
}

const r2 = (x: number) => Math.round(x * 100) / 100;

/**
 * Requests over the runs' total time, percentiles over all their responses
 * (`latencies`: every response's ms from both runs), server CPU per request
 * over all requests.
 */
export function combineFloor(scenario: string, runs: ScenarioResult[], latencies: number[]): FloorResult {
  const requests = runs.reduce((a, r) => a + r.requests, 0);
  const seconds = runs.reduce((a, r) => a + r.seconds, 0);
  const sorted = Float64Array.from(latencies).sort();
  return {
    scenario,
    script: FLOOR_FOR[scenario]!,
    requests,
    seconds: r2(seconds),
    rps: seconds ? Math.round((requests / seconds) * 10) / 10 : 0,
    latencyMs: { p50: r2(percentile(sorted, 50)), p99: r2(percentile(sorted, 99)), max: r2(sorted[sorted.length - 1] ?? 0) },
    serverMsPerRequest: requests ? r2(runs.reduce((a, r) => a + r.cpu.serverMsPerRequest * r.requests, 0) / requests) : 0,
    otherCores: seconds ? r2(runs.reduce((a, r) => a + r.cpu.otherCores * r.seconds, 0) / seconds) : 0,
    errors: runs.reduce((a, r) => a + r.errors + r.timeouts + r.non2xx + r.mismatches, 0),
    runs: runs.map((r) => ({ rps: r.rps, p99: r.latencyMs.p99, requests: r.requests, seconds: r.seconds })),
  };
}
