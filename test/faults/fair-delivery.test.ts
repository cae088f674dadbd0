/**
 * One tenant's broken receiver must not delay another tenant's events
 * (issue 23): tenant A's receiver accepts connections and never answers,
 * tenant C's answers 500 at once, tenant B's answers 204. With A and C
 * backlogged first, B's events still arrive about as fast as with nobody
 * else around; A never holds more than its share of delivery slots, and its
 * circuit opens after repeated timeouts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import t from 'tap';
import { deliveryMetrics } from '../../src/events/metrics.js';
import { endpointConcurrency } from '../../src/events/worker.js';
import { BREAKER_THRESHOLD } from '../../src/events/breaker.js';
import { addEndpoint, adminApp, createTenant, fastConfig, record, startReceiver, until, userChange, worker } from '../events/helpers.js';
import { backends, openTestDatabase } from '../helpers/db.js';

interface T {
  teardown(fn: () => unknown): void;
}

/** Accepts connections and reads requests, never answers; counts requests open at once. */
async function hangingReceiver(t: T): Promise<{ url: string; open: () => number; maxOpen: () => number; total: () => number }> {
  const sockets = new Set<Socket>();
  let open = 0;
  let maxOpen = 0;
  let total = 0;
  const server: Server = createServer((req) => {
    total++;
    maxOpen = Math.max(maxOpen, ++open);
    req.on('close', () => open--);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => {
    for (const s of sockets) s.destroy();
    server.close(() => r());
  }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, open: () => open, maxOpen: () => maxOpen, total: () => total };
}

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;

for (const backend of backends) {
  t.test(`${backend}: a hanging and a failing receiver next to a healthy one`, async (t) => {
    const h = await openTestDatabase(t, backend);
    const app = await adminApp(t, h.db);
    const [a, b, c] = [await createTenant(h.db, 'hangs'), await createTenant(h.db, 'healthy'), await createTenant(h.db, 'fails')];
    const hanging = await hangingReceiver(t);
    const healthy = await startReceiver(t);
    const failing = await startReceiver(t, (_req, _body, res) => void res.writeHead(500).end('receiver is broken'));
    await addEndpoint(app, a, { url: hanging.url });
    await addEndpoint(app, b, { url: healthy.url });
    await addEndpoint(app, c, { url: failing.url });
    // 10 slots, 5 per endpoint: the first 5 timeouts (BREAKER_THRESHOLD) open A's circuit. The 4 s timeout is what
    // the healthy tenant would wait if A could take every slot.
    const config = { databaseUrl: h.url, webhookConcurrency: 10, webhookTimeoutMs: 4000, webhookRetrySchedule: Array(20).fill(200) };
    const cap = endpointConcurrency(fastConfig(config));

    // B alone first: the normal latency on this machine.
    const w = worker(t, h.db, { config });
    // From each change's commit to its arrival.
    const latencies = async (n: number, from: number) => {
      const committed = new Map<string, number>();
      for (let i = 0; i < n; i++) {
        const id = randomUUID();
        await record(h.db, userChange(b, id));
        committed.set(id, Date.now());
      }
      await healthy.waitFor(from + n, 20_000);
      return healthy.accepted.slice(from, from + n).map((r) => r.at - committed.get(r.json.data.id)!);
    };
    const alone = await latencies(10, 0);

    // A and C backlogged (200 and 50 users) while no worker runs, so that A's timeouts cannot open its circuit
    // before B's turn however slow this machine is; then a worker starts on the backlog, and B changes 10 users.
    await w.stop(0);
    for (let i = 0; i < 200; i++) await record(h.db, userChange(a, randomUUID()));
    for (let i = 0; i < 50; i++) await record(h.db, userChange(c, randomUUID()));
    const opened = deliveryMetrics.circuitsOpened;
    const w2 = worker(t, h.db, { config });
    await until(() => hanging.open() >= cap, 10_000, () => `A's receiver holds ${hanging.open()} requests`);
    const busy = await latencies(10, 10);

    t.comment(`healthy tenant, alone: p50 ${percentile(alone, 50)} ms, max ${Math.max(...alone)} ms`);
    t.comment(`healthy tenant, next to a hanging (${cap} in flight) and a failing receiver: p50 ${percentile(busy, 50)} ms, p99 ${percentile(busy, 99)} ms, max ${Math.max(...busy)} ms`);
    t.ok(Math.max(...busy) < 3000, `the healthy tenant's events arrive within about a second (max ${Math.max(...busy)} ms)`);
    t.ok(failing.all.length > 0, 'the failing receiver is being tried meanwhile');

    // A's timeouts open its circuit: it stops taking slots, and never had more than its share.
    await until(() => deliveryMetrics.circuitsOpened > opened, 10_000, () => "the hanging endpoint's circuit opens");
    t.ok(hanging.total() >= BREAKER_THRESHOLD, 'opened after repeated timeouts');
    t.ok(hanging.maxOpen() <= cap, `the hanging receiver never held more than ${cap} of 10 slots (max ${hanging.maxOpen()})`);
    await w2.stop(0);
  });
}
