/**
 * Admin API: a tenant's provisioning log and connection status. Registered
 * inside the admin scope with prefix `/tenants/:tenant`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { RequestLog, RequestLogSearch, StoredRequestLogEntry } from '../../services/request-log.js';
import type { TenantStatus, TenantStatusService } from '../../services/status.js';
import type { TenantService } from '../../services/tenants.js';
import { ActorSchema, DateTime, iso, Next, Nullable, PageQueryProps, TimeRangeProps } from './common.js';

export interface VisibilityRoutesOptions {
  tenants: TenantService;
  /** Undefined when REQUEST_LOG_ENABLED=false: the log route answers an empty page. */
  requestLog: RequestLog | undefined;
  status: TenantStatusService;
}

const Params = Type.Object({ tenant: Type.String() });

const ClientSchema = Type.Object({
  userAgent: Nullable(Type.String()),
  idp: Nullable(Type.String({ description: 'The identity provider, when the User-Agent says (Entra ID, Okta, OneLogin, JumpCloud, …)' })),
});

const RequestEntrySchema = Type.Object({
  id: Type.String(),
  at: DateTime,
  requestId: Nullable(Type.String({ description: 'The request id (X-Request-Id), as in the server log' })),
  actor: Nullable(ActorSchema),
  tokenPrefix: Nullable(Type.String({ description: 'Authentication failed: the start of the bearer token presented, when it was one of Roster\'s' })),
  client: ClientSchema,
  method: Type.String(),
  path: Type.String({ description: "Below the tenant's SCIM base URL, without the query" }),
  filter: Nullable(Type.String()),
  status: Type.Integer(),
  scimType: Nullable(Type.String()),
  detail: Nullable(Type.String()),
  durationMs: Type.Number(),
  resourceIds: Type.Array(Type.String(), { description: 'Resources the request named or changed' }),
  summary: Nullable(Type.String({ description: 'PATCH and Bulk: the operations, e.g. "PATCH 3 ops: replace active, add members ×2"' })),
  notes: Type.Array(Type.String(), { description: 'What lenient handling skipped or corrected' }),
  requestBody: Nullable(Type.String({ description: 'Only with the tenant setting requestLog.bodies; secrets removed' })),
  responseBody: Nullable(Type.String()),
});

const entryOut = (e: StoredRequestLogEntry) => ({
  id: e.id,
  at: e.at.toISOString(),
  requestId: e.requestId,
  actor: e.actor,
  tokenPrefix: e.tokenPrefix,
  client: { userAgent: e.userAgent, idp: e.idp },
  method: e.method,
  path: e.path,
  filter: e.filter,
  status: e.status,
  scimType: e.scimType,
  detail: e.detail,
  durationMs: e.durationMs,
  resourceIds: e.resourceIds,
  summary: e.summary,
  notes: e.notes,
  requestBody: e.requestBody,
  responseBody: e.responseBody,
});

const StatusSchema = Type.Object({
  tenant: Type.String(),
  connected: Type.Boolean({ description: 'A SCIM request of this tenant has succeeded (tenant.connected was sent)' }),
  connectedAt: Nullable(DateTime),
  users: Type.Object({ total: Type.Integer(), active: Type.Integer(), inactive: Type.Integer({ description: 'active = false' }) }),
  groups: Type.Object({ total: Type.Integer() }),
  lastRequest: Nullable(
    Type.Object({ at: DateTime, method: Type.String(), path: Type.String(), status: Type.Integer(), actor: Nullable(ActorSchema), client: ClientSchema }),
  ),
  last24h: Type.Object({ requests: Type.Integer(), errors: Type.Integer({ description: 'Answered with status 400 or more' }) }),
  webhooks: Type.Array(
    Type.Object({
      id: Type.String(),
      url: Type.String(),
      enabled: Type.Boolean(),
      disabledReason: Nullable(Type.String()),
      backlog: Type.Integer(),
      oldestPendingAgeSeconds: Nullable(Type.Number()),
      deadLettered: Type.Integer(),
      attempts24h: Type.Integer(),
      successRate24h: Nullable(Type.Number()),
      lastSuccessAt: Nullable(DateTime),
      lastFailureAt: Nullable(DateTime),
      lastError: Nullable(Type.String()),
    }),
  ),
});

const statusOut = (s: TenantStatus) => ({
  tenant: s.tenant,
  connected: s.connectedAt !== null,
  connectedAt: iso(s.connectedAt),
  users: s.users,
  groups: s.groups,
  lastRequest: s.lastRequest && {
    at: s.lastRequest.at.toISOString(),
    method: s.lastRequest.method,
    path: s.lastRequest.path,
    status: s.lastRequest.status,
    actor: s.lastRequest.actor,
    client: { userAgent: s.lastRequest.userAgent, idp: s.lastRequest.idp },
  },
  last24h: s.last24h,
  webhooks: s.webhooks.map(({ endpoint: e, health: h }) => ({
    id: e.id,
    url: e.url,
    enabled: e.enabled,
    disabledReason: e.disabledReason,
    backlog: h.backlog,
    oldestPendingAgeSeconds: h.oldestPendingAgeSeconds,
    deadLettered: h.deadLettered,
    attempts24h: h.attempts,
    successRate24h: h.successRate,
    lastSuccessAt: iso(h.lastSuccessAt),
    lastFailureAt: iso(h.lastFailureAt),
    lastError: h.lastError,
  })),
});

type P = { tenant: string };

export async function visibilityRoutes(app: FastifyInstance, opts: VisibilityRoutesOptions): Promise<void> {
  const { tenants, requestLog, status } = opts;

  app.get(
    '/requests',
    {
      schema: {
        tags: ['Admin: provisioning log'],
        summary: "The tenant's SCIM requests, newest first (cursor paging)",
        params: Params,
        querystring: Type.Object(
          {
            status: Type.Optional(Type.String({ description: 'A status class (2xx, 4xx, 5xx…) or a status code (409)' })),
            errors: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')], { description: 'true: only requests answered with status 400 or more' })),
            resource: Type.Optional(Type.String({ description: 'Only requests that named or changed this resource id' })),
            token: Type.Optional(Type.String({ description: 'Only requests made with this token id' })),
            ...TimeRangeProps,
            ...PageQueryProps,
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ requests: Type.Array(RequestEntrySchema), next: Next }) },
      },
    },
    async (req: FastifyRequest<{ Params: P; Querystring: RequestLogSearch }>) => {
      await tenants.get(req.params.tenant);
      if (!requestLog) return { requests: [], next: null };
      const { items, next } = await requestLog.search(req.params.tenant, req.query);
      return { requests: items.map(entryOut), next };
    },
  );

  app.get(
    '/status',
    {
      schema: {
        tags: ['Admin: tenants'],
        summary: 'Connection status: user and group counts, last SCIM request, requests and errors in 24 h, webhook health',
        params: Params,
        response: { 200: StatusSchema },
      },
    },
    async (req: FastifyRequest<{ Params: P }>) => statusOut(await status.status(req.params.tenant)),
  );
}
