/**
 * Builds the Fastify application: SCIM API per tenant, admin API, one error
 * handler. No listening, no process concerns (see main.ts), so tests drive it
 * with app.inject or on an ephemeral port.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Config } from './config.js';
import type { DatabaseHandle } from './db/index.js';
import { securityEventsConfig } from './events/index.js';
import { adminApi } from './http/admin/index.js';
import { clientErrorHandler, frameworkErrors, installErrorHandling } from './http/errors.js';
import { homeRoutes } from './http/home.js';
import { installInputChecks } from './http/input.js';
import { jwksRoutes } from './http/jwks.js';
import { oauthRoutes, TOKEN_PATH } from './http/oauth.js';
import { JwtBearer } from './services/jwt-bearer.js';
import { OAuthService } from './services/oauth.js';
import { TrustedIssuerService } from './services/trusted-issuers.js';
import { loggerOptions } from './http/log.js';
import { installOps, type Ops } from './http/ops/index.js';
import { SCIM_PREFIX, scimApi } from './http/scim/index.js';
import type { Features } from './scim/discovery.js';
import { AdminKeyService, configuredAdminKeys, type AdminKeys } from './services/admin-keys.js';
import { GoLiveService } from './services/golive.js';
import { SafeguardService } from './services/safeguard.js';
import { SetupLinkService } from './services/setup-links.js';
import { consoleApi } from './http/console/index.js';
import { deliveryService } from './http/admin/deliveries.js';
import { ImportApplier } from './services/import-apply.js';
import { ImportService } from './services/imports.js';
import { startImportWatch, type ImportWatch } from './services/import-watch.js';
import { PolicyService } from './services/policies.js';
import { TenantService } from './services/tenants.js';
import { UserService } from './services/users.js';
import { BulkService } from './services/bulk.js';
import { GroupService } from './services/groups.js';
import { CURSOR_TIMEOUT_SECONDS } from './services/paging.js';
import { SearchService } from './services/search.js';
import { AuditService } from './services/audit.js';
import { RequestLog } from './services/request-log.js';
import { startRetention, type Retention } from './services/retention.js';
import { TenantStatusService } from './services/status.js';
import { registerRequestLogMetrics } from './http/scim/request-log.js';

export interface Services {
  tenants: TenantService;
  policies: PolicyService;
  golive: GoLiveService;
  safeguard: SafeguardService;
  setupLinks: SetupLinkService;
  users: UserService;
  /** File imports (README "Importing files"): upload and review, and the apply through `users`. */
  imports: ImportService;
  importApplier: ImportApplier;
  /** Polls IMPORT_WATCH_DIR when set; stopped with the app. */
  importWatch: ImportWatch | undefined;
  groups: GroupService;
  search: SearchService;
  bulk: BulkService;
  /** The provisioning log (undefined with REQUEST_LOG_ENABLED=false); closed with the app, which writes what is queued. */
  requestLog: RequestLog | undefined;
  audit: AuditService;
  status: TenantStatusService;
  /** Retention of the request log and the audit trail, every 10 minutes; stopped with the app. */
  retention: Retention;
  /** Named admin keys, OAuth clients and trusted issuers (README "Authentication"). */
  adminKeys: AdminKeyService;
  oauth: OAuthService;
  trustedIssuers: TrustedIssuerService;
}

export interface BuildOptions {
  config: Config;
  database: DatabaseHandle;
  /** Bearer tokens the admin API accepts (main.ts loads them, with the generated one); default ADMIN_TOKEN alone. */
  adminKeys?: AdminKeys;
  /** Fastify logger option; defaults to pino at config.logLevel. */
  logger?: FastifyServerOptions['logger'];
  /** How long a process keeps a tenant's compiled policy (default POLICY_CACHE_MS; tests use 0). */
  policyCacheMs?: number;
}

export async function buildApp(opts: BuildOptions): Promise<{ app: FastifyInstance; services: Services; ops: Ops }> {
  const { config, database } = opts;
  const app = Fastify({
    logger: opts.logger ?? loggerOptions(config),
    bodyLimit: config.maxBodyBytes,
    // A hop count is accepted at run time though Fastify's types omit it.
    trustProxy: config.trustProxy as boolean | string[],
    requestIdHeader: 'x-request-id',
    // Probes every few seconds would drown the log; every other request is logged with its id.
    logController: new LogController({
      requestIdLogLabel: 'requestId',
      disableRequestLogging: (req) => req.url === '/livez' || req.url === '/readyz',
    }),
    // Microsoft's SCIM validator uses /users and /groups; resource paths are case-insensitive here.
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true },
    frameworkErrors,
    // Requests the HTTP parser refuses get a SCIM error too (src/http/errors.ts).
    clientErrorHandler,
  });

  installInputChecks(app);
  installErrorHandling(app);
  // Before the API plugins, so their routes get the OpenAPI, metrics and rate-limit hooks.
  const ops = await installOps(app, { config, database });

  const safeguard = new SafeguardService(database.db);
  const policies = new PolicyService(database.db, { publicUrl: config.publicUrl, safeguard, ...(opts.policyCacheMs !== undefined ? { cacheMs: opts.policyCacheMs } : {}) });
  const users = new UserService(database.db, policies, safeguard);
  const groups = new GroupService(database.db, policies);
  const tenants = new TenantService(database.db);
  const oauth = new OAuthService(database.db, { publicUrl: config.publicUrl, ttlSeconds: config.oauthAccessTokenTtlSeconds, clockSkewSeconds: config.jwtClockSkewSeconds });
  const requestLog = config.requestLogEnabled
    ? new RequestLog(database.db, { retentionDays: config.requestLogRetentionDays, maxPerTenant: config.requestLogMaxPerTenant, logger: app.log })
    : undefined;
  const audit = new AuditService(database.db, { retentionDays: config.auditRetentionDays });
  const retention = startRetention(
    [...(requestLog ? [{ name: 'requestLog', run: () => requestLog.prune() }] : []), { name: 'audit', run: () => audit.prune() }],
    app.log,
  );
  // After the HTTP drain (app.close waits for in-flight requests), so the last requests are written too.
  app.addHook('onClose', async () => {
    await services.importWatch?.stop();
    await retention.stop();
    await requestLog?.close();
  });
  if (requestLog) registerRequestLogMetrics(ops.metrics.registry, requestLog);
  const services: Services = {
    tenants,
    policies,
    golive: new GoLiveService(database.db, policies, tenants),
    safeguard,
    setupLinks: new SetupLinkService(database.db, tenants, config.publicUrl),
    users,
    imports: new ImportService(database.db, tenants),
    importApplier: new ImportApplier(database.db, tenants, users, (tenant) => `${config.publicUrl}/scim/v2/${tenant}`),
    importWatch: undefined,
    groups,
    search: new SearchService(database.db, users, groups),
    bulk: new BulkService(users, groups, { maxOperations: config.bulkMaxOperations, maxPayloadSize: config.maxBodyBytes }),
    requestLog,
    audit,
    status: new TenantStatusService(database.db, requestLog, app.log),
    retention,
    adminKeys: new AdminKeyService(database.db),
    oauth,
    trustedIssuers: new TrustedIssuerService(database.db, { clockSkewSeconds: config.jwtClockSkewSeconds, jwksTimeoutMs: config.trustedIssuerJwksTimeoutMs }),
  };

  if (config.importWatchDir) {
    services.importWatch = startImportWatch({ dir: config.importWatchDir, intervalMs: config.importWatchIntervalMs, imports: services.imports, applier: services.importApplier, logger: app.log });
  }

  const features = (): Features => ({
    maxResults: config.maxPageSize,
    bulk: { maxOperations: config.bulkMaxOperations, maxPayloadSize: config.maxBodyBytes },
    // RFC 9967 §4: the SET event URIs pushed to webhook endpoints registered with format "set".
    extra: { securityEvents: securityEventsConfig() },
    // RFC 9865 §4; index paging stays the default (§2.4: existing clients expect it).
    tokenEndpoint: `${oauth.issuer}${TOKEN_PATH}`,
    pagination: {
      cursor: true,
      index: true,
      defaultPaginationMethod: 'index',
      defaultPageSize: config.defaultPageSize,
      maxPageSize: config.maxPageSize,
      cursorTimeout: CURSOR_TIMEOUT_SECONDS,
    },
  });

  await app.register(scimApi, {
    prefix: SCIM_PREFIX,
    config,
    tenants: services.tenants,
    users: services.users,
    groups: services.groups,
    search: services.search,
    bulk: services.bulk,
    features,
    authFailures: ops.rateLimits.authFailures,
    requestLog,
    status: services.status,
    jwt: new JwtBearer(oauth, services.trustedIssuers),
  });
  const adminKeys = opts.adminKeys ?? configuredAdminKeys(config);
  const deliveries = deliveryService(database.db, config);
  app.addHook('onClose', deliveries.close);
  await app.register(adminApi, {
    prefix: '/admin/v1',
    config,
    tenants: services.tenants,
    adminKeys,
    namedKeys: services.adminKeys,
    oauth,
    trustedIssuers: services.trustedIssuers,
    db: database.db,
    policies,
    golive: services.golive,
    safeguard,
    setupLinks: services.setupLinks,
    deliveries: deliveries.service,
    imports: { imports: services.imports, applier: services.importApplier },
    authFailures: ops.rateLimits.authFailures,
    audit,
    requestLog,
    status: services.status,
  });
  await app.register(consoleApi, {
    db: database.db,
    publicUrl: config.publicUrl,
    adminKeys,
    namedKeys: services.adminKeys,
    authFailures: ops.rateLimits.authFailures,
    tenants: services.tenants,
    status: services.status,
    requestLog,
    policies,
    golive: services.golive,
    safeguard,
    setupLinks: services.setupLinks,
    users: services.users,
    groups: services.groups,
    deliveries: deliveries.service,
    audit,
  });
  await app.register(jwksRoutes, { db: database.db, oauth });
  await app.register(oauthRoutes, { oauth, authFailures: ops.rateLimits.authFailures });
  await app.register(homeRoutes, { publicUrl: config.publicUrl });

  return { app, services, ops };
}
