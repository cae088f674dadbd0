/**
 * Admin API for the host platform, under /admin/v1, authenticated with
 * ADMIN_TOKEN (or the generated admin token): tenants and their SCIM tokens. Other admin modules (webhooks,
 * events) register beside these routes.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Config } from '../../config.js';
import type { Db } from '../../db/index.js';
import type { TenantRecord, TokenRecord } from '../../db/tenants.js';
import type { AuditService } from '../../services/audit.js';
import type { RequestLog } from '../../services/request-log.js';
import type { TenantStatusService } from '../../services/status.js';
import { badRequest } from '../../scim/errors.js';
import { TenantModeSchema, TenantSettingsInput, TenantSettingsSchema, type TenantMode } from '../../policy/settings.js';
import type { AdminKeys, AdminKeyService } from '../../services/admin-keys.js';
import { SCIM_SCOPES } from '../../services/scopes.js';
import { settingsOf, type TenantService } from '../../services/tenants.js';
import { authenticateAdmin } from '../auth.js';
import type { AuthFailures } from '../rate-limit.js';
import { adminValidatorCompiler } from '../validation.js';
import type { OAuthService } from '../../services/oauth.js';
import { adminKeyRoutes } from './admin-keys.js';
import { oauthClientRoutes } from './oauth-clients.js';
import { trustedIssuerRoutes } from './trusted-issuers.js';
import type { TrustedIssuerService } from '../../services/trusted-issuers.js';
import { auditRoutes, installAudit } from './audit.js';
import { checkAdminScope, installScopes } from './scopes.js';
import { deliveryRoutes } from './deliveries.js';
import type { DeliveryService } from '../../events/deliveries.js';
import { eventRoutes } from './events.js';
import { policyRoutes } from './policy.js';
import { goLiveRoutes } from './golive.js';
import { holdRoutes } from './holds.js';
import { setupLinkRoutes } from './setup-links.js';
import type { SetupLinkService } from '../../services/setup-links.js';
import { importRoutes } from './imports.js';
import type { ImportApplier } from '../../services/import-apply.js';
import type { ImportService } from '../../services/imports.js';
import type { SafeguardService } from '../../services/safeguard.js';
import type { GoLiveService } from '../../services/golive.js';
import type { PolicyService } from '../../services/policies.js';
import { visibilityRoutes } from './visibility.js';
import { webhookRoutes } from './webhooks.js';

export interface AdminDeps {
  config: Config;
  tenants: TenantService;
  /** Bearer tokens accepted (src/services/admin-keys.ts). */
  adminKeys: AdminKeys;
  /** Enables the webhook and event routes under /tenants/:tenant. */
  db?: Db;
  /** Enables the policy routes under /tenants/:tenant. */
  policies?: PolicyService;
  /** Enables the dry-run, host-users and go-live routes under /tenants/:tenant. */
  golive?: GoLiveService;
  /** Enables the safeguard's hold routes under /tenants/:tenant. */
  safeguard?: SafeguardService;
  /** Enables the setup-link routes under /tenants/:tenant. */
  setupLinks?: SetupLinkService;
  /** The delivery browser's service (else the delivery routes make their own). */
  deliveries?: DeliveryService;
  /** Enables the file import routes under /tenants/:tenant. */
  imports?: { imports: ImportService; applier: ImportApplier };
  /** Failed authentication per client address (src/http/rate-limit.ts); none when the limit is off. */
  authFailures?: AuthFailures | undefined;
  /** Named admin keys: accepted beside adminKeys, and managed under /admin-keys. */
  namedKeys?: AdminKeyService;
  /** OAuth clients and the rotation of Roster's token signing keys. */
  oauth?: OAuthService;
  /** Trusted JWT issuers per tenant. */
  trustedIssuers?: TrustedIssuerService;
  /** Records admin actions (src/http/admin/audit.ts) and serves the audit routes. */
  audit?: AuditService;
  /** With db: the provisioning log and status routes (requestLog undefined when it is off). */
  status?: TenantStatusService;
  requestLog?: RequestLog | undefined;
}

const Tenant = Type.Object({
  id: Type.String(),
  name: Type.String(),
  scimBaseUrl: Type.String(),
  settings: TenantSettingsSchema,
  mode: TenantModeSchema,
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});

const TokenInfo = Type.Object({
  id: Type.String(),
  name: Type.String(),
  prefix: Type.String({ description: 'First characters of the token, to recognise it' }),
  createdAt: Type.String({ format: 'date-time' }),
  expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  scopes: Type.Array(Type.String(), { description: 'What the token may do (README "Authentication"); tokens issued without scopes may do everything' }),
});

const IssuedToken = Type.Intersect([TokenInfo, Type.Object({ token: Type.String({ description: 'The bearer token. Shown once; only its hash is stored.' }) })]);

const TenantIdParams = Type.Object({ tenant: Type.String() });
const TokenParams = Type.Object({ tenant: Type.String(), tokenId: Type.String() });

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export async function adminApi(app: FastifyInstance, deps: AdminDeps): Promise<void> {
  const { config, tenants } = deps;
  const tags = ['Admin: tenants'];

  app.decorateRequest('adminActor', null);
  app.decorateRequest('adminPrincipal', null);
  app.addHook('onRequest', async (req) => {
    const principal = await authenticateAdmin(req, deps.adminKeys, deps.authFailures, deps.namedKeys);
    req.adminPrincipal = principal;
    req.adminActor = principal.actor;
    const refused = checkAdminScope(req, principal);
    if (refused) throw refused;
  });
  app.setValidatorCompiler(adminValidatorCompiler);
  // Before any route: every mutating route must declare its audit action, every route its scope.
  installAudit(app, deps.audit);
  installScopes(app);

  const tenantOut = (t: TenantRecord) => ({
    id: t.id,
    name: t.name,
    scimBaseUrl: `${config.publicUrl}/scim/v2/${t.id}`,
    settings: settingsOf(t),
    mode: t.mode,
    createdAt: t.createdAt.toISOString(),
    updatedAt: t.updatedAt.toISOString(),
  });
  const tokenOut = (t: TokenRecord) => ({
    id: t.id,
    name: t.name,
    prefix: t.prefix,
    createdAt: t.createdAt.toISOString(),
    expiresAt: iso(t.expiresAt),
    lastUsedAt: iso(t.lastUsedAt),
    revokedAt: iso(t.revokedAt),
    scopes: t.scopes ?? [...SCIM_SCOPES],
  });

  app.post(
    '/tenants',
    {
      config: { audit: 'tenant.created' },
      schema: {
        tags,
        summary: 'Create a tenant and its first SCIM token',
        body: Type.Object(
          { id: Type.String({ description: 'URL-safe id: lower-case letters, digits, dashes' }), name: Type.Optional(Type.String()), settings: Type.Optional(TenantSettingsInput), mode: Type.Optional(TenantModeSchema) },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ tenant: Tenant, token: IssuedToken }) },
      },
    },
    async (req: FastifyRequest<{ Body: { id: string; name?: string; settings?: unknown; mode?: TenantMode } }>, reply) => {
      const t = await tenants.create(req.body);
      const issued = await tenants.issueToken(t.id, { name: 'initial' });
      return reply.code(201).send({ tenant: tenantOut(t), token: { ...tokenOut(issued.token), token: issued.secret } });
    },
  );

  app.get(
    '/tenants',
    {
      schema: {
        tags,
        summary: 'List tenants (keyset paging by id)',
        querystring: Type.Object({ after: Type.Optional(Type.String()), limit: Type.Optional(Type.String()) }),
        response: { 200: Type.Object({ tenants: Type.Array(Tenant), next: Type.Union([Type.String(), Type.Null()]) }) },
      },
    },
    async (req: FastifyRequest<{ Querystring: { after?: string; limit?: string } }>) => {
      const limit = req.query.limit === undefined ? 100 : Number(req.query.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badRequest('invalidValue', 'limit must be an integer from 1 to 1000');
      // A key bound to a tenant lists that tenant alone.
      const own = req.adminPrincipal?.tenant ?? null;
      if (own !== null) {
        const t = (req.query.after ?? '') < own ? await tenants.find(own) : undefined;
        return { tenants: t ? [tenantOut(t)] : [], next: null };
      }
      const list = await tenants.list({ after: req.query.after, limit });
      return { tenants: list.map(tenantOut), next: list.length === limit ? list[list.length - 1]!.id : null };
    },
  );

  app.get('/tenants/:tenant', { schema: { tags, summary: 'Get a tenant', params: TenantIdParams, response: { 200: Tenant } } }, async (req: FastifyRequest<{ Params: { tenant: string } }>) =>
    tenantOut(await tenants.get(req.params.tenant)),
  );

  app.patch(
    '/tenants/:tenant',
    {
      config: { audit: 'tenant.updated' },
      schema: {
        tags,
        summary: 'Rename a tenant, change its settings, or its mode (dryRun; live goes live, as POST …/go-live)',
        params: TenantIdParams,
        body: Type.Object({ name: Type.Optional(Type.String()), settings: Type.Optional(TenantSettingsInput), mode: Type.Optional(TenantModeSchema) }, { additionalProperties: false }),
        response: { 200: Tenant },
      },
    },
    async (req: FastifyRequest<{ Params: { tenant: string }; Body: { name?: string; settings?: unknown; mode?: TenantMode } }>) => {
      const { mode, ...rest } = req.body;
      // Going live is more than a flag: the host is told the resulting state (src/services/golive.ts).
      if (mode === 'live' && deps.golive) await deps.golive.goLive(req.params.tenant);
      return tenantOut(await tenants.update(req.params.tenant, mode === 'dryRun' ? { ...rest, mode } : rest));
    },
  );

  app.delete('/tenants/:tenant', { config: { audit: 'tenant.deleted' }, schema: { tags, summary: 'Delete a tenant with all its users, groups and tokens', params: TenantIdParams } }, async (req: FastifyRequest<{ Params: { tenant: string } }>, reply) => {
    await tenants.delete(req.params.tenant);
    return reply.code(204).send();
  });

  const tokenTags = ['Admin: tokens'];
  app.post(
    '/tenants/:tenant/tokens',
    {
      config: { audit: 'token.issued' },
      schema: {
        tags: tokenTags,
        summary: 'Issue a SCIM bearer token',
        params: TenantIdParams,
        body: Type.Optional(
          Type.Object({
            name: Type.Optional(Type.String()),
            expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
            scopes: Type.Optional(Type.Array(Type.Union(SCIM_SCOPES.map((s) => Type.Literal(s))), { description: 'Default: every scope' })),
          }),
        ),
        response: { 201: IssuedToken },
      },
    },
    async (req: FastifyRequest<{ Params: { tenant: string }; Body: { name?: string; expiresAt?: string; scopes?: string[] } | undefined }>, reply) => {
      const expiresAt = req.body?.expiresAt ? new Date(req.body.expiresAt) : null;
      if (expiresAt && expiresAt.getTime() <= Date.now()) throw badRequest('invalidValue', 'expiresAt must be in the future');
      const issued = await tenants.issueToken(req.params.tenant, { name: req.body?.name, expiresAt, scopes: req.body?.scopes });
      return reply.code(201).send({ ...tokenOut(issued.token), token: issued.secret });
    },
  );

  app.get('/tenants/:tenant/tokens', { schema: { tags: tokenTags, summary: 'List tokens (without secrets)', params: TenantIdParams, response: { 200: Type.Object({ tokens: Type.Array(TokenInfo) }) } } }, async (req: FastifyRequest<{ Params: { tenant: string } }>) => ({
    tokens: (await tenants.listTokens(req.params.tenant)).map(tokenOut),
  }));

  app.delete('/tenants/:tenant/tokens/:tokenId', { config: { audit: 'token.revoked' }, schema: { tags: tokenTags, summary: 'Revoke a token', params: TokenParams } }, async (req: FastifyRequest<{ Params: { tenant: string; tokenId: string } }>, reply) => {
    await tenants.revokeToken(req.params.tenant, req.params.tokenId);
    return reply.code(204).send();
  });

  if (deps.db) {
    await app.register(webhookRoutes, {
      prefix: '/tenants/:tenant',
      db: deps.db,
      secretGraceSeconds: config.webhookSecretGraceSeconds,
      destinations: { allowed: config.webhookAllowedCidrs, denied: config.webhookDeniedCidrs },
    });
    await app.register(eventRoutes, { prefix: '/tenants/:tenant', db: deps.db });
    await app.register(deliveryRoutes, {
      prefix: '/tenants/:tenant',
      db: deps.db,
      config,
      ...(deps.deliveries ? { deliveries: deps.deliveries } : {}),
    });
  }
  if (deps.policies) {
    await app.register(policyRoutes, { prefix: '/tenants/:tenant', policies: deps.policies });
  }
  if (deps.golive) {
    await app.register(goLiveRoutes, { prefix: '/tenants/:tenant', golive: deps.golive });
  }
  if (deps.safeguard) {
    await app.register(holdRoutes, { prefix: '/tenants/:tenant', tenants, safeguard: deps.safeguard });
  }
  if (deps.setupLinks) await app.register(setupLinkRoutes, { prefix: '/tenants/:tenant', setupLinks: deps.setupLinks });
  if (deps.imports) {
    await app.register(importRoutes, { prefix: '/tenants/:tenant', ...deps.imports });
  }
  if (deps.status) await app.register(visibilityRoutes, { prefix: '/tenants/:tenant', tenants, requestLog: deps.requestLog, status: deps.status });
  if (deps.audit) await app.register(auditRoutes, { audit: deps.audit });
  if (deps.namedKeys) await app.register(adminKeyRoutes, { keys: deps.namedKeys });
  if (deps.oauth) await app.register(oauthClientRoutes, { oauth: deps.oauth });
  if (deps.trustedIssuers) await app.register(trustedIssuerRoutes, { issuers: deps.trustedIssuers });
}
