/**
 * Operational surface of the app, installed on the root instance before the
 * API plugins so its hooks cover every route: OpenAPI document and UI,
 * probes, metrics, rate limits, connection draining on shutdown.
 */
import type { FastifyInstance, FastifySchema } from 'fastify';
import type { Config } from '../../config.js';
import type { DatabaseHandle } from '../../db/index.js';
import { registerOpenApi } from '../openapi.js';
import { installRateLimits, type RateLimits } from '../rate-limit.js';
import { closeConnectionsWhenStopping, healthRoutes, Lifecycle } from './health.js';
import { installMetricsHooks, Metrics, registerDeliveryMetrics } from './metrics.js';

export { Lifecycle } from './health.js';
export { Metrics, startMetricsServer, type MetricsServer } from './metrics.js';

export interface Ops {
  lifecycle: Lifecycle;
  /** Add outbox/delivery metrics to `metrics.registry`. */
  metrics: Metrics;
  rateLimits: RateLimits;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The app's Prometheus metrics; modules register their own on `metrics.registry`. */
    metrics: Metrics;
  }
}

export async function installOps(app: FastifyInstance, deps: { config: Config; database: DatabaseHandle }): Promise<Ops> {
  const { config, database } = deps;
  const lifecycle = new Lifecycle();
  const metrics = new Metrics({ poolStats: () => database.poolStats(), poolMax: database.kind === 'pglite' ? 1 : config.databasePoolMax });
  app.decorate('metrics', metrics);
  registerDeliveryMetrics(metrics, database.db);

  await registerOpenApi(app, config);
  installMetricsHooks(app, metrics);
  closeConnectionsWhenStopping(app, lifecycle);
  const rateLimits = installRateLimits(app, config);
  healthRoutes(app, { db: database.db, lifecycle });

  if (config.metricsOnMainListener) {
    app.get('/metrics', { schema: { hide: true } as FastifySchema }, async (_req, reply) => {
      const { contentType, body } = await metrics.render();
      return reply.type(contentType).send(body);
    });
  }
  return { lifecycle, metrics, rateLimits };
}
