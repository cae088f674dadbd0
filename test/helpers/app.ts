/**
 * A Roster app on a fresh database, with a tenant and token ready, driven
 * through Fastify's inject (real routing, hooks, parsers, error handler).
 */
import type { FastifyInstance, FastifyServerOptions, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildApp, type Services } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { DatabaseHandle } from '../../src/db/index.js';
import { prepareSecretsAtRest } from '../../src/services/encryption.js';
import { openTestDatabase, type Backend } from './db.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface TestApp {
  app: FastifyInstance;
  services: Services;
  database: DatabaseHandle & { url?: string };
  config: Config;
  tenant: string;
  token: string;
  /** Request against the tenant's SCIM base path: scim('GET', '/Users'). */
  scim(method: InjectOptions['method'], path: string, body?: unknown, headers?: Record<string, string>): Promise<Res>;
  /** Request against /admin/v1 with the admin token. */
  admin(method: InjectOptions['method'], path: string, body?: unknown): Promise<Res>;
  /** A second tenant with its own token. */
  newTenant(id: string): Promise<{ tenant: string; token: string }>;
}

export interface Res {
  status: number;
  headers: LightMyRequestResponse['headers'];
  body: any;
  raw: LightMyRequestResponse;
}

interface T {
  teardown(fn: () => unknown): void;
}

export function toRes(r: LightMyRequestResponse): Res {
  let body: unknown = undefined;
  if (r.body) {
    try {
      body = JSON.parse(r.body);
    } catch {
      body = r.body;
    }
  }
  return { status: r.statusCode, headers: r.headers, body, raw: r };
}

export async function startApp(t: T, backend: Backend, env: Record<string, string> = {}, opts: { logger?: FastifyServerOptions['logger']; policyCacheMs?: number } = {}): Promise<TestApp> {
  // Tests send many wrong tokens on purpose from one address (test/ops/rate-limit.test.ts tests that limit itself),
  // and their webhook receivers listen on loopback, which webhook destinations refuse unless allowed.
  const config = loadConfig({
    LOG_LEVEL: 'silent',
    ADMIN_TOKEN,
    PUBLIC_URL: 'https://roster.test',
    RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: '0',
    WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8,::1',
    ...env,
  });
  // The tests' pool is 5 unless env sets DATABASE_POOL_MAX; DATABASE_PREPARED_STATEMENTS applies as in production.
  const database = await openTestDatabase(t, backend, {
    ...(env.DATABASE_POOL_MAX ? { poolMax: config.databasePoolMax } : {}),
    preparedStatements: config.databasePreparedStatements,
    statementTimeoutMs: config.databaseStatementTimeoutMs,
    acquireTimeoutMs: config.databaseAcquireTimeoutMs,
  });
  // As at a real start (src/startup.ts): the encryption key, and every stored secret under it.
  await prepareSecretsAtRest(config, database);
  const { app, services } = await buildApp({ config, database, ...(opts.logger ? { logger: opts.logger } : {}), ...(opts.policyCacheMs !== undefined ? { policyCacheMs: opts.policyCacheMs } : {}) });
  t.teardown(() => app.close());
  await app.ready();

  const newTenant = async (id: string) => {
    await services.tenants.create({ id });
    const issued = await services.tenants.issueToken(id, { name: 'test' });
    return { tenant: id, token: issued.secret };
  };
  const { tenant, token } = await newTenant('acme');

  const inject = async (opts: InjectOptions) => toRes(await app.inject(opts));
  const withBody = (body: unknown, headers: Record<string, string>): Partial<InjectOptions> =>
    body === undefined
      ? { headers }
      : { headers: { 'content-type': 'application/scim+json', ...headers }, payload: typeof body === 'string' ? body : JSON.stringify(body) };

  return {
    app,
    services,
    database,
    config,
    tenant,
    token,
    newTenant,
    scim: (method, path, body, headers = {}) =>
      inject({ method, url: `/scim/v2/${tenant}${path}`, ...withBody(body, { authorization: `Bearer ${token}`, ...headers }) }),
    admin: (method, path, body) => inject({ method, url: `/admin/v1${path}`, ...withBody(body, { authorization: `Bearer ${ADMIN_TOKEN}` }) }),
  };
}

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

/** A minimal valid user body. */
export function user(userName: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { schemas: [USER_SCHEMA], userName, ...extra };
}
