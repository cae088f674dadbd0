/**
 * Graceful shutdown, run by main.ts on SIGTERM/SIGINT:
 *
 * 1. mark the process not ready (/readyz answers 503, every response carries
 *    `Connection: close`);
 * 2. stop accepting connections and let in-flight requests finish
 *    (`app.close()`: Fastify closes idle keep-alive sockets and answers 503
 *    to requests that still arrive on open ones), while background workers
 *    stop in parallel (`workers`, each given the milliseconds left);
 * 3. at the drain deadline, cut whatever connections remain;
 * 4. close `resources` in order (metrics listener, database pool) within what
 *    is left of `timeoutMs`.
 *
 * Resolves `clean: true` when everything finished in time, so main.ts exits 0;
 * `clean: false` (exit 1) means something had to be cut or failed.
 */
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Lifecycle } from './health.js';

/** Something to stop at shutdown: a background worker, a listener, a pool. */
export interface Closer {
  name: string;
  /** Finish (or abandon) work and release resources; should resolve within `remainingMs` milliseconds. */
  stop(remainingMs: number): Promise<void>;
}

export interface ShutdownOptions {
  app: FastifyInstance;
  lifecycle: Lifecycle;
  /** Stopped in parallel with the HTTP drain (e.g. webhook delivery workers). */
  workers: Closer[];
  /** Closed one after another once HTTP and workers are done (e.g. metrics listener, then the database). */
  resources: Closer[];
  timeoutMs: number;
  log: FastifyBaseLogger;
  reason?: string;
}

const sleep = (ms: number) => new Promise<'timeout'>((resolve) => setTimeout(resolve, Math.max(0, ms), 'timeout').unref());

export async function gracefulShutdown(opts: ShutdownOptions): Promise<{ clean: boolean }> {
  const { app, lifecycle, log } = opts;
  const started = Date.now();
  const hardDeadline = started + opts.timeoutMs;
  // Keep a little time for closing the pool after the drain.
  const drainDeadline = hardDeadline - Math.min(1_000, Math.floor(opts.timeoutMs / 5));
  const left = (deadline: number) => Math.max(0, deadline - Date.now());
  let clean = true;

  lifecycle.beginShutdown();
  log.info({ reason: opts.reason, timeoutMs: opts.timeoutMs }, 'shutting down');

  // Close keep-alive sockets as soon as their request is done; say once when the listener is gone.
  const server = app.server;
  let announced = false;
  const reaper = setInterval(() => {
    if (!announced && !server.listening) {
      announced = true;
      server.getConnections((_err, count) => log.info({ openConnections: count }, 'stopped accepting connections; draining'));
    }
    server.closeIdleConnections();
  }, 25);

  const pending = new Set<string>();
  const track = (name: string, p: Promise<unknown>) => {
    pending.add(name);
    return p.then(
      () => {
        pending.delete(name);
      },
      (err: unknown) => {
        pending.delete(name);
        clean = false;
        log.error({ err }, `shutdown: ${name} failed`);
      },
    );
  };

  const drain = Promise.all([
    track('http', app.close()),
    ...opts.workers.map((w) => track(w.name, Promise.resolve().then(() => w.stop(left(drainDeadline))))),
  ]);
  if ((await Promise.race([drain, sleep(left(drainDeadline))])) === 'timeout') {
    clean = false;
    log.warn({ unfinished: [...pending] }, 'shutdown deadline reached; closing remaining connections');
    server.closeAllConnections();
    await Promise.race([drain, sleep(left(hardDeadline))]);
  }
  clearInterval(reaper);

  for (const r of opts.resources) {
    const done = track(r.name, Promise.resolve().then(() => r.stop(left(hardDeadline))));
    if ((await Promise.race([done, sleep(left(hardDeadline))])) === 'timeout') {
      clean = false;
      log.warn({ unfinished: [...pending] }, 'shutdown deadline reached');
      break;
    }
  }
  log.info({ clean, ms: Date.now() - started }, 'shut down');
  return { clean };
}
