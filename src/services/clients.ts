/**
 * Which identity provider a SCIM client is, from its User-Agent (and, for
 * Entra ID, a query flag), for the request log and the connection status.
 * A guess for people to read, never used to decide anything; the raw
 * User-Agent is kept beside it. One place, with the evidence for each rule:
 *
 * - Okta: "Okta SCIM Client 1.0.0" in every request of Okta's SCIM 2.0
 *   reference (test/fixtures/generate.ts, the Okta session replays), and
 *   "OKTA SCIM Integration" in Okta's SCIM spec tests (Runscope;
 *   test/fixtures/okta/spec-test-*.json).
 * - Entra ID: Microsoft documents no User-Agent and none is in our fixtures;
 *   matched by the product's names ("Azure AD", "Azure Active Directory",
 *   "Entra"), and by the `aadOptscim062020` query flag, which only Entra ID
 *   appends to a Tenant URL (Microsoft's SCIM known-issues article; README
 *   "The aadOptscim062020 flag").
 * - OneLogin, JumpCloud, Google Workspace, Ping Identity, Rippling, Authentik,
 *   Keycloak: by the product name in the User-Agent; their documentation
 *   shows no value, so these are best efforts.
 */

const BY_USER_AGENT: [RegExp, string][] = [
  [/\bokta\b/i, 'Okta'],
  [/azure ?ad\b|azure active directory|\bentra\b|\baad\b/i, 'Entra ID'],
  [/onelogin/i, 'OneLogin'],
  [/jumpcloud/i, 'JumpCloud'],
  [/google/i, 'Google Workspace'],
  [/\bping ?(identity|federate|one)\b/i, 'Ping Identity'],
  [/rippling/i, 'Rippling'],
  [/authentik/i, 'authentik'],
  [/keycloak/i, 'Keycloak'],
];

const ENTRA_FLAG = /[?&]aadoptscim062020(?:[=&]|$)/i;

/** The IdP's name when recognisable, else null. `url` is the request URL (path and query). */
export function recogniseIdp(userAgent: string | undefined, url = ''): string | null {
  if (userAgent) for (const [pattern, name] of BY_USER_AGENT) if (pattern.test(userAgent)) return name;
  return ENTRA_FLAG.test(url) ? 'Entra ID' : null;
}
