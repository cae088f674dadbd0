/**
 * Bearer authentication (RFC 6750) for SCIM and admin routes. A SCIM token
 * only opens its own tenant's base URL; an unknown tenant and a wrong token
 * get the same 401, so nothing reveals which tenants exist.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { ScimError } from '../scim/errors.js';
import { sha256, type AdminKeys } from '../services/admin-keys.js';
import { ADMIN_TOKEN_ACTOR, type Actor } from '../services/actor.js';
import type { Credential, TenantService } from '../services/tenants.js';
import type { AuthFailures } from './rate-limit.js';

export function bearerToken(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m?.[1];
}

function unauthorized(realm: string, detail: string, error?: 'invalid_token'): ScimError {
  const challenge = error ? `Bearer realm="${realm}", error="${error}"` : `Bearer realm="${realm}"`;
  return new ScimError(401, detail, undefined, { 'www-authenticate': challenge });
}

/**
 * The credential (token and tenant) with which a request may use a tenant's
 * SCIM base URL: at once when the token cache can answer (the usual case),
 * else a promise; throws (or rejects with) the 401.
 */
export function authenticateTenant(req: FastifyRequest, tenants: TenantService, tenantId: string, failures?: AuthFailures): Credential | Promise<Credential> {
  const token = bearerToken(req);
  const cached = token ? tenants.authenticateCached(tenantId, token) : undefined;
  if (cached) return cached;
  // Not known good here: an address that failed too often is refused before any look-up.
  const limited = failures?.check(req.ip);
  if (limited) throw limited;
  const refuse = (detail: string, error?: 'invalid_token') => {
    failures?.record(req.ip);
    return unauthorized('scim', detail, error);
  };
  if (!token) throw refuse('Authorization: Bearer <token> required');
  const invalid = () => refuse('The bearer token is not valid for this SCIM endpoint', 'invalid_token');
  if (cached === undefined) throw invalid();
  return tenants.authenticate(tenantId, token).then((credential) => {
    if (!credential) throw invalid();
    return credential;
  });
}

/**
 * Who an admin credential is (its audit actor), or undefined: its digest
 * against every accepted key's, each compared in constant time and all of
 * them compared (no early exit). The console's sign-in uses it too.
 */
export function adminActorFor(token: string, keys: AdminKeys): Actor | undefined {
  if (keys.digests.length === 0) return undefined;
  const presented = sha256(token);
  let ok = false;
  for (const d of keys.digests) ok = timingSafeEqual(presented, d) || ok;
  return ok ? ADMIN_TOKEN_ACTOR : undefined;
}

/**
 * The one check for admin requests: the bearer token's digest against every
 * accepted key's, each compared in constant time and all of them compared
 * (no early exit), so timing reveals neither the key nor which one matched.
 * Failures count against the client address (src/http/rate-limit.ts); the
 * right key is never refused for someone else's guessing. Returns who the
 * request comes from (its audit actor), or throws the 401.
 */
export function authenticateAdmin(req: FastifyRequest, keys: AdminKeys, failures?: AuthFailures): Actor {
  const token = bearerToken(req);
  const actor = token ? adminActorFor(token, keys) : undefined;
  if (actor) return actor;
  const limited = failures?.check(req.ip);
  if (limited) throw limited;
  failures?.record(req.ip);
  if (keys.digests.length === 0) throw unauthorized('roster-admin', 'The admin API is disabled: set ADMIN_TOKEN to enable it');
  if (!token) throw unauthorized('roster-admin', 'Authorization: Bearer <ADMIN_TOKEN> required');
  throw unauthorized('roster-admin', 'Invalid admin token', 'invalid_token');
}
