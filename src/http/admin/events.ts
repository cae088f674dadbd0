/**
 * Admin API: a tenant's events — the poll feed, one event with its delivery
 * attempts, redelivery. Registered inside the admin scope with prefix
 * `/tenants/:tenant`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Db } from '../../db/index.js';
import { EventService, feedItem, MAX_FEED_PAGE } from '../../events/service.js';
import { EVENT_TYPES, type DeliveryRecord } from '../../events/types.js';
import { badRequest } from '../../scim/errors.js';

export interface EventRoutesOptions {
  db: Db;
}

const DateTime = Type.String({ format: 'date-time' });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([Type.Null(), t]); // null first: with coerceTypes, ajv would turn null into [""] for an array schema listed first

const FeedItemSchema = Type.Object({
  id: Type.String({ description: 'Event id; also the webhook-id header and the SET jti' }),
  cursor: Type.String({ description: 'Pass as ?after= to continue after this event' }),
  type: Type.Union(EVENT_TYPES.map((t) => Type.Literal(t))),
  timestamp: DateTime,
  data: Type.Object({}, { additionalProperties: true, description: 'As in the webhook payload, with the full resource' }),
});

const AttemptSchema = Type.Object({
  attemptedAt: DateTime,
  statusCode: Nullable(Type.Integer()),
  latencyMs: Type.Integer(),
  error: Nullable(Type.String()),
  outcome: Type.Union([Type.Literal('succeeded'), Type.Literal('retry'), Type.Literal('dead'), Type.Literal('disabled')]),
});

const DeliverySchema = Type.Object({
  id: Type.String(),
  endpointId: Type.String(),
  reason: Type.Union([Type.Literal('live'), Type.Literal('replay'), Type.Literal('redeliver')]),
  status: Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('dead')]),
  attempts: Type.Integer(),
  lastStatus: Nullable(Type.Integer()),
  lastError: Nullable(Type.String()),
  createdAt: DateTime,
  finishedAt: Nullable(DateTime),
  attemptLog: Type.Array(AttemptSchema),
});

const Params = Type.Object({ tenant: Type.String() });
const IdParams = Type.Object({ tenant: Type.String(), id: Type.String() });

const deliveryOut = (d: DeliveryRecord) => ({
  id: d.id,
  endpointId: d.endpointId,
  reason: d.reason,
  status: d.status,
  attempts: d.attempts,
  lastStatus: d.lastStatus,
  lastError: d.lastError,
  createdAt: d.createdAt.toISOString(),
  finishedAt: d.finishedAt ? d.finishedAt.toISOString() : null,
  attemptLog: d.attemptLog.map((a) => ({ ...a, attemptedAt: a.attemptedAt.toISOString() })),
});

type P = { tenant: string };
type IP = { tenant: string; id: string };

export async function eventRoutes(app: FastifyInstance, opts: EventRoutesOptions): Promise<void> {
  const svc = new EventService(opts.db);
  const tags = ['Admin: events'];

  app.get(
    '/events',
    {
      schema: {
        tags,
        summary: 'Poll feed: the tenant’s events in commit order, resumable with ?after=<cursor>',
        params: Params,
        querystring: Type.Object({
          after: Type.Optional(Type.String({ description: 'cursor of the last event you processed' })),
          limit: Type.Optional(Type.String({ description: `1–${MAX_FEED_PAGE}, default 100` })),
          types: Type.Optional(Type.String({ description: 'comma-separated event types' })),
        }),
        response: {
          200: Type.Object({
            events: Type.Array(FeedItemSchema),
            cursor: Nullable(Type.String({ description: 'Resume from here next time (unchanged when there was nothing new)' })),
            hasMore: Type.Boolean(),
          }),
        },
      },
    },
    async (req: FastifyRequest<{ Params: P; Querystring: { after?: string; limit?: string; types?: string } }>) => {
      const limit = req.query.limit === undefined ? undefined : Number(req.query.limit);
      if (limit !== undefined && !Number.isInteger(limit)) throw badRequest('invalidValue', `limit must be an integer from 1 to ${MAX_FEED_PAGE}`);
      const types = req.query.types ? req.query.types.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
      return svc.feed(req.params.tenant, { after: req.query.after, limit, types });
    },
  );

  app.get(
    '/events/:id',
    {
      schema: {
        tags,
        summary: 'One event with its deliveries and every attempt (status, response code, latency, error)',
        params: IdParams,
        response: { 200: Type.Object({ event: FeedItemSchema, deliveries: Type.Array(DeliverySchema) }) },
      },
    },
    async (req: FastifyRequest<{ Params: IP }>) => {
      const { event, deliveries } = await svc.get(req.params.tenant, req.params.id);
      return { event: feedItem(event), deliveries: deliveries.map(deliveryOut) };
    },
  );

  app.post(
    '/events/:id/redeliver',
    {
      config: { audit: 'event.redelivered' },
      schema: {
        tags,
        summary: 'Send one event again (to the given endpoints, or to every enabled endpoint subscribed to it)',
        params: IdParams,
        body: Type.Optional(Type.Object({ endpointIds: Type.Optional(Type.Array(Type.String())) }, { additionalProperties: false })),
        response: { 202: Type.Object({ queued: Type.Integer(), endpointIds: Type.Array(Type.String()) }) },
      },
    },
    async (req: FastifyRequest<{ Params: IP; Body: { endpointIds?: string[] } | undefined }>, reply) =>
      reply.code(202).send(await svc.redeliver(req.params.tenant, req.params.id, { endpointIds: req.body?.endpointIds })),
  );
}
