/**
 * What every SCIM credential comes down to once verified: the tenant it
 * opens, who it is (the actor recorded on events and in the request log)
 * and what it may do.
 */
import type { Actor } from './actor.js';
import type { TenantRecord } from './tenants.js';

export interface ScimPrincipal {
  tenant: TenantRecord;
  actor: Actor;
  /** src/services/scopes.ts; null: every scope. */
  scopes: readonly string[] | null;
}

/** Verifies JWT bearer tokens for a tenant's SCIM base URL (src/services/jwt-bearer.ts). */
export interface ScimJwtVerifier {
  /** The principal, undefined when the token is not valid for the tenant; rejects with CredentialRefused to say why in the 401. */
  verify(tenantId: string, token: string): Promise<ScimPrincipal | undefined>;
}

/** A credential refused for a reason the client may be told (e.g. the issuer's JWKS could not be fetched). */
export class CredentialRefused extends Error {
  override name = 'CredentialRefused';
}

/** A JWS compact serialization (RFC 7515 §7.1), as opposed to Roster's opaque tokens. */
export const looksLikeJwt = (token: string): boolean => /^eyJ[\w-]*\.[\w-]+\.[\w-]*$/.test(token);

