/**
 * Probes for Kubernetes (and anything else that asks):
 * - GET /livez: the process is alive and serving HTTP. No database call, so
 *   a database outage never makes Kubernetes restart healthy pods.
 * - GET /readyz: the database answers within 2 s (READINESS_TIMEOUT_MS) and
 *   every migration this code knows is applied; 503 otherwise, and 503 from the
 *   moment shutdown begins so load balancers drain the pod.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { pendingMigrations, type Db } from '../../db/index.js';

export const READINESS_TIMEOUT_MS = 2_000;

/** Process state shared by the probes and main.ts's shutdown. */
export class Lifecycle {
  #shuttingDown = false;

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** From now on /readyz answers 503 and responses close their connection. */
  beginShutdown(): void {
    this.#shuttingDown = true;
  }
}

type Check = { ok: boolean; detail: string };

const Probe = Type.Object({
  status: Type.String({ description: 'ok, unavailable or shutting down' }),
  checks: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'Result of each check' })),
});

export function healthRoutes(app: FastifyInstance, deps: { db: Db; lifecycle: Lifecycle; timeoutMs?: number }): void {
  const { db, lifecycle } = deps;
  const timeoutMs = deps.timeoutMs ?? READINESS_TIMEOUT_MS;
  const tags = ['Operations'];

  app.get('/livez', { schema: { tags, summary: 'Liveness: the process serves HTTP (no database call)', response: { 200: Probe } } }, async () => ({ status: 'ok' }));

  // One check at a time: probes arriving while the database is slow share it instead of piling up queries.
  let inflight: Promise<Check> | undefined;
  const checkDatabase = (): Promise<Check> => {
    inflight ??= (async (): Promise<Check> => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<Check>((resolve) => {
        timer = setTimeout(() => resolve({ ok: false, detail: `no answer within ${timeoutMs} ms` }), timeoutMs);
      });
      const query = pendingMigrations(db).then(
        (pending): Check => (pending.length ? { ok: false, detail: `${pending.length} migration(s) not applied` } : { ok: true, detail: 'ok' }),
        (err: unknown): Check => {
          app.log.warn({ err }, 'readiness: database check failed');
          return { ok: false, detail: 'unreachable' };
        },
      );
      try {
        return await Promise.race([query, timeout]);
      } finally {
        clearTimeout(timer);
        inflight = undefined;
      }
    })();
    return inflight;
  };

  app.get(
    '/readyz',
    {
      schema: {
        tags,
        summary: 'Readiness: database reachable and migrated, not shutting down',
        response: { 200: Probe, 503: Probe },
      },
    },
    async (_req, reply) => {
      if (lifecycle.shuttingDown) return reply.code(503).send({ status: 'shutting down' });
      const database = await checkDatabase();
      if (lifecycle.shuttingDown) return reply.code(503).send({ status: 'shutting down' });
      return reply.code(database.ok ? 200 : 503).send({ status: database.ok ? 'ok' : 'unavailable', checks: { database: database.detail } });
    },
  );
}

/**
 * Once shutdown has begun, every response asks the client to close its
 * connection, so keep-alive sockets do not hold the server open until their
 * idle timeout.
 */
export function closeConnectionsWhenStopping(app: FastifyInstance, lifecycle: Lifecycle): void {
  // Callback style: runs for every response, and an async hook would cost a promise each time.
  app.addHook('onSend', (req, reply, payload, done) => {
    if (lifecycle.shuttingDown && req.raw.httpVersionMajor < 2) reply.header('connection', 'close');
    done(null, payload);
  });
}
