/**
 * The event-latency scenario: creates at a fixed rate while a webhook endpoint
 * of the bench tenant points at a receiver in this process (a worker thread on
 * 127.0.0.1, bench/lib/receiver.mjs); per event, the time from its commit to
 * the receiver reading it (bench/README.md, "Event latency").
 */
import { Worker } from 'node:worker_threads';
import { TENANT, userBody } from './dataset.js';
import { runScenario, type Bound, type LoadTarget, type ScenarioResult } from './drive.js';
import { percentile } from './pgbench.js';
import type { ProcessStats } from './system.js';

export const EVENT_LATENCY = 'event-latency';
/** The write rate the target is set at. */
export const EVENT_RATE = 1000;
/** The p99 the target asks for, from commit to the receiver. */
export const EVENT_P99_MS = 250;
/** How long to wait after the load for events still on their way. */
const STRAGGLER_MS = 60_000;

type Arrival = [id: string, type: string, timestampMs: number, arrivedMs: number, webhookId: string];

class Receiver {
  private constructor(
    private readonly worker: Worker,
    readonly url: string,
  ) {}

  static async start(): Promise<Receiver> {
    const worker = new Worker(new URL('./receiver.mjs', import.meta.url));
    const port = await new Promise<number>((resolve, reject) => {
      worker.once('message', (m: { port: number }) => resolve(m.port));
      worker.once('error', reject);
    });
    return new Receiver(worker, `http://127.0.0.1:${port}/hook`);
  }

  private ask<T>(cmd: string): Promise<T> {
    return new Promise((resolve) => {
      this.worker.once('message', (m) => resolve(m as T));
      this.worker.postMessage(cmd);
    });
  }

  async count(): Promise<number> {
    return (await this.ask<{ count: number }>('count')).count;
  }

  async take(): Promise<Arrival[]> {
    return (await this.ask<{ got: Arrival[] }>('take')).got;
  }

  async close(): Promise<void> {
    this.worker.postMessage('close');
    await new Promise((resolve) => this.worker.once('exit', resolve));
  }
}

export interface EventLatency {
  offeredRate: number;
  /** Creates answered 201 per second. */
  writtenPerSecond: number;
  written: number;
  /** Events of the answered creates that reached the receiver (all should). */
  arrived: number;
  /** Events of creates in flight when the load stopped (committed, answered after autocannon stopped listening): counted in the latency from the timestamp. */
  unanswered: number;
  /** Repeated deliveries (at-least-once). */
  duplicates: number;
  /** How long after the load the last event came (ms), within the STRAGGLER_MS bound. */
  drainedMs: number;
  /** From the event's `timestamp` (the start of its transaction, at most the commit) to arrival: an upper bound of commit → 2xx. */
  fromTimestampMs: { p50: number; p99: number; max: number };
  /** From the 201 reaching the load generator (after the commit) to arrival: a lower bound; negative when the event was faster than the response. */
  from201Ms: { p50: number; p99: number; max: number };
}

const r1 = (x: number) => Math.round(x * 10) / 10;
function stats(xs: number[]): { p50: number; p99: number; max: number } {
  const s = Float64Array.from(xs).sort();
  return { p50: r1(percentile(s, 50)), p99: r1(percentile(s, 99)), max: r1(s[s.length - 1] ?? 0) };
}

export interface EventRun {
  target: LoadTarget;
  adminToken: string;
  bound: Bound;
  /** Seconds of unrecorded load first (the delivery path warms up too). */
  warmup: number;
  rss: { start(): void; stop(): ProcessStats };
}

async function admin(t: LoadTarget, token: string, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const r = await fetch(`${t.baseUrl}/admin/v1/tenants/${TENANT}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`admin API ${method} ${path}: ${r.status} ${text.slice(0, 300)}`);
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

/** Register the receiver, drive the creates, wait for their events, remove the endpoint. */
export async function runEventLatency(o: EventRun): Promise<{ scenario: ScenarioResult; events: EventLatency }> {
  const t = o.target;
  const rx = await Receiver.start();
  let endpoint: string | undefined;
  try {
    endpoint = String((await admin(t, o.adminToken, 'POST', '/webhooks', { url: rx.url, events: ['user.created'], description: 'bench event-latency' })).id);
    let created = 0;
    let answered = new Map<string, number>();
    const scenario = {
      name: EVENT_LATENCY,
      description: `POST /Users at ${o.bound.rate}/s with a webhook endpoint on 127.0.0.1: commit → receiver`,
      // Enough connections that the rate, not the round trip, paces the creates (autocannon's overallRate is a cap).
      connections: Math.max(t.connections, 20),
      requests: () => [
        {
          method: 'POST',
          setupRequest: (req: Record<string, unknown>) => {
            const k = ++created;
            const tag = `evt-${t.runTag}-${k}`;
            const body = { ...userBody(1 + (k % t.users)), userName: `${tag}@contoso.example`, externalId: tag, emails: [{ value: `${tag}@mail.contoso.example`, type: 'work', primary: true }] };
            return { ...req, path: `${t.prefix}/Users`, body: JSON.stringify(body) };
          },
          onResponse: (status: number, body: string) => {
            if (status === 201) answered.set((JSON.parse(body) as { id: string }).id, performance.timeOrigin + performance.now());
          },
        },
      ],
    };
    const got: Arrival[] = [];
    const arrived = new Set<string>();
    // Until every answered create's event is here (bounded): the ids are known only here, not in the receiver.
    const settle = async (ids: Map<string, number>, maxMs: number): Promise<number> => {
      const t0 = Date.now();
      for (;;) {
        for (const a of await rx.take()) {
          got.push(a);
          arrived.add(a[0]);
        }
        let complete = true;
        for (const id of ids.keys()) if (!arrived.has(id)) (complete = false);
        if (complete || Date.now() - t0 > maxMs) return Date.now() - t0;
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    if (o.warmup > 0 && !o.bound.requests) {
      await runScenario(t, scenario, { seconds: o.warmup, rate: o.bound.rate }, o.rss);
      await settle(answered, STRAGGLER_MS);
      got.length = 0;
      answered = new Map();
    }
    const loadStart = Date.now();
    const r = await runScenario(t, scenario, o.bound, o.rss);
    const drainedMs = await settle(answered, STRAGGLER_MS);
    const seen = new Set<string>();
    const fromTs: number[] = [];
    const from201: number[] = [];
    let duplicates = 0;
    let unanswered = 0;
    for (const [id, , ts, at, hook] of got) {
      const sent = answered.get(id);
      // Events of creates whose answer came after the load stopped count (from their timestamp); the warm-up's do not.
      if (sent === undefined && !(ts >= loadStart)) continue;
      if (seen.has(hook || id)) {
        duplicates++;
        continue;
      }
      seen.add(hook || id);
      fromTs.push(at - ts);
      if (sent === undefined) unanswered++;
      else from201.push(at - sent);
    }
    const events: EventLatency = {
      offeredRate: o.bound.rate ?? 0,
      writtenPerSecond: r.seconds ? r1(answered.size / r.seconds) : 0,
      written: answered.size,
      arrived: [...answered.keys()].filter((id) => arrived.has(id)).length,
      unanswered,
      duplicates,
      drainedMs,
      fromTimestampMs: stats(fromTs),
      from201Ms: stats(from201),
    };
    r.notes = [
      `${events.arrived} of ${events.written} events arrived (+${events.unanswered} of creates answered after the load stopped) (${events.writtenPerSecond} written/s); commit → receiver p50 ${events.fromTimestampMs.p50} ms, p99 ${events.fromTimestampMs.p99} ms, max ${events.fromTimestampMs.max} ms (from the event's timestamp; from the 201: p99 ${events.from201Ms.p99} ms)`,
    ];
    return { scenario: r, events };
  } finally {
    // Later scenarios and runs must not pay for deliveries (the endpoint's pending ones go with it).
    if (endpoint) await admin(t, o.adminToken, 'DELETE', `/webhooks/${endpoint}`);
    await rx.close();
  }
}
