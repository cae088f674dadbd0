/**
 * The SCIM API of one tenant, mounted at /scim/v2/:tenant. Every route is
 * authenticated with the tenant's bearer token and answers
 * application/scim+json (RFC 7644 §3.1).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../../config.js';
import { stringifyJson } from '../../scim/json.js';
import type { Features } from '../../scim/discovery.js';
import { actingContext, type ScimContext } from '../../services/context.js';
import type { ScimJwtVerifier, ScimPrincipal } from '../../services/credentials.js';
import { settingsOf, type TenantService } from '../../services/tenants.js';
import type { UserService } from '../../services/users.js';
import { authenticateTenant, checkScimScope } from '../auth.js';
import type { AuthFailures } from '../rate-limit.js';
import { SCIM_CONTENT_TYPE } from '../errors.js';
import { discoveryRoutes } from './discovery.js';
import { userRoutes } from './users.js';
import type { BulkService } from '../../services/bulk.js';
import type { GroupService } from '../../services/groups.js';
import type { SearchService } from '../../services/search.js';
import { bulkRoutes } from './bulk.js';
import { groupRoutes } from './groups.js';
import { rootSearchRoutes } from './search.js';
import { installRequestLog, type RequestLogHooks } from './request-log.js';

declare module 'fastify' {
  interface FastifyRequest {
    scim: ScimContext;
  }
}

export interface ScimDeps extends RequestLogHooks {
  config: Config;
  tenants: TenantService;
  users: UserService;
  groups: GroupService;
  search: SearchService;
  bulk: BulkService;
  features: () => Features;
  /** Failed authentication per client address (src/http/rate-limit.ts); none when the limit is off. */
  authFailures?: AuthFailures | undefined;
  /** OAuth access tokens and trusted issuers' JWTs (src/services/jwt-bearer.ts); opaque tokens only without it. */
  jwt?: ScimJwtVerifier | undefined;
}

export const SCIM_PREFIX = '/scim/v2/:tenant';

export async function scimApi(app: FastifyInstance, deps: ScimDeps): Promise<void> {
  const { config, tenants } = deps;
  app.decorateRequest('scim', null as unknown as ScimContext);
  // The response schemas document the bodies (OpenAPI); the bodies themselves
  // are free-form SCIM resources (additionalProperties), which a schema-driven
  // serializer would write key by key. JSON.stringify writes them in one call.
  app.setSerializerCompiler(() => (data) => stringifyJson(data));

  // Callback style, not async: a cached token answers without a promise (this runs for every SCIM request).
  app.addHook('onRequest', (req: FastifyRequest<{ Params: { tenant: string } }>, reply, done) => {
    reply.type(SCIM_CONTENT_TYPE);
    const bind = ({ tenant, actor, scopes }: ScimPrincipal) => {
      req.scim = actingContext(tenant, settingsOf(tenant), `${config.publicUrl}/scim/v2/${tenant.id}`, actor);
      req.scim.requestId = String(req.id);
      // RFC 6750 §3.1: known, but not allowed to do this.
      done(checkScimScope(req, scopes));
    };
    let credential: ScimPrincipal | Promise<ScimPrincipal>;
    try {
      credential = authenticateTenant(req, tenants, req.params.tenant, deps.authFailures, deps.jwt);
    } catch (err) {
      done(err as Error);
      return;
    }
    if (credential instanceof Promise) credential.then(bind, done);
    else bind(credential);
  });

  // What lenient handling skipped or corrected is never silent (README "Lenient tenants").
  app.addHook('onResponse', (req, _reply, done) => {
    const ctx = req.scim as ScimContext | null;
    if (ctx?.notes.length) req.log.warn({ tenant: ctx.tenant.id, token: ctx.actor.id, notes: ctx.notes }, 'lenient handling skipped or corrected part of the request');
    done();
  });

  installRequestLog(app, deps);

  discoveryRoutes(app, { features: deps.features });
  userRoutes(app, { users: deps.users, limits: config });
  groupRoutes(app, { groups: deps.groups, limits: config });
  rootSearchRoutes(app, { search: deps.search, limits: config });
  bulkRoutes(app, { bulk: deps.bulk });
}
