/**
 * Bearer authentication (RFC 6750) for SCIM and admin routes. A SCIM token
 * only opens its own tenant's base URL; an unknown tenant and a wrong token
 * get the same 401, so nothing reveals which tenants exist.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { ScimError } from '../scim/errors.js';
import type { Credential, TenantService } from '../services/tenants.js';

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
export function authenticateTenant(req: FastifyRequest, tenants: TenantService, tenantId: string): Credential | Promise<Credential> {
  const token = bearerToken(req);
  if (!token) throw unauthorized('scim', 'Authorization: Bearer <token> required');
  const cached = tenants.authenticateCached(tenantId, token);
  return cached === null ? tenants.authenticate(tenantId, token).then(admitted) : admitted(cached);
}

function admitted(credential: Credential | undefined): Credential {
  if (!credential) throw unauthorized('scim', 'The bearer token is not valid for this SCIM endpoint', 'invalid_token');
  return credential;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export function authenticateAdmin(req: FastifyRequest, adminToken: string | undefined): void {
  if (!adminToken) throw unauthorized('roster-admin', 'The admin API is disabled: set ADMIN_TOKEN to enable it');
  const token = bearerToken(req);
  if (!token) throw unauthorized('roster-admin', 'Authorization: Bearer <ADMIN_TOKEN> required');
  // Constant-time comparison of equal-length digests.
  if (!timingSafeEqual(digest(token), digest(adminToken))) throw unauthorized('roster-admin', 'Invalid admin token', 'invalid_token');
}
