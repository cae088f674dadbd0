/**
 * One scenario's load, driven by autocannon in the bench runner's process (the
 * server is a separate process): closed-loop on its connections, or at a fixed
 * rate (autocannon's overallRate). Bounded by a duration or a request count;
 * 127.0.0.1 only.
 */
import autocannon from 'autocannon';
import type { ProcessStats } from './system.js';

export interface ScenarioResult {
  name: string;
  description: string;
  connections: number;
  seconds: number;
  requests: number;
  /** Requests per second (HTTP requests; see opsPerRequest for logical operations). */
  rps: number;
  /** Offered rate (requests/s, autocannon's overallRate) when the scenario ran at a fixed rate rather than closed-loop. */
  offeredRate?: number;
  latencyMs: { avg: number; p50: number; p90: number; p99: number; max: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  /** Up to three non-2xx response bodies, to tell what went wrong. */
  sampleFailures: string[];
  /** 2xx answers that failed the scenario's check (e.g. a look-up that found nobody). */
  mismatches: number;
  rss: { peakMB: number; endMB: number };
  /** Server CPU: cores used on average and milliseconds per request; machine: busy cores of all (server, Postgres, load generator, others). */
  cpu: { serverCores: number; serverMsPerRequest: number; postgresCores: number; loadCores: number; otherCores: number; machineCores: number };
  notes?: string[];
}

export type Req = {
  method?: string;
  path?: string;
  body?: string;
  headers?: Record<string, string>;
  setupRequest?: (req: Req, context: Ctx) => Req;
  onResponse?: (status: number, body: string, context: Ctx) => void;
};
export type Ctx = Record<string, unknown>;

export interface Scenario {
  name: string;
  description: string;
  requests: () => Req[];
  /** Runs before the load (e.g. walks the list to find a deep cursor); may return notes, or throw Skip. */
  prepare?: () => Promise<string[] | void>;
  /** Checks a 2xx body (a look-up must find its one user); failures are counted as mismatches. */
  expect?: (body: string) => boolean;
  /** Connections for this scenario when not the run's (a client that works one request at a time). */
  connections?: number;
  /** Notes after the load (e.g. how deep a walk got). */
  after?: () => string[];
}

export class Skip extends Error {}

export interface LoadTarget {
  baseUrl: string;
  /** Path prefix of the tenant's SCIM API, e.g. /scim/v2/bench */
  prefix: string;
  token: string;
  users: number;
  connections: number;
  runTag: string;
}

export interface Bound {
  seconds: number;
  requests?: number | undefined;
  /** Requests per second over all connections (autocannon's overallRate: each connection sends its share of a second's requests at the start of that second). */
  rate?: number | undefined;
}

/** Called with each response's status and latency (ms), as autocannon measured it; status 0 for an error or timeout. */
export type Observer = (status: number, ms: number) => void;

/** Run one scenario; `rss` brackets it with the server's memory sampler. */
export async function runScenario(
  t: LoadTarget,
  s: Scenario,
  bound: Bound,
  rss: { start(): void; stop(): ProcessStats },
  observe?: Observer,
): Promise<ScenarioResult> {
  const failures: string[] = [];
  let mismatches = 0;
  const requests = s.requests().map((r) => {
    const on = r.onResponse;
    return {
      ...r,
      onResponse: (status: number, body: string, ctx: Ctx) => {
        const ok = status >= 200 && status <= 299;
        if (!ok && failures.length < 3) failures.push(`${status} ${body.slice(0, 300)}`);
        if (ok && s.expect && !s.expect(body)) {
          mismatches++;
          if (failures.length < 3) failures.push(`check failed: ${status} ${body.slice(0, 300)}`);
        }
        on?.(status, body, ctx);
      },
    };
  });
  rss.start();
  const started = performance.now();
  const connections = s.connections ?? t.connections;
  const run = autocannon({
    url: t.baseUrl,
    connections,
    // With a request count, check for the end every 100 ms instead of every second (smoke runs).
    ...(bound.requests ? { amount: bound.requests, sampleInt: 100 } : { duration: bound.seconds }),
    // At a fixed rate, latency is each response's own: autocannon's correction for coordinated omission would
    // record made-up values between 1 ms and each real one.
    ...(bound.rate ? { overallRate: bound.rate, ignoreCoordinatedOmission: true } : {}),
    timeout: 30,
    headers: {
      authorization: `Bearer ${t.token}`,
      'content-type': 'application/scim+json',
      accept: 'application/scim+json',
    },
    requests,
  });
  if (observe) {
    run.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => observe(status, ms));
    run.on('reqError', () => observe(0, NaN));
  }
  const result = await run;
  const seconds = (performance.now() - started) / 1000;
  const mem = rss.stop();
  const statusCodes: Record<string, number> = {};
  for (const [code, v] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = (v as { count: number }).count;
  const total = Object.values(statusCodes).reduce((a, b) => a + b, 0);
  const r2 = (x: number) => Math.round(x * 100) / 100;
  return {
    name: s.name,
    description: s.description,
    connections,
    seconds: r2(seconds),
    requests: total,
    rps: Math.round((total / seconds) * 10) / 10,
    ...(bound.rate ? { offeredRate: bound.rate } : {}),
    latencyMs: {
      avg: r2(result.latency.average),
      p50: r2(result.latency.p50),
      p90: r2(result.latency.p90),
      p99: r2(result.latency.p99),
      max: r2(result.latency.max),
    },
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    statusCodes,
    sampleFailures: failures,
    mismatches,
    rss: { peakMB: mem.peakMB, endMB: mem.endMB },
    cpu: {
      serverCores: mem.serverCores,
      serverMsPerRequest: total ? r2((mem.serverCpuSeconds * 1000) / total) : 0,
      postgresCores: mem.postgresCores,
      loadCores: mem.loadCores,
      otherCores: mem.otherCores,
      machineCores: mem.machineCores,
    },
  };
}
