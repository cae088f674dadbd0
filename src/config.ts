/**
 * Configuration from environment variables, validated at start. The table in
 * README.md ("Configuration reference") is checked against `configSpec` by
 * test/config.test.ts, so the two cannot drift apart.
 */
import { DEFAULT_RETRY_SCHEDULE, parseRetrySchedule } from './events/backoff.js';
import { parseCidrList } from './events/destinations.js';

type Kind = 'string' | 'port' | 'int' | 'url' | 'enum' | 'bool';

interface Spec {
  env: string;
  kind: Kind;
  default?: string;
  values?: readonly string[];
  min?: number;
  secret?: boolean;
  description: string;
}

export const configSpec = [
  { env: 'PORT', kind: 'port', default: '8080', description: 'TCP port of the HTTP listener (SCIM and admin API).' },
  { env: 'HOST', kind: 'string', default: '0.0.0.0', description: 'Interface to listen on.' },
  { env: 'PUBLIC_URL', kind: 'url', description: 'External base URL (scheme, host, optional path prefix) used in `meta.location`, `$ref` and printed SCIM base URLs. Default `http://localhost:$PORT`.' },
  { env: 'DATABASE_URL', kind: 'url', secret: true, description: 'Postgres connection string. When absent, Roster runs on embedded PGlite in `DATA_DIR`.' },
  { env: 'DATA_DIR', kind: 'string', default: './data', description: 'PGlite data directory (only without `DATABASE_URL`). `memory://` keeps the database in memory.' },
  { env: 'DATABASE_POOL_MAX', kind: 'int', default: '10', min: 1, description: 'Maximum Postgres connections per process.' },
  { env: 'DATABASE_PREPARED_STATEMENTS', kind: 'bool', default: 'true', description: 'Send the most frequent statements (identity look-ups by userName, externalId, id or email; the writes of a create, update or delete) as named prepared statements, planned once per connection instead of on every request. Set to `false` behind a transaction-pooling proxy that cannot keep them (PgBouncer before 1.21, or without `max_prepared_statements`).' },
  { env: 'DATABASE_STATEMENT_TIMEOUT_MS', kind: 'int', default: '30000', min: 0, description: 'Postgres cancels a statement that runs longer, and the request gets `503` with `Retry-After` instead of holding a connection while others queue behind it. `0` = no limit. Migrations run without it.' },
  { env: 'DATABASE_ACQUIRE_TIMEOUT_MS', kind: 'int', default: '5000', min: 0, description: 'Longest a request waits for a database connection (a free one from the pool, or a new one); then `503` with `Retry-After`. `0` = wait indefinitely.' },
  { env: 'MIGRATE_ON_START', kind: 'bool', default: 'true', description: 'Apply pending migrations at start (safe with several replicas: an advisory lock serialises them).' },
  { env: 'ADMIN_TOKEN', kind: 'string', secret: true, description: 'Bearer token for the admin API under `/admin/v1` (and the CLI). When absent with the embedded database, Roster generates one at first start, stores its hash and prints it once; when absent with `DATABASE_URL`, the admin API answers 401 to everything.' },
  { env: 'BOOTSTRAP_TENANT', kind: 'string', description: 'Ensure a tenant with this id exists at start (with `BOOTSTRAP_TOKEN`).' },
  { env: 'BOOTSTRAP_TOKEN', kind: 'string', secret: true, description: 'Ensure this SCIM bearer token exists for `BOOTSTRAP_TENANT` at start. Stored only as a hash.' },
  { env: 'LOG_LEVEL', kind: 'enum', default: 'info', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], description: 'pino log level.' },
  { env: 'MAX_PAGE_SIZE', kind: 'int', default: '1000', min: 1, description: 'Largest `count` honoured on list and search requests (advertised as `filter.maxResults`).' },
  { env: 'DEFAULT_PAGE_SIZE', kind: 'int', default: '100', min: 1, description: 'Page size when a list request gives no `count`.' },
  { env: 'MAX_BODY_BYTES', kind: 'int', default: '1048576', min: 1024, description: 'Largest request body accepted; larger bodies get 413 (also `bulk.maxPayloadSize`).' },
  { env: 'BULK_MAX_OPERATIONS', kind: 'int', default: '1000', min: 1, description: 'Most operations in one `/Bulk` request (`bulk.maxOperations`).' },
  { env: 'WEBHOOK_WORKER', kind: 'bool', default: 'true', description: 'Run the webhook delivery worker in this process. Any number of processes may run it against one database; they share the work without double delivery.' },
  { env: 'WEBHOOK_RETRY_SCHEDULE', kind: 'string', default: DEFAULT_RETRY_SCHEDULE, description: 'Delays before the 2nd, 3rd, … delivery attempt (comma-separated; units `ms`, `s`, `m`, `h`, `d`), each with ±20% jitter; after the last the delivery is dead-lettered. The default spans about 3 days (12 attempts). A longer `Retry-After` from the receiver wins.' },
  { env: 'WEBHOOK_TIMEOUT_MS', kind: 'int', default: '10000', min: 100, description: 'Time a webhook receiver has to answer one delivery before the attempt counts as failed.' },
  { env: 'WEBHOOK_DATABASE_CONNECTIONS', kind: 'int', default: '2', min: 1, description: 'Postgres connections of the webhook delivery worker, in addition to `DATABASE_POOL_MAX`: its own, so that SCIM requests queueing for a connection under load do not hold back delivery.' },
  { env: 'WEBHOOK_CONCURRENCY', kind: 'int', default: '64', min: 1, description: 'Deliveries in flight per process. Events of one resource always go one at a time, in order; different resources go in parallel. One endpoint taking 1,000 events/s needs about 1,000 × (claim + request + completion time) in flight: 32 slots (its default share) at 30 ms each.' },
  { env: 'WEBHOOK_ENDPOINT_CONCURRENCY', kind: 'int', min: 1, description: 'Deliveries in flight per process to any one endpoint. Default: half of `WEBHOOK_CONCURRENCY`, so a slow or hanging receiver can never hold all the slots other tenants need.' },
  { env: 'WEBHOOK_CONNECT_TIMEOUT_MS', kind: 'int', default: '3000', min: 100, description: 'Time to establish a connection to a webhook receiver (DNS, TCP, TLS); part of `WEBHOOK_TIMEOUT_MS`.' },
  { env: 'WEBHOOK_ALLOWED_CIDRS', kind: 'string', description: 'Comma-separated addresses or CIDRs webhooks may be sent to although refused by default (loopback, link-local, IPv6 unique-local …; see "Webhook destinations"), e.g. `127.0.0.1/32` for a receiver on the same host, or your cluster\'s IPv6 prefix.' },
  { env: 'WEBHOOK_DENIED_CIDRS', kind: 'string', description: 'Comma-separated addresses or CIDRs webhooks must never be sent to, on top of the defaults, e.g. `10.0.0.0/8,172.16.0.0/12,192.168.0.0/16` to refuse private networks. The most specific matching range decides; on a tie, denied wins.' },
  { env: 'WEBHOOK_POLL_INTERVAL_MS', kind: 'int', default: '1000', min: 10, description: 'How often the delivery worker looks for due deliveries (retries, missed wake-ups) besides being woken at once by new events.' },
  { env: 'WEBHOOK_SECRET_GRACE_SECONDS', kind: 'int', default: '86400', min: 0, description: 'After a webhook secret rotation, how long deliveries are also signed with the previous secret.' },
  { env: 'EVENTS_RETENTION_DAYS', kind: 'int', default: '30', min: 1, description: 'Events older than this whose deliveries are all finished are deleted; the poll feed and replay reach back this far.' },
  { env: 'REQUEST_LOG_ENABLED', kind: 'bool', default: 'true', description: 'Keep the provisioning log: every SCIM request of a tenant (who, what, the answer, what it touched) in Postgres, written in batches after the response (`GET /admin/v1/tenants/{tenant}/requests`).' },
  { env: 'REQUEST_LOG_RETENTION_DAYS', kind: 'int', default: '30', min: 1, description: 'Provisioning log entries older than this are deleted.' },
  { env: 'REQUEST_LOG_MAX_PER_TENANT', kind: 'int', default: '100000', min: 100, description: 'Most provisioning log entries kept per tenant; beyond it the oldest are deleted (every 10 minutes).' },
  { env: 'OAUTH_ACCESS_TOKEN_TTL_SECONDS', kind: 'int', default: '3600', min: 1, description: 'Lifetime of the access tokens `POST /oauth/token` issues (OAuth 2.0 client credentials; README "Authentication").' },
  { env: 'JWT_CLOCK_SKEW_SECONDS', kind: 'int', default: '60', min: 0, description: 'Clock difference tolerated when checking `exp`, `nbf` and `iat` of JWT bearer tokens (Roster\'s own and trusted issuers\').' },
  { env: 'TRUSTED_ISSUER_JWKS_TIMEOUT_MS', kind: 'int', default: '5000', min: 100, description: 'Time a trusted issuer\'s JWKS URL has to answer; when it cannot be fetched, its tokens are refused (401) until it can.' },
  { env: 'ENCRYPTION_KEYS', kind: 'string', secret: true, description: 'Keys that encrypt secrets at rest (webhook signing secrets, the SET and OAuth signing keys) with AES-256-GCM: comma-separated `id:base64-of-32-bytes`, the first encrypts, all decrypt (rotation: put the new key first, keep the old until every row is resealed at start). Without it (and without `ENCRYPTION_KEYS_FILE`), the embedded database keeps a generated key in `DATA_DIR`; with `DATABASE_URL` secrets are stored in clear and a warning is logged.' },
  { env: 'ENCRYPTION_KEYS_FILE', kind: 'string', description: 'A file (e.g. a mounted Kubernetes Secret) holding `ENCRYPTION_KEYS`\' value; used when `ENCRYPTION_KEYS` is not set.' },
  { env: 'AUDIT_RETENTION_DAYS', kind: 'int', default: '365', min: 1, description: 'Audit entries (admin actions) older than this are deleted.' },
  { env: 'METRICS_ENABLED', kind: 'bool', default: 'true', description: 'Serve Prometheus metrics at `/metrics` on a separate listener (`METRICS_PORT`), kept off the public one.' },
  { env: 'METRICS_PORT', kind: 'port', default: '9464', description: 'TCP port of the metrics listener (on `HOST`). Must differ from `PORT`.' },
  { env: 'METRICS_ON_MAIN_LISTENER', kind: 'bool', default: 'false', description: 'Also serve `/metrics` on the public listener (`PORT`). Only when something in front keeps that path private.' },
  { env: 'RATE_LIMIT_SCIM_PER_MINUTE', kind: 'int', default: '6000', min: 0, description: 'SCIM requests per minute per tenant (token bucket, refilled continuously; a `/Bulk` request counts once per operation, and one within `BULK_MAX_OPERATIONS` always fits a full bucket). Excess requests get 429 with `Retry-After`. Counted per process: with N replicas a tenant can reach N times this. `0` disables the limit.' },
  { env: 'RATE_LIMIT_SCIM_BURST', kind: 'int', default: '600', min: 1, description: 'SCIM requests a tenant may send at once above the steady rate (bucket size).' },
  { env: 'RATE_LIMIT_ADMIN_PER_MINUTE', kind: 'int', default: '600', min: 0, description: 'Admin API requests per minute per client address (per process). `0` disables the limit.' },
  { env: 'RATE_LIMIT_ADMIN_BURST', kind: 'int', default: '100', min: 1, description: 'Admin API requests a client may send at once above the steady rate.' },
  { env: 'RATE_LIMIT_AUTH_FAILURES_PER_MINUTE', kind: 'int', default: '30', min: 0, description: 'Failed authentications (SCIM and admin API: a missing, wrong, revoked or expired credential) per minute per client address. Beyond it the address gets 429 with `Retry-After` without its credential being looked up, except a credential known good to this process. Set `TRUST_PROXY` behind a load balancer, or every client shares the balancer\'s address. `0` disables the limit.' },
  { env: 'RATE_LIMIT_AUTH_FAILURES_BURST', kind: 'int', default: '20', min: 1, description: 'Failed authentications a client address may have at once above the steady rate.' },
  { env: 'TRUST_PROXY', kind: 'string', description: 'Behind a load balancer or ingress: `true` (trust X-Forwarded-For from any hop), a hop count, or comma-separated addresses/CIDRs of trusted proxies. Used for client addresses in logs and the admin rate limit.' },
  { env: 'IMPORT_WATCH_DIR', kind: 'string', description: 'A directory polled for CSV files (what an SFTP server writes to): `<dir>/<tenant>/*.csv` each become an import of that tenant, applied at once when its mapping says `autoApply`, else left for review; then moved to `imported/` or `failed/` beside them (README "Importing files").' },
  { env: 'IMPORT_WATCH_INTERVAL_MS', kind: 'int', default: '10000', min: 100, description: 'How often `IMPORT_WATCH_DIR` is polled; a file is taken once it has not changed for this long (an upload in progress is left alone).' },
  { env: 'SHUTDOWN_TIMEOUT_MS', kind: 'int', default: '10000', min: 100, description: 'On SIGTERM/SIGINT: how long in-flight requests and background work may take to finish before connections are cut. Keep it below the pod\'s `terminationGracePeriodSeconds`.' },
] as const satisfies readonly Spec[];

export type ConfigEnv = (typeof configSpec)[number]['env'];

export interface Config {
  port: number;
  host: string;
  publicUrl: string;
  databaseUrl: string | undefined;
  dataDir: string;
  importWatchDir: string | undefined;
  importWatchIntervalMs: number;
  databasePoolMax: number;
  databasePreparedStatements: boolean;
  databaseStatementTimeoutMs: number;
  databaseAcquireTimeoutMs: number;
  migrateOnStart: boolean;
  adminToken: string | undefined;
  bootstrapTenant: string | undefined;
  bootstrapToken: string | undefined;
  logLevel: string;
  maxPageSize: number;
  defaultPageSize: number;
  maxBodyBytes: number;
  bulkMaxOperations: number;
  webhookWorker: boolean;
  /** Retry delays in ms (parsed WEBHOOK_RETRY_SCHEDULE). */
  webhookRetrySchedule: number[];
  webhookTimeoutMs: number;
  webhookConcurrency: number;
  webhookDatabaseConnections: number;
  /** Undefined: half of webhookConcurrency (src/events/worker.ts endpointConcurrency). */
  webhookEndpointConcurrency: number | undefined;
  webhookConnectTimeoutMs: number;
  webhookAllowedCidrs: string[];
  webhookDeniedCidrs: string[];
  webhookPollIntervalMs: number;
  webhookSecretGraceSeconds: number;
  eventsRetentionDays: number;
  requestLogEnabled: boolean;
  requestLogRetentionDays: number;
  requestLogMaxPerTenant: number;
  auditRetentionDays: number;
  oauthAccessTokenTtlSeconds: number;
  jwtClockSkewSeconds: number;
  trustedIssuerJwksTimeoutMs: number;
  encryptionKeys: string | undefined;
  encryptionKeysFile: string | undefined;
  metricsEnabled: boolean;
  metricsPort: number;
  metricsOnMainListener: boolean;
  rateLimitScimPerMinute: number;
  rateLimitScimBurst: number;
  rateLimitAdminPerMinute: number;
  rateLimitAdminBurst: number;
  rateLimitAuthFailuresPerMinute: number;
  rateLimitAuthFailuresBurst: number;
  shutdownTimeoutMs: number;
  /** Fastify trustProxy: true, a hop count, or trusted addresses. */
  trustProxy: boolean | number | string[];
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** Parse and validate configuration; throws ConfigError listing every bad value at once. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const problems: string[] = [];
  const raw = (name: ConfigEnv): string | undefined => {
    const spec: Spec = configSpec.find((s) => s.env === name)!;
    const v = env[name];
    return v === undefined || v === '' ? spec.default : v;
  };
  const value = (name: ConfigEnv): string | number | boolean | undefined => {
    const spec: Spec = configSpec.find((s) => s.env === name)!;
    const v = raw(name);
    if (v === undefined) return undefined;
    const bad = (why: string) => {
      // Never echo secrets back, even in an error message.
      problems.push(`${name}=${spec.secret ? '<redacted>' : JSON.stringify(v)}: ${why}`);
      return undefined;
    };
    switch (spec.kind) {
      case 'port': {
        const n = Number(v);
        return Number.isInteger(n) && n >= 0 && n <= 65535 ? n : bad('must be a port number 0-65535');
      }
      case 'int': {
        const n = Number(v);
        if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) return bad('must be a whole number');
        return spec.min !== undefined && n < spec.min ? bad(`must be at least ${spec.min}`) : n;
      }
      case 'bool':
        if (/^(true|1|yes|on)$/i.test(v)) return true;
        if (/^(false|0|no|off)$/i.test(v)) return false;
        return bad('must be true or false');
      case 'enum':
        return spec.values!.includes(v) ? v : bad(`must be one of ${spec.values!.join(', ')}`);
      case 'url':
        try {
          new URL(v);
          return v;
        } catch {
          return bad('must be an absolute URL');
        }
      default:
        return v;
    }
  };

  const port = value('PORT') as number;
  const bootstrapTenant = value('BOOTSTRAP_TENANT') as string | undefined;
  const bootstrapToken = value('BOOTSTRAP_TOKEN') as string | undefined;
  if (bootstrapToken && !bootstrapTenant) problems.push('BOOTSTRAP_TOKEN is set but BOOTSTRAP_TENANT is not');
  if (bootstrapToken !== undefined && bootstrapToken.length < 16) problems.push('BOOTSTRAP_TOKEN=<redacted>: must be at least 16 characters');
  if (bootstrapTenant !== undefined && !TENANT_ID.test(bootstrapTenant)) {
    problems.push(`BOOTSTRAP_TENANT=${JSON.stringify(bootstrapTenant)}: ${TENANT_ID_RULE}`);
  }
  const adminToken = value('ADMIN_TOKEN') as string | undefined;
  if (adminToken !== undefined && adminToken.length < 16) problems.push('ADMIN_TOKEN=<redacted>: must be at least 16 characters');
  const publicUrl = ((value('PUBLIC_URL') as string | undefined) ?? `http://localhost:${port ?? 8080}`).replace(/\/+$/, '');

  const config: Config = {
    port,
    host: value('HOST') as string,
    publicUrl,
    databaseUrl: value('DATABASE_URL') as string | undefined,
    dataDir: value('DATA_DIR') as string,
    importWatchDir: value('IMPORT_WATCH_DIR') as string | undefined,
    importWatchIntervalMs: value('IMPORT_WATCH_INTERVAL_MS') as number,
    databasePoolMax: value('DATABASE_POOL_MAX') as number,
    databasePreparedStatements: value('DATABASE_PREPARED_STATEMENTS') as boolean,
    databaseStatementTimeoutMs: value('DATABASE_STATEMENT_TIMEOUT_MS') as number,
    databaseAcquireTimeoutMs: value('DATABASE_ACQUIRE_TIMEOUT_MS') as number,
    migrateOnStart: value('MIGRATE_ON_START') as boolean,
    adminToken,
    bootstrapTenant,
    bootstrapToken,
    logLevel: value('LOG_LEVEL') as string,
    maxPageSize: value('MAX_PAGE_SIZE') as number,
    defaultPageSize: value('DEFAULT_PAGE_SIZE') as number,
    maxBodyBytes: value('MAX_BODY_BYTES') as number,
    bulkMaxOperations: value('BULK_MAX_OPERATIONS') as number,
    webhookWorker: value('WEBHOOK_WORKER') as boolean,
    webhookRetrySchedule: retrySchedule(value('WEBHOOK_RETRY_SCHEDULE') as string, problems),
    webhookTimeoutMs: value('WEBHOOK_TIMEOUT_MS') as number,
    webhookConcurrency: value('WEBHOOK_CONCURRENCY') as number,
    webhookDatabaseConnections: value('WEBHOOK_DATABASE_CONNECTIONS') as number,
    webhookEndpointConcurrency: value('WEBHOOK_ENDPOINT_CONCURRENCY') as number | undefined,
    webhookConnectTimeoutMs: value('WEBHOOK_CONNECT_TIMEOUT_MS') as number,
    webhookAllowedCidrs: cidrs('WEBHOOK_ALLOWED_CIDRS', value('WEBHOOK_ALLOWED_CIDRS') as string | undefined, problems),
    webhookDeniedCidrs: cidrs('WEBHOOK_DENIED_CIDRS', value('WEBHOOK_DENIED_CIDRS') as string | undefined, problems),
    webhookPollIntervalMs: value('WEBHOOK_POLL_INTERVAL_MS') as number,
    webhookSecretGraceSeconds: value('WEBHOOK_SECRET_GRACE_SECONDS') as number,
    eventsRetentionDays: value('EVENTS_RETENTION_DAYS') as number,
    requestLogEnabled: value('REQUEST_LOG_ENABLED') as boolean,
    requestLogRetentionDays: value('REQUEST_LOG_RETENTION_DAYS') as number,
    requestLogMaxPerTenant: value('REQUEST_LOG_MAX_PER_TENANT') as number,
    auditRetentionDays: value('AUDIT_RETENTION_DAYS') as number,
    oauthAccessTokenTtlSeconds: value('OAUTH_ACCESS_TOKEN_TTL_SECONDS') as number,
    jwtClockSkewSeconds: value('JWT_CLOCK_SKEW_SECONDS') as number,
    trustedIssuerJwksTimeoutMs: value('TRUSTED_ISSUER_JWKS_TIMEOUT_MS') as number,
    encryptionKeys: value('ENCRYPTION_KEYS') as string | undefined,
    encryptionKeysFile: value('ENCRYPTION_KEYS_FILE') as string | undefined,
    metricsEnabled: value('METRICS_ENABLED') as boolean,
    metricsPort: value('METRICS_PORT') as number,
    metricsOnMainListener: value('METRICS_ON_MAIN_LISTENER') as boolean,
    rateLimitScimPerMinute: value('RATE_LIMIT_SCIM_PER_MINUTE') as number,
    rateLimitScimBurst: value('RATE_LIMIT_SCIM_BURST') as number,
    rateLimitAdminPerMinute: value('RATE_LIMIT_ADMIN_PER_MINUTE') as number,
    rateLimitAdminBurst: value('RATE_LIMIT_ADMIN_BURST') as number,
    rateLimitAuthFailuresPerMinute: value('RATE_LIMIT_AUTH_FAILURES_PER_MINUTE') as number,
    rateLimitAuthFailuresBurst: value('RATE_LIMIT_AUTH_FAILURES_BURST') as number,
    shutdownTimeoutMs: value('SHUTDOWN_TIMEOUT_MS') as number,
    trustProxy: parseTrustProxy(value('TRUST_PROXY') as string | undefined),
  };
  if (config.defaultPageSize > config.maxPageSize) problems.push('DEFAULT_PAGE_SIZE must not exceed MAX_PAGE_SIZE');
  if (config.metricsEnabled && config.metricsPort !== 0 && config.metricsPort === config.port) {
    problems.push(`METRICS_PORT=${config.metricsPort}: must differ from PORT (or set METRICS_ENABLED=false)`);
  }
  if (problems.length) throw new ConfigError(problems);
  return config;
}

function retrySchedule(text: string, problems: string[]): number[] {
  try {
    return parseRetrySchedule(text);
  } catch (err) {
    problems.push(`WEBHOOK_RETRY_SCHEDULE=${JSON.stringify(text)}: ${(err as Error).message}`);
    return [];
  }
}

function cidrs(name: ConfigEnv, text: string | undefined, problems: string[]): string[] {
  try {
    return parseCidrList(text);
  } catch (err) {
    problems.push(`${name}=${JSON.stringify(text)}: ${(err as Error).message}`);
    return [];
  }
}

/** Tenant ids appear in URLs: lower-case letters, digits and dashes. */
export const TENANT_ID = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
export const TENANT_ID_RULE = 'must be 1-63 lower-case letters, digits or dashes, starting and ending with a letter or digit';

/** Markdown table of every setting, for the README. */
export function configTable(): string {
  const rows = configSpec.map((s: Spec) => `| \`${s.env}\` | ${s.default !== undefined ? `\`${s.default}\`` : '—'} | ${s.description} |`);
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

function parseTrustProxy(v: string | undefined): boolean | number | string[] {
  if (v === undefined || /^(false|0)$/i.test(v)) return false;
  if (/^true$/i.test(v)) return true;
  if (/^\d+$/.test(v)) return Number(v);
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}
