/**
 * Bearer authentication (RFC 6750) for SCIM and admin routes (README
 * "Authentication"). A SCIM credential only opens its own tenant's base URL;
 * an unknown tenant, client or key and a wrong credential get the same 401,
 * so nothing reveals what exists. Failures count against the client address
 * (src/http/rate-limit.ts) for every credential type.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { ScimError } from '../scim/errors.js';
import { ADMIN_KEY_PREFIX, ADMIN_TOKEN_PRINCIPAL, sha256, type AdminKeyService, type AdminKeys, type AdminPrincipal } from '../services/admin-keys.js';
import { CredentialRefused, looksLikeJwt, type ScimPrincipal, type ScimJwtVerifier } from '../services/credentials.js';
import { grants } from '../services/scopes.js';
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

/** RFC 6750 §3.1: authenticated, but the credential's scopes do not cover the request. */
export function insufficientScope(realm: string, scope: string): ScimError {
  return new ScimError(403, `The credential lacks the scope "${scope}" this request needs`, undefined, {
    'www-authenticate': `Bearer realm="${realm}", error="insufficient_scope", scope="${scope}"`,
  });
}

const tokenPrincipal = ({ token, tenant }: Credential): ScimPrincipal => ({
  tenant,
  actor: { type: 'scimToken', id: token.id, name: token.name },
  scopes: token.scopes,
});

/**
 * Who may use a tenant's SCIM base URL: at once when the token cache can
 * answer (the usual case), else a promise; throws (or rejects with) the
 * 401. Opaque tokens are Roster's SCIM tokens; a JWT is an access token of
 * Roster's OAuth token endpoint or of a trusted issuer (`jwt`).
 */
export function authenticateTenant(
  req: FastifyRequest,
  tenants: TenantService,
  tenantId: string,
  failures?: AuthFailures,
  jwt?: ScimJwtVerifier,
): ScimPrincipal | Promise<ScimPrincipal> {
  const token = bearerToken(req);
  const isJwt = token !== undefined && jwt !== undefined && looksLikeJwt(token);
  const cached = token && !isJwt ? tenants.authenticateCached(tenantId, token) : null;
  if (cached) return tokenPrincipal(cached);
  // Not known good here: an address that failed too often is refused before any look-up.
  const limited = failures?.check(req.ip);
  if (limited) throw limited;
  const refuse = (detail: string, error?: 'invalid_token') => {
    failures?.record(req.ip);
    return unauthorized('scim', detail, error);
  };
  if (!token) throw refuse('Authorization: Bearer <token> required');
  const invalid = () => refuse('The bearer token is not valid for this SCIM endpoint', 'invalid_token');
  if (isJwt) {
    return jwt.verify(tenantId, token).then(
      (principal) => {
        if (!principal) throw invalid();
        return principal;
      },
      (err: unknown) => {
        if (err instanceof CredentialRefused) throw refuse(err.message, 'invalid_token');
        throw err;
      },
    );
  }
  if (cached === undefined) throw invalid();
  return tenants.authenticate(tenantId, token).then((credential) => {
    if (!credential) throw invalid();
    return tokenPrincipal(credential);
  });
}

/** RFC 7644 §3.4.3: POST …/.search reads; every other non-GET SCIM request (Bulk included) writes. */
export function scimScopeNeeded(method: string, routeUrl: string): 'scim:read' | 'scim:write' {
  if (method === 'GET' || method === 'HEAD') return 'scim:read';
  return method === 'POST' && /\/\.search$/i.test(routeUrl) ? 'scim:read' : 'scim:write';
}

/** The 403 for a SCIM request its credential's scopes do not cover, or undefined. */
export function checkScimScope(req: FastifyRequest, scopes: readonly string[] | null): ScimError | undefined {
  const needed = scimScopeNeeded(req.method, req.routeOptions.url ?? '');
  return grants(scopes, needed) ? undefined : insufficientScope('scim', needed);
}

/**
 * Who an admin credential is, for the console's sign-in: the same checks as
 * authenticateAdmin (constant-time digests; named keys by their hash), no
 * request needed. Undefined: not accepted.
 */
export async function adminPrincipalFor(token: string, keys: AdminKeys, named?: AdminKeyService): Promise<AdminPrincipal | undefined> {
  return adminTokenPrincipal(token, keys) ?? (named && token.startsWith(ADMIN_KEY_PREFIX) ? named.authenticate(token) : undefined);
}

/** ADMIN_TOKEN (or the generated token): every accepted digest compared, in constant time, no early exit. */
function adminTokenPrincipal(token: string, keys: AdminKeys): AdminPrincipal | undefined {
  if (keys.digests.length === 0) return undefined;
  const presented = sha256(token);
  let ok = false;
  for (const d of keys.digests) ok = timingSafeEqual(presented, d) || ok;
  return ok ? ADMIN_TOKEN_PRINCIPAL : undefined;
}

/**
 * The one check for admin requests. ADMIN_TOKEN (or the generated token):
 * its digest against every accepted one, each compared in constant time and
 * all of them compared (no early exit). A named admin key (`rsak_…`): looked
 * up by its SHA-256. Failures count against the client address; the right
 * key is never refused for someone else's guessing. Returns who the request
 * comes from, with its scopes and tenant, or throws the 401.
 */
export function authenticateAdmin(req: FastifyRequest, keys: AdminKeys, failures?: AuthFailures, named?: AdminKeyService): AdminPrincipal | Promise<AdminPrincipal> {
  const token = bearerToken(req);
  const fixed = token ? adminTokenPrincipal(token, keys) : undefined;
  if (fixed) return fixed;
  const cached = token && named && token.startsWith(ADMIN_KEY_PREFIX) ? named.authenticateCached(token) : null;
  if (cached) return cached;
  const limited = failures?.check(req.ip);
  if (limited) throw limited;
  const refuse = (detail: string, error?: 'invalid_token') => {
    failures?.record(req.ip);
    return unauthorized('roster-admin', detail, error);
  };
  const invalid = () => refuse('Invalid admin token', 'invalid_token');
  if (token && named && token.startsWith(ADMIN_KEY_PREFIX)) {
    if (cached === undefined) throw invalid();
    return named.authenticate(token).then((principal) => {
      if (!principal) throw invalid();
      return principal;
    });
  }
  if (keys.digests.length === 0) throw refuse('The admin API is disabled: set ADMIN_TOKEN to enable it');
  if (!token) throw refuse('Authorization: Bearer <ADMIN_TOKEN> required');
  throw invalid();
}
