/**
 * Admin API: an endpoint's deliveries (by status, cursor paging), bulk
 * redelivery of its dead letters, and the test ping. Registered inside the
 * admin scope with prefix `/tenants/:tenant`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Config } from '../../config.js';
import type { Db } from '../../db/index.js';
import { createSender } from '../../events/sender.js';
import { DELIVERY_FILTERS, DeliveryService, type DeliveryView } from '../../events/deliveries.js';
import { WebhookService } from '../../events/service.js';
import { EVENT_TYPES } from '../../events/types.js';
import type { PageQuery } from '../../services/timeline.js';
import { DateTime, iso, Next, Nullable, PageQueryProps } from './common.js';

export interface DeliveryRoutesOptions {
  db: Db;
  config: Pick<Config, 'publicUrl' | 'webhookTimeoutMs' | 'webhookConnectTimeoutMs' | 'webhookAllowedCidrs' | 'webhookDeniedCidrs' | 'webhookSecretGraceSeconds'>;
  /** The app's delivery service (src/app.ts); one of its own, closed with the routes, when not given. */
  deliveries?: DeliveryService;
}

/** The delivery browser's service over `db`, and how to close its sender. */
export function deliveryService(db: Db, config: DeliveryRoutesOptions['config']): { service: DeliveryService; close: () => Promise<void> } {
  const destinations = { allowed: config.webhookAllowedCidrs, denied: config.webhookDeniedCidrs };
  const webhooks = new WebhookService(db, { secretGraceSeconds: config.webhookSecretGraceSeconds, destinations });
  // The test ping is sent as deliveries are: only where they may go, with their timeouts.
  const sender = createSender(db, config);
  return { service: new DeliveryService(db, webhooks, sender, { publicUrl: config.publicUrl }), close: async () => sender.close() };
}

const IdParams = Type.Object({ tenant: Type.String(), id: Type.String() });

const DeliveryViewSchema = Type.Object({
  id: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('dead')], {
    description: 'pending (waiting or being retried: see attempts), succeeded, or dead (dead-lettered)',
  }),
  reason: Type.Union([Type.Literal('live'), Type.Literal('replay'), Type.Literal('redeliver')]),
  attempts: Type.Integer(),
  lastStatus: Nullable(Type.Integer({ description: "The receiver's HTTP status at the last attempt" })),
  lastError: Nullable(Type.String()),
  lastAttemptAt: Nullable(DateTime),
  createdAt: DateTime,
  finishedAt: Nullable(DateTime),
  event: Type.Object({
    id: Type.String({ description: 'Event id (webhook-id); GET …/events/{id} shows every attempt' }),
    type: Type.Union(EVENT_TYPES.map((t) => Type.Literal(t))),
    resourceType: Type.String(),
    resourceId: Type.String(),
    sequence: Type.Integer(),
    occurredAt: DateTime,
  }),
});

const deliveryOut = (d: DeliveryView) => ({
  id: d.id,
  status: d.status,
  reason: d.reason,
  attempts: d.attempts,
  lastStatus: d.lastStatus,
  lastError: d.lastError,
  lastAttemptAt: iso(d.lastAttemptAt),
  createdAt: d.createdAt.toISOString(),
  finishedAt: iso(d.finishedAt),
  event: { ...d.event, occurredAt: d.event.occurredAt.toISOString() },
});

type IP = { tenant: string; id: string };

export async function deliveryRoutes(app: FastifyInstance, opts: DeliveryRoutesOptions): Promise<void> {
  let svc = opts.deliveries;
  if (!svc) {
    const own = deliveryService(opts.db, opts.config);
    app.addHook('onClose', own.close);
    svc = own.service;
  }
  const tags = ['Admin: webhooks'];

  app.get(
    '/webhooks/:id/deliveries',
    {
      schema: {
        tags,
        summary: 'Deliveries to this endpoint (all, or by status), newest first, with their event, attempts and last error',
        params: IdParams,
        querystring: Type.Object(
          {
            status: Type.Optional(
              Type.String({
                description: `${DELIVERY_FILTERS.join(' | ')} (default: all). failed: pending deliveries whose attempts so far failed (being retried); dead: dead letters not sent again since`,
              }),
            ),
            ...PageQueryProps,
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ deliveries: Type.Array(DeliveryViewSchema), next: Next }) },
      },
    },
    async (req: FastifyRequest<{ Params: IP; Querystring: PageQuery & { status?: string } }>) => {
      const { items, next } = await svc.list(req.params.tenant, req.params.id, req.query);
      return { deliveries: items.map(deliveryOut), next };
    },
  );

  app.post(
    '/webhooks/:id/redeliver',
    {
      config: { audit: 'webhook.redelivered' },
      schema: {
        tags,
        summary: 'Send every dead letter of this endpoint again, in event order',
        params: IdParams,
        body: Type.Object({ status: Type.Literal('dead', { description: 'Which deliveries: the dead letters' }) }, { additionalProperties: false }),
        response: { 202: Type.Object({ queued: Type.Integer() }) },
      },
    },
    async (req: FastifyRequest<{ Params: IP; Body: { status: 'dead' } }>, reply) => reply.code(202).send(await svc.redeliver(req.params.tenant, req.params.id, req.body)),
  );

  app.post(
    '/webhooks/:id/test',
    {
      config: { audit: 'webhook.tested' },
      schema: {
        tags,
        summary: "Send a signed webhook.test event now and return the receiver's answer",
        params: IdParams,
        response: {
          200: Type.Object({
            eventId: Type.String({ description: 'webhook-id of the test (jti of its SET)' }),
            delivered: Type.Boolean({ description: 'The receiver answered 2xx' }),
            statusCode: Nullable(Type.Integer()),
            latencyMs: Type.Integer(),
            error: Nullable(Type.String({ description: 'Timeout or connection error' })),
            response: Nullable(Type.String({ description: "The first 500 characters of the receiver's answer" })),
          }),
        },
      },
    },
    async (req: FastifyRequest<{ Params: IP }>) => svc.test(req.params.tenant, req.params.id, req.adminActor ?? { type: 'system', name: 'admin API' }),
  );
}
