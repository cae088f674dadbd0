/**
 * Scopes of every credential (README "Authentication"), declared once.
 *
 * SCIM credentials (tokens, OAuth clients, external JWTs): `scim:read`
 * lists, reads and searches (POST /.search included); `scim:write` also
 * creates, replaces, patches and deletes, /Bulk included. A credential
 * without scopes (tokens issued before scopes existed) may do everything.
 *
 * Admin keys: `all`, or any of the others; `tenants:write` includes
 * `tenants:read`.
 */
import { badRequest } from '../scim/errors.js';

export const SCIM_SCOPES = ['scim:read', 'scim:write'] as const;
export type ScimScope = (typeof SCIM_SCOPES)[number];

export const ADMIN_SCOPES = ['all', 'tenants:read', 'tenants:write', 'tokens', 'webhooks', 'policy', 'audit', 'admin-keys'] as const;
export type AdminScope = (typeof ADMIN_SCOPES)[number];

/** What each admin scope opens, for the README and the OpenAPI descriptions. */
export const ADMIN_SCOPE_MEANING: Record<AdminScope, string> = {
  all: 'every admin route',
  'tenants:read': 'read tenants, their provisioning log and status',
  'tenants:write': 'create, change and delete tenants (includes tenants:read)',
  tokens: "a tenant's SCIM credentials: tokens, OAuth clients, trusted issuers, setup links",
  webhooks: 'webhook endpoints, events, deliveries',
  policy: 'provisioning policy, host users, dry run and go-live, safeguard holds, file imports',
  audit: 'read the audit trail',
  'admin-keys': 'create, list and revoke admin keys (never beyond the caller’s own scopes)',
};

const IMPLIES: Partial<Record<string, readonly string[]>> = {
  'scim:write': ['scim:read'],
  'tenants:write': ['tenants:read'],
};

/** Whether `held` (null: every scope) grants `needed`. */
export function grants(held: readonly string[] | null, needed: string): boolean {
  if (held === null) return true;
  return held.some((s) => s === needed || s === 'all' || IMPLIES[s]?.includes(needed) === true);
}

/** Every scope `needed` granted by `held`. */
export const grantsAll = (held: readonly string[] | null, needed: readonly string[]): boolean => needed.every((s) => grants(held, s));

/** Validate requested scopes against a vocabulary: de-duplicated, sorted; 400 invalidValue naming the unknown one. */
export function parseScopes(input: readonly string[] | undefined, allowed: readonly string[], what: string): string[] | undefined {
  if (input === undefined) return undefined;
  for (const s of input) {
    if (!allowed.includes(s)) throw badRequest('invalidValue', `Unknown scope "${s}" for ${what}; one of: ${allowed.join(', ')}`);
  }
  if (input.length === 0) throw badRequest('invalidValue', `${what} needs at least one scope; one of: ${allowed.join(', ')}`);
  return [...new Set(input)].sort();
}

/** The space-separated form of OAuth (RFC 6749 §3.3). */
export const scopeString = (scopes: readonly string[] | null): string => (scopes ?? SCIM_SCOPES).join(' ');
