/**
 * Bearer authentication (RFC 6750) for SCIM and admin routes. A SCIM token
 * only opens its own tenant's base URL; an unknown tenant and a wrong token
 * get the same 401, so nothing reveals which tenants exist.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { ScimError } from '../scim/errors.js';
import { sha256, type AdminKeys } from '../services/admin-keys.js';
import type { TenantService } from '../services/tenants.js';
import type { TenantRecord } from '../db/tenants.js';

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
 * The tenant whose SCIM base URL a request may use: at once when the token
 * cache can answer (the usual case), else a promise; throws (or rejects with)
 * the 401.
 */
export function authenticateTenant(req: FastifyRequest, tenants: TenantService, tenantId: string): TenantRecord | Promise<TenantRecord> {
  const token = bearerToken(req);
  if (!token) throw unauthorized('scim', 'Authorization: Bearer <token> required');
  const cached = tenants.authenticateCached(tenantId, token);
  return cached === null ? tenants.authenticate(tenantId, token).then(admitted) : admitted(cached);
}

function admitted(tenant: TenantRecord | undefined): TenantRecord {
  if (!tenant) throw unauthorized('scim', 'The bearer token is not valid for this SCIM endpoint', 'invalid_token');
  return tenant;
}

/**
 * The one check for admin requests: the bearer token's digest against every
 * accepted key's, each compared in constant time and all of them compared
 * (no early exit), so timing reveals neither the key nor which one matched.
 */
export function authenticateAdmin(req: FastifyRequest, keys: AdminKeys): void {
  if (keys.digests.length === 0) throw unauthorized('roster-admin', 'The admin API is disabled: set ADMIN_TOKEN to enable it');
  const token = bearerToken(req);
  if (!token) throw unauthorized('roster-admin', 'Authorization: Bearer <ADMIN_TOKEN> required');
  const presented = sha256(token);
  let ok = false;
  for (const d of keys.digests) ok = timingSafeEqual(presented, d) || ok;
  if (!ok) throw unauthorized('roster-admin', 'Invalid admin token', 'invalid_token');
}
