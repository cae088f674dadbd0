/**
 * Builds the Fastify application: SCIM API per tenant, admin API, one error
 * handler. No listening, no process concerns (see main.ts), so tests drive it
 * with app.inject or on an ephemeral port.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Config } from './config.js';
import type { DatabaseHandle } from './db/index.js';
import { adminApi } from './http/admin/index.js';
import { installErrorHandling } from './http/errors.js';
import { installOps, type Ops } from './http/ops/index.js';
import { SCIM_PREFIX, scimApi } from './http/scim/index.js';
import type { Features } from './scim/discovery.js';
import { TenantService } from './services/tenants.js';
import { UserService } from './services/users.js';

export interface Services {
  tenants: TenantService;
  users: UserService;
}

export interface BuildOptions {
  config: Config;
  database: DatabaseHandle;
  /** Fastify logger option; defaults to pino at config.logLevel. */
  logger?: FastifyServerOptions['logger'];
}

export function loggerOptions(config: Config): FastifyServerOptions['logger'] {
  return {
    level: config.logLevel,
    // Tokens must never reach the logs, whatever a serializer is changed to print.
    redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.token', '*.secret'], censor: '[redacted]' },
  };
}

export async function buildApp(opts: BuildOptions): Promise<{ app: FastifyInstance; services: Services; ops: Ops }> {
  const { config, database } = opts;
  const app = Fastify({
    logger: opts.logger ?? loggerOptions(config),
    bodyLimit: config.maxBodyBytes,
    requestIdHeader: 'x-request-id',
    requestIdLogLabel: 'requestId',
    // Microsoft's SCIM validator uses /users and /groups; resource paths are case-insensitive here.
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true },
  });

  // RFC 7644 §3.1: application/scim+json; also plain JSON, and (Okta sends some writes without one) no content type.
  const json = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/scim+json', { parseAs: 'string' }, json);
  app.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) => {
    if (body === '' || body === undefined) return done(null, undefined);
    json(req, body as string, done);
  });

  installErrorHandling(app);
  // Before the API plugins, so their routes get the OpenAPI, metrics and rate-limit hooks.
  const ops = await installOps(app, { config, database });

  const services: Services = {
    tenants: new TenantService(database.db),
    users: new UserService(database.db),
  };

  const features = (): Features => ({ maxResults: config.maxPageSize });

  await app.register(scimApi, { prefix: SCIM_PREFIX, config, tenants: services.tenants, users: services.users, features });
  await app.register(adminApi, { prefix: '/admin/v1', config, tenants: services.tenants });

  return { app, services, ops };
}
