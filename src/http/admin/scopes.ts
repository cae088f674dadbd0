/**
 * Which admin scope each admin route needs (README "Authentication"),
 * declared once. Registering an admin route missing from this table fails at
 * start (onRoute), as an unaudited mutating route does, so no route can be
 * added that a scoped key could use unchecked.
 *
 * Keys bound to a tenant: on routes with a `:tenant` parameter, any other
 * tenant is 404 (as if it did not exist); routes without one are refused
 * (403) unless listed in TENANT_KEY_ROUTES, whose handlers narrow what they
 * show to the key's tenant.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ScimError, notFound } from '../../scim/errors.js';
import type { AdminPrincipal } from '../../services/admin-keys.js';
import { grants, type AdminScope } from '../../services/scopes.js';
import { OUTCOMES as IMPORT_OUTCOMES } from '../../db/imports.js';

/** `any`: every authenticated caller (e.g. GET /whoami). */
export type RouteScope = AdminScope | 'any';

/** `METHOD path` (path relative to /admin/v1, Fastify's pattern) → scope. */
export const ADMIN_ROUTE_SCOPES: Readonly<Record<string, RouteScope>> = {
  'GET /whoami': 'any',
  'POST /tenants': 'tenants:write',
  'GET /tenants': 'tenants:read',
  'GET /tenants/:tenant': 'tenants:read',
  'PATCH /tenants/:tenant': 'tenants:write',
  'DELETE /tenants/:tenant': 'tenants:write',
  'GET /tenants/:tenant/requests': 'tenants:read',
  'GET /tenants/:tenant/status': 'tenants:read',

  'POST /tenants/:tenant/tokens': 'tokens',
  'GET /tenants/:tenant/tokens': 'tokens',
  'DELETE /tenants/:tenant/tokens/:tokenId': 'tokens',
  'POST /tenants/:tenant/oauth-clients': 'tokens',
  'GET /tenants/:tenant/oauth-clients': 'tokens',
  'DELETE /tenants/:tenant/oauth-clients/:id': 'tokens',
  'POST /tenants/:tenant/trusted-issuers': 'tokens',
  'GET /tenants/:tenant/trusted-issuers': 'tokens',
  'DELETE /tenants/:tenant/trusted-issuers/:id': 'tokens',

  'POST /tenants/:tenant/webhooks': 'webhooks',
  'GET /tenants/:tenant/webhooks': 'webhooks',
  'GET /tenants/:tenant/webhooks/:id': 'webhooks',
  'PATCH /tenants/:tenant/webhooks/:id': 'webhooks',
  'DELETE /tenants/:tenant/webhooks/:id': 'webhooks',
  'POST /tenants/:tenant/webhooks/:id/rotate-secret': 'webhooks',
  'POST /tenants/:tenant/webhooks/:id/replay': 'webhooks',
  'GET /tenants/:tenant/webhooks/:id/health': 'webhooks',
  'GET /tenants/:tenant/webhooks/:id/deliveries': 'webhooks',
  'POST /tenants/:tenant/webhooks/:id/redeliver': 'webhooks',
  'POST /tenants/:tenant/webhooks/:id/test': 'webhooks',
  'GET /tenants/:tenant/events': 'webhooks',
  'GET /tenants/:tenant/events/:id': 'webhooks',
  'POST /tenants/:tenant/events/:id/redeliver': 'webhooks',

  'GET /tenants/:tenant/policy': 'policy',
  'PUT /tenants/:tenant/policy': 'policy',
  'GET /tenants/:tenant/policy/versions': 'policy',
  'GET /tenants/:tenant/policy/status': 'policy',
  'PUT /tenants/:tenant/host-users': 'policy',
  'GET /tenants/:tenant/dry-run': 'policy',
  'GET /tenants/:tenant/dry-run/:file': 'policy',
  'POST /tenants/:tenant/go-live': 'policy',
  'GET /tenants/:tenant/holds': 'policy',
  'GET /tenants/:tenant/holds/:id': 'policy',
  'POST /tenants/:tenant/holds/:id/release': 'policy',
  'POST /tenants/:tenant/holds/:id/reject': 'policy',
  'GET /tenants/:tenant/import-mapping': 'policy',
  'PUT /tenants/:tenant/import-mapping': 'policy',
  'POST /tenants/:tenant/imports': 'policy',
  'GET /tenants/:tenant/imports': 'policy',
  'GET /tenants/:tenant/imports/:id': 'policy',
  ...Object.fromEntries(IMPORT_OUTCOMES.map((o) => [`GET /tenants/:tenant/imports/:id/${o}.csv`, 'policy' as const])),
  'POST /tenants/:tenant/imports/:id/apply': 'policy',
  'POST /tenants/:tenant/setup-links': 'tokens',
  'GET /tenants/:tenant/setup-links': 'tokens',
  'DELETE /tenants/:tenant/setup-links/:id': 'tokens',

  'GET /audit': 'audit',
  'GET /tenants/:tenant/audit': 'audit',

  'POST /admin-keys': 'admin-keys',
  'GET /admin-keys': 'admin-keys',
  'DELETE /admin-keys/:id': 'admin-keys',
  'POST /oauth/signing-keys/rotate': 'all',
};

/** Routes without `:tenant` that a tenant-bound key may call (their handlers show only its tenant). */
export const TENANT_KEY_ROUTES: ReadonlySet<string> = new Set(['GET /whoami', 'GET /tenants', 'POST /admin-keys', 'GET /admin-keys', 'DELETE /admin-keys/:id']);

export const ADMIN_PREFIX = '/admin/v1';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `METHOD path` of the admin route, its key in ADMIN_ROUTE_SCOPES (set by installScopes). */
    adminRoute?: string;
  }
  interface FastifyRequest {
    /** Who calls the admin API, with its scopes and tenant (set by its authentication hook). */
    adminPrincipal: AdminPrincipal | null;
  }
}

/** The table's key of a route: HEAD routes are GET's (Fastify adds them). */
export function routeKey(method: string, url: string): string {
  const m = method.toUpperCase() === 'HEAD' ? 'GET' : method.toUpperCase();
  return `${m} ${url.startsWith(ADMIN_PREFIX) ? url.slice(ADMIN_PREFIX.length) : url}`;
}

/** Refuse routes missing from the table (at registration); call before the admin routes are registered. */
export function installScopes(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      const key = routeKey(method, route.url);
      if (!(key in ADMIN_ROUTE_SCOPES)) throw new Error(`Admin route ${key} declares no scope (ADMIN_ROUTE_SCOPES, src/http/admin/scopes.ts)`);
      route.config = { ...route.config, adminRoute: key };
    }
  });
}

/** The 403/404 for a principal on a route, or undefined when it may call it. */
export function checkAdminScope(req: FastifyRequest, p: AdminPrincipal): ScimError | undefined {
  const key = req.routeOptions.config?.adminRoute;
  if (!key) return undefined; // no route matched: the 404 follows
  const scope = ADMIN_ROUTE_SCOPES[key]!;
  if (scope !== 'any' && !grants(p.scopes, scope)) {
    return new ScimError(403, `This admin key lacks the scope "${scope}" this route needs`, undefined, {
      'www-authenticate': `Bearer realm="roster-admin", error="insufficient_scope", scope="${scope}"`,
    });
  }
  if (p.tenant === null) return undefined;
  const tenant = (req.params as { tenant?: string } | undefined)?.tenant;
  if (tenant !== undefined) return tenant === p.tenant ? undefined : notFound(`Tenant "${tenant}" not found`);
  return TENANT_KEY_ROUTES.has(key) ? undefined : new ScimError(403, 'This admin key is bound to one tenant; this route spans every tenant');
}
