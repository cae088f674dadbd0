/** CLI commands for credentials beyond SCIM tokens (README "Authentication"): admin keys, OAuth clients, trusted issuers. */
import { path } from './client.js';
import { defined, list, shownOnce, str, type Command } from './command-kit.js';
import { record, table, type Column } from './output.js';

const adminKeyColumns: Column<any>[] = [
  ['id', (k) => k.id],
  ['name', (k) => k.name],
  ['prefix', (k) => k.prefix],
  ['scopes', (k) => k.scopes.join(' ')],
  ['tenant', (k) => k.tenant ?? 'all'],
  ['last used', (k) => k.lastUsedAt],
  ['revoked', (k) => k.revokedAt],
];
const clientColumns: Column<any>[] = [
  ['id', (c) => c.id],
  ['client id', (c) => c.clientId],
  ['name', (c) => c.name],
  ['scopes', (c) => c.scopes.join(' ')],
  ['expires', (c) => c.expiresAt],
  ['last used', (c) => c.lastUsedAt],
  ['revoked', (c) => c.revokedAt],
];
const issuerColumns: Column<any>[] = [
  ['id', (i) => i.id],
  ['name', (i) => i.name],
  ['issuer', (i) => i.issuer],
  ['audience', (i) => i.audience],
  ['jwks url', (i) => i.jwksUrl],
  ['algorithms', (i) => i.algorithms.join(' ')],
  ['tenant claim', (i) => i.tenantClaim],
  ['scopes', (i) => i.scopes.join(' ')],
];

export const credentialCommands: Command[] = [
  {
    name: 'auth whoami',
    summary: 'Show the admin credential in use: its name, scopes and tenant',
    request: () => ({ method: 'GET', path: '/whoami' }),
    show: (b) => record(b, [['type', (x) => x.actor.type], ['name', (x) => x.actor.name], ['id', (x) => x.actor.id], ['scopes', (x) => x.scopes.join(' ')], ['tenant', (x) => x.tenant ?? 'all']]),
  },
  {
    name: 'admin-keys create',
    summary: 'Create a named admin key (printed once)',
    args: ['name'],
    options: {
      scopes: { type: 'string', multiple: true, required: true, value: '<scope,…>', description: 'all, tenants:read, tenants:write, tokens, webhooks, policy, audit, admin-keys' },
      tenant: { type: 'string', description: 'bind the key to this one tenant' },
    },
    request: (i) => ({ method: 'POST', path: '/admin-keys', body: defined({ name: i.args.name!, scopes: list(i, 'scopes'), tenant: str(i, 'tenant') }) }),
    show: (b) => record(b, adminKeyColumns.slice(0, 5)) + shownOnce('Admin key', b.key),
  },
  {
    name: 'admin-keys list',
    summary: 'List admin keys (never the keys themselves)',
    request: () => ({ method: 'GET', path: '/admin-keys' }),
    show: (b) => table(b.keys, adminKeyColumns),
  },
  {
    name: 'admin-keys revoke',
    summary: 'Revoke an admin key',
    args: ['id'],
    request: (i) => ({ method: 'DELETE', path: path`/admin-keys/${i.args.id!}` }),
    show: (_b, i) => `revoked admin key ${i.args.id}\n`,
  },
  {
    name: 'oauth-clients create',
    summary: 'Create an OAuth client for the client credentials grant (secret printed once)',
    args: ['tenant'],
    options: {
      name: { type: 'string', description: 'what it is for, e.g. Entra ID' },
      scopes: { type: 'string', multiple: true, value: '<scope,…>', description: 'scim:read and/or scim:write (default both)' },
      'expires-at': { type: 'string', value: '<time>', description: 'ISO 8601 time after which it gets no tokens' },
    },
    request: (i) => ({ method: 'POST', path: path`/tenants/${i.args.tenant!}/oauth-clients`, body: defined({ name: str(i, 'name'), scopes: list(i, 'scopes'), expiresAt: str(i, 'expires-at') }) }),
    show: (b) => record(b, [...clientColumns.slice(0, 5), ['token endpoint', (c) => c.tokenEndpoint]]) + shownOnce('Client secret', b.clientSecret),
  },
  {
    name: 'oauth-clients list',
    summary: "List a tenant's OAuth clients (never their secrets)",
    args: ['tenant'],
    request: (i) => ({ method: 'GET', path: path`/tenants/${i.args.tenant!}/oauth-clients` }),
    show: (b) => table(b.clients, clientColumns),
  },
  {
    name: 'oauth-clients revoke',
    summary: 'Revoke an OAuth client (its access tokens stop working too)',
    args: ['tenant', 'id'],
    request: (i) => ({ method: 'DELETE', path: path`/tenants/${i.args.tenant!}/oauth-clients/${i.args.id!}` }),
    show: (_b, i) => `revoked OAuth client ${i.args.id}\n`,
  },
  {
    name: 'oauth rotate-signing-key',
    summary: 'Sign access tokens with a new key (the old one stays valid until its tokens expire)',
    request: () => ({ method: 'POST', path: '/oauth/signing-keys/rotate' }),
    show: (b) => `signing with key ${b.kid}\n`,
  },
  {
    name: 'trusted-issuers add',
    summary: "Trust an identity provider's JWTs for a tenant",
    args: ['tenant', 'issuer'],
    options: {
      audience: { type: 'string', required: true, description: 'the aud its tokens carry' },
      'jwks-url': { type: 'string', required: true, value: '<url>', description: "the issuer's JWKS (https)" },
      name: { type: 'string', description: 'display name' },
      algorithms: { type: 'string', multiple: true, value: '<alg,…>', description: 'accepted algorithms (default RS256,ES256)' },
      'tenant-claim': { type: 'string', value: '<claim>', description: 'a claim that must equal the tenant id' },
      scopes: { type: 'string', multiple: true, value: '<scope,…>', description: 'most its tokens may do (default scim:read,scim:write)' },
    },
    request: (i) => ({
      method: 'POST',
      path: path`/tenants/${i.args.tenant!}/trusted-issuers`,
      body: defined({ issuer: i.args.issuer!, audience: str(i, 'audience'), jwksUrl: str(i, 'jwks-url'), name: str(i, 'name'), algorithms: list(i, 'algorithms'), tenantClaim: str(i, 'tenant-claim'), scopes: list(i, 'scopes') }),
    }),
    show: (b) => record(b, issuerColumns),
  },
  {
    name: 'trusted-issuers list',
    summary: "List a tenant's trusted issuers",
    args: ['tenant'],
    request: (i) => ({ method: 'GET', path: path`/tenants/${i.args.tenant!}/trusted-issuers` }),
    show: (b) => table(b.issuers, issuerColumns),
  },
  {
    name: 'trusted-issuers remove',
    summary: 'Stop trusting an issuer',
    args: ['tenant', 'id'],
    request: (i) => ({ method: 'DELETE', path: path`/tenants/${i.args.tenant!}/trusted-issuers/${i.args.id!}` }),
    show: (_b, i) => `removed trusted issuer ${i.args.id}\n`,
  },
];
