/**
 * The audit trail of the admin API (README "Audit trail"). Every route that
 * changes something (POST, PUT, PATCH, DELETE) declares its action in
 * `config.audit`; registering one without it fails at start (onRoute), so no
 * mutating route can be added unaudited. After the route succeeds (2xx), the
 * entry — who, what, on which tenant and target, the request body with
 * secrets removed — is written before the response is sent: a client that
 * was told "done" can find it in the trail. (Should that write fail, the
 * response is a 500; the change itself stays made, and the error is logged.)
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { redactSecrets } from '../../scim/redact.js';
import type { Actor } from '../../services/actor.js';
import type { AuditService, StoredAuditEntry } from '../../services/audit.js';
import type { PageQuery } from '../../services/timeline.js';
import { ActorSchema, DateTime, iso, Next, Nullable, PageQueryProps, TimeRangeProps } from './common.js';

/** Every admin action recorded, `<target>.<verb>`. */
export const AUDIT_ACTIONS = [
  'tenant.created',
  'tenant.updated',
  'tenant.deleted',
  'tenant.policy_updated',
  'tenant.host_users_replaced',
  'tenant.went_live',
  'token.issued',
  'token.revoked',
  'webhook.created',
  'webhook.updated',
  'webhook.deleted',
  'webhook.secret_rotated',
  'webhook.replayed',
  'webhook.redelivered',
  'webhook.tested',
  'event.redelivered',
  'hold.released',
  'hold.rejected',
  'setup_link.created',
  'setup_link.revoked',
  'import_mapping.updated',
  'import.created',
  'import.applied',
  'admin_key.created',
  'admin_key.revoked',
  'oauth_client.created',
  'oauth_client.revoked',
  'oauth_signing_key.rotated',
  'trusted_issuer.created',
  'trusted_issuer.deleted',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The admin action a mutating admin route performs (src/http/admin/audit.ts). */
    audit?: AuditAction;
    /** What the entry keeps as `details.body`: the request body (default), or the response's (for uploads too large to keep). */
    auditBody?: 'request' | 'response';
  }
  interface FastifyRequest {
    /** Who is calling the admin API (set by its authentication hook). */
    adminActor: Actor | null;
  }
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function isMutating(method: string | string[]): boolean {
  return (Array.isArray(method) ? method : [method]).some((m) => MUTATING.has(m.toUpperCase()));
}

/** The id of what the action was on: a path parameter, else (a creation) the new object's id in the response. */
function targetOf(req: FastifyRequest, action: AuditAction, payload: unknown): { tenantId: string | null; targetId: string | null } {
  const params = (req.params ?? {}) as Record<string, string | undefined>;
  const body = (req.body ?? {}) as Record<string, unknown>;
  const tenantId = params.tenant ?? (action === 'tenant.created' && typeof body.id === 'string' ? body.id : null);
  if (action.startsWith('tenant.')) return { tenantId, targetId: tenantId };
  let targetId = params.tokenId ?? params.id ?? null;
  if (!targetId && typeof payload === 'string') {
    try {
      const created = JSON.parse(payload) as { id?: unknown };
      if (typeof created.id === 'string') targetId = created.id;
    } catch {
      // not JSON: no id to read
    }
  }
  return { tenantId, targetId };
}

function responseBody(payload: unknown): unknown {
  if (typeof payload !== 'string') return undefined;
  try {
    return JSON.parse(payload) as unknown;
  } catch {
    return undefined;
  }
}

/** Enforce (always) and record (with `audit`) on the admin scope; call before its routes are registered. */
export function installAudit(app: FastifyInstance, audit: AuditService | undefined): void {
  app.addHook('onRoute', (route) => {
    if (isMutating(route.method) && !route.config?.audit) {
      throw new Error(`Admin route ${String(route.method)} ${route.url} changes something but declares no audit action (config.audit, src/http/admin/audit.ts)`);
    }
  });
  if (!audit) return;
  app.addHook('onSend', async (req, reply, payload) => {
    const action = req.routeOptions.config?.audit;
    if (!action || reply.statusCode < 200 || reply.statusCode >= 300 || !req.adminActor) return payload;
    const { tenantId, targetId } = targetOf(req, action, payload);
    const body = req.routeOptions.config?.auditBody === 'response' ? responseBody(payload) : req.body === undefined || req.body === null ? undefined : redactSecrets(req.body);
    await audit.record({
      at: new Date(),
      tenantId,
      actor: req.adminActor,
      action,
      targetType: action.slice(0, action.indexOf('.')),
      targetId,
      requestId: String(req.id),
      details: { status: reply.statusCode, ...(body === undefined ? {} : { body }) },
    });
    return payload;
  });
}

const AuditEntrySchema = Type.Object({
  id: Type.String(),
  at: DateTime,
  tenant: Nullable(Type.String()),
  actor: ActorSchema,
  action: Type.Union(AUDIT_ACTIONS.map((a) => Type.Literal(a))),
  target: Type.Object({ type: Type.String({ description: 'tenant, token, webhook, event, hold, setup_link, import or import_mapping' }), id: Nullable(Type.String()) }),
  requestId: Nullable(Type.String({ description: 'The request id (X-Request-Id), as in the server log' })),
  details: Type.Object({}, { additionalProperties: true, description: '`status` of the response; `body`: the request body with secrets removed' }),
});

const AuditQuery = Type.Object(
  { ...PageQueryProps, ...TimeRangeProps, action: Type.Optional(Type.Union(AUDIT_ACTIONS.map((a) => Type.Literal(a)))) },
  { additionalProperties: false },
);
const AuditPage = Type.Object({ entries: Type.Array(AuditEntrySchema), next: Next });

const entryOut = (e: StoredAuditEntry) => ({
  id: e.id,
  at: e.at.toISOString(),
  tenant: e.tenantId,
  actor: e.actor,
  action: e.action,
  target: { type: e.targetType, id: e.targetId },
  requestId: e.requestId,
  details: e.details,
});

type Q = PageQuery & { action?: string };

export async function auditRoutes(app: FastifyInstance, opts: { audit: AuditService }): Promise<void> {
  const { audit } = opts;
  const tags = ['Admin: audit'];
  const page = async (q: Q, tenantId?: string) => {
    const { items, next } = await audit.list({ ...q, tenantId });
    return { entries: items.map(entryOut), next: next };
  };

  app.get(
    '/audit',
    { schema: { tags, summary: 'Admin actions on every tenant, newest first (cursor paging)', querystring: AuditQuery, response: { 200: AuditPage } } },
    async (req: FastifyRequest<{ Querystring: Q }>) => page(req.query),
  );

  app.get(
    '/tenants/:tenant/audit',
    {
      schema: {
        tags,
        summary: 'Admin actions on one tenant, newest first; kept after the tenant is deleted',
        params: Type.Object({ tenant: Type.String() }),
        querystring: AuditQuery,
        response: { 200: AuditPage },
      },
    },
    async (req: FastifyRequest<{ Params: { tenant: string }; Querystring: Q }>) => page(req.query, req.params.tenant),
  );
}
