/**
 * Admin API: a tenant's webhook endpoints. Registered inside the admin scope
 * (bearer ADMIN_TOKEN) with prefix `/tenants/:tenant`, so the routes are
 * /admin/v1/tenants/{tenant}/webhooks…
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Db } from '../../db/index.js';
import type { DestinationRules } from '../../events/destinations.js';
import { endpointPublicKeys, WebhookService, type EndpointInput, type EndpointPatchInput } from '../../events/service.js';
import { ENDPOINT_FORMATS, EVENT_TYPES, type Endpoint, type EndpointHealth } from '../../events/types.js';

export interface WebhookRoutesOptions {
  db: Db;
  /** Default grace period of a secret rotation (WEBHOOK_SECRET_GRACE_SECONDS). */
  secretGraceSeconds?: number;
  /** WEBHOOK_ALLOWED_CIDRS / WEBHOOK_DENIED_CIDRS; the built-in rules when absent. */
  destinations?: DestinationRules;
}

const EventTypeSchema = Type.Union(EVENT_TYPES.map((t) => Type.Literal(t)));
// Requests take any string here: the service answers one error naming every unknown type and listing the known ones.
const EventTypeName = Type.String({ description: `An event type: ${EVENT_TYPES.join(', ')}` });
const FormatSchema = Type.Union(ENDPOINT_FORMATS.map((f) => Type.Literal(f)), {
  description: '`standard-webhooks` (JSON envelope, signed headers) or `set` (RFC 9967 Security Event Tokens pushed per RFC 8935)',
});
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([Type.Null(), t]); // null first: with coerceTypes, ajv would turn null into [""] for an array schema listed first
const DateTime = Type.String({ format: 'date-time' });

const EndpointSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  tenant: Type.String(),
  url: Type.String(),
  description: Nullable(Type.String()),
  events: Nullable(Type.Array(EventTypeSchema, { description: 'Event types delivered; null = all' })),
  format: FormatSchema,
  attributes: Nullable(Type.Array(Type.String(), { description: 'Attributes the resource in each event is projected to; null = the default representation' })),
  enabled: Type.Boolean(),
  disabledReason: Nullable(Type.String()),
  publicKey: Nullable(Type.String({ description: 'whpk_ ed25519 public key for v1a signatures, when enabled' })),
  previousPublicKey: Nullable(Type.String()),
  previousSecretExpiresAt: Nullable(DateTime),
  createdAt: DateTime,
  updatedAt: DateTime,
});

const WithSecret = Type.Intersect([
  EndpointSchema,
  Type.Object({ secret: Type.String({ description: 'whsec_ signing secret. Shown only here, once.' }) }),
]);

const HealthSchema = Type.Object({
  endpoint: EndpointSchema,
  windowHours: Type.Number(),
  attempts: Type.Integer({ description: 'Delivery attempts in the window' }),
  successRate: Nullable(Type.Number({ description: 'Share of attempts in the window that succeeded' })),
  lastSuccessAt: Nullable(DateTime),
  lastFailureAt: Nullable(DateTime),
  lastError: Nullable(Type.String()),
  backlog: Type.Integer({ description: 'Deliveries pending' }),
  oldestPendingAgeSeconds: Nullable(Type.Number()),
  deadLettered: Type.Integer(),
});

const Params = Type.Object({ tenant: Type.String() });
const IdParams = Type.Object({ tenant: Type.String(), id: Type.String() });

const CreateBody = Type.Object(
  {
    url: Type.String({ description: 'http(s) URL that receives POSTs' }),
    description: Type.Optional(Type.String()),
    events: Type.Optional(Type.Array(EventTypeName, { minItems: 1 })),
    format: Type.Optional(FormatSchema),
    attributes: Type.Optional(Type.Array(Type.String())),
    ed25519: Type.Optional(Type.Boolean({ description: 'Also sign with ed25519 (Standard Webhooks v1a)' })),
  },
  { additionalProperties: false },
);

const PatchBody = Type.Object(
  {
    url: Type.Optional(Type.String()),
    description: Type.Optional(Nullable(Type.String())),
    events: Type.Optional(Nullable(Type.Array(EventTypeName, { minItems: 1 }))),
    attributes: Type.Optional(Nullable(Type.Array(Type.String()))),
    enabled: Type.Optional(Type.Boolean({ description: 'false pauses deliveries (they wait); true resumes them' })),
  },
  { additionalProperties: false },
);

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function endpointOut(e: Endpoint) {
  const keys = endpointPublicKeys(e);
  const inGrace = e.previousExpiresAt !== null && e.previousExpiresAt.getTime() > Date.now();
  return {
    id: e.id,
    tenant: e.tenantId,
    url: e.url,
    description: e.description,
    events: e.events,
    format: e.format,
    attributes: e.attributes,
    enabled: e.enabled,
    disabledReason: e.disabledReason,
    publicKey: keys.publicKey,
    previousPublicKey: keys.previousPublicKey,
    previousSecretExpiresAt: inGrace ? iso(e.previousExpiresAt) : null,
    createdAt: e.createdAt.toISOString(),
    updatedAt: e.updatedAt.toISOString(),
  };
}

const healthOut = (e: Endpoint, h: EndpointHealth) => ({
  endpoint: endpointOut(e),
  windowHours: h.windowHours,
  attempts: h.attempts,
  successRate: h.successRate,
  lastSuccessAt: iso(h.lastSuccessAt),
  lastFailureAt: iso(h.lastFailureAt),
  lastError: h.lastError,
  backlog: h.backlog,
  oldestPendingAgeSeconds: h.oldestPendingAgeSeconds,
  deadLettered: h.deadLettered,
});

type P = { tenant: string };
type IP = { tenant: string; id: string };

export async function webhookRoutes(app: FastifyInstance, opts: WebhookRoutesOptions): Promise<void> {
  const svc = new WebhookService(opts.db, { secretGraceSeconds: opts.secretGraceSeconds ?? 86_400, ...(opts.destinations ? { destinations: opts.destinations } : {}) });
  const tags = ['Admin: webhooks'];

  app.post(
    '/webhooks',
    { config: { audit: 'webhook.created' }, schema: { tags, summary: 'Register a webhook endpoint (returns its signing secret once)', params: Params, body: CreateBody, response: { 201: WithSecret } } },
    async (req: FastifyRequest<{ Params: P; Body: EndpointInput }>, reply) => {
      const { endpoint, secret } = await svc.create(req.params.tenant, req.body);
      return reply.code(201).send({ ...endpointOut(endpoint), secret });
    },
  );

  app.get(
    '/webhooks',
    { schema: { tags, summary: 'List webhook endpoints (without secrets)', params: Params, response: { 200: Type.Object({ webhooks: Type.Array(EndpointSchema) }) } } },
    async (req: FastifyRequest<{ Params: P }>) => ({ webhooks: (await svc.list(req.params.tenant)).map(endpointOut) }),
  );

  app.get('/webhooks/:id', { schema: { tags, summary: 'Get a webhook endpoint', params: IdParams, response: { 200: EndpointSchema } } }, async (req: FastifyRequest<{ Params: IP }>) =>
    endpointOut(await svc.get(req.params.tenant, req.params.id)),
  );

  app.patch(
    '/webhooks/:id',
    { config: { audit: 'webhook.updated' }, schema: { tags, summary: 'Change url, event filter, attributes, or enable/disable', params: IdParams, body: PatchBody, response: { 200: EndpointSchema } } },
    async (req: FastifyRequest<{ Params: IP; Body: EndpointPatchInput }>) => endpointOut(await svc.update(req.params.tenant, req.params.id, req.body)),
  );

  app.delete('/webhooks/:id', { config: { audit: 'webhook.deleted' }, schema: { tags, summary: 'Delete a webhook endpoint and its pending deliveries', params: IdParams } }, async (req: FastifyRequest<{ Params: IP }>, reply) => {
    await svc.delete(req.params.tenant, req.params.id);
    return reply.code(204).send();
  });

  app.post(
    '/webhooks/:id/rotate-secret',
    {
      config: { audit: 'webhook.secret_rotated' },
      schema: {
        tags,
        summary: 'Issue a new signing secret; the previous one keeps signing during the grace period',
        params: IdParams,
        body: Type.Optional(Type.Object({ graceSeconds: Type.Optional(Type.Integer({ minimum: 0 })) }, { additionalProperties: false })),
        response: { 200: WithSecret },
      },
    },
    async (req: FastifyRequest<{ Params: IP; Body: { graceSeconds?: number } | undefined }>) => {
      const { endpoint, secret } = await svc.rotateSecret(req.params.tenant, req.params.id, { graceSeconds: req.body?.graceSeconds });
      return { ...endpointOut(endpoint), secret };
    },
  );

  app.post(
    '/webhooks/:id/replay',
    {
      config: { audit: 'webhook.replayed' },
      schema: {
        tags,
        summary: 'Send again every subscribed event that occurred in [from, to), oldest first',
        params: IdParams,
        body: Type.Object({ from: DateTime, to: Type.Optional(DateTime) }, { additionalProperties: false }),
        response: { 202: Type.Object({ queued: Type.Integer() }) },
      },
    },
    async (req: FastifyRequest<{ Params: IP; Body: { from: string; to?: string } }>, reply) =>
      reply.code(202).send(await svc.replay(req.params.tenant, req.params.id, req.body)),
  );

  app.get(
    '/webhooks/:id/health',
    { schema: { tags, summary: 'Success rate, last success/failure, backlog', params: IdParams, response: { 200: HealthSchema } } },
    async (req: FastifyRequest<{ Params: IP }>) => {
      const { endpoint, health } = await svc.health(req.params.tenant, req.params.id);
      return healthOut(endpoint, health);
    },
  );
}
