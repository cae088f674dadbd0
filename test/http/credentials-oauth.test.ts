import t from 'tap';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { backends } from '../helpers/db.js';
import { startApp, user, type TestApp } from '../helpers/app.js';

const form = (o: Record<string, string>) => new URLSearchParams(o).toString();
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

async function tokenRequest(a: TestApp, body: Record<string, string>, headers: Record<string, string> = {}) {
  const r = await a.app.inject({ method: 'POST', url: '/oauth/token', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, payload: form(body) });
  return { status: r.statusCode, headers: r.headers, body: JSON.parse(r.body) };
}

const scimWith = (a: TestApp, token: string, method: 'GET' | 'POST' = 'GET', path = '/Users', body?: unknown) =>
  a.app.inject({
    method,
    url: `/scim/v2/${a.tenant}${path}`,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/scim+json' } : {}) },
    ...(body ? { payload: JSON.stringify(body) } : {}),
  });

for (const backend of backends) {
  t.test(`${backend}: OAuth client credentials: both auth methods, errors, scopes, SCIM use, revocation`, async (t) => {
    const a = await startApp(t, backend);
    const created = await a.admin('POST', `/tenants/${a.tenant}/oauth-clients`, { name: 'Entra ID' });
    t.equal(created.status, 201);
    const { clientId, clientSecret } = created.body;
    t.match(clientId, /^rsc_/);
    t.equal(created.body.tokenEndpoint, 'https://roster.test/oauth/token');
    t.notOk(JSON.stringify((await a.admin('GET', `/tenants/${a.tenant}/oauth-clients`)).body).includes(clientSecret), 'the secret is shown once');

    const viaBasic = await tokenRequest(a, { grant_type: 'client_credentials' }, { authorization: basic(clientId, clientSecret) });
    t.equal(viaBasic.status, 200);
    t.equal(viaBasic.headers['cache-control'], 'no-store');
    t.match(viaBasic.body, { token_type: 'Bearer', expires_in: 3600, scope: 'scim:read scim:write' });
    const viaPost = await tokenRequest(a, { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: 'scim:read' });
    t.equal(viaPost.status, 200);
    t.equal(viaPost.body.scope, 'scim:read');

    // The token is a JWT verifiable with the published JWKS.
    const jwks = (await a.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
    const { payload, protectedHeader } = await jwtVerify(viaBasic.body.access_token, createLocalJWKSet(jwks), { issuer: 'https://roster.test', audience: `https://roster.test/scim/v2/${a.tenant}` });
    t.equal(payload.sub, clientId);
    t.equal(protectedHeader.typ, 'at+jwt');
    const meta = (await a.app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })).json();
    t.match(meta, { issuer: 'https://roster.test', token_endpoint: 'https://roster.test/oauth/token', jwks_uri: 'https://roster.test/.well-known/jwks.json', grant_types_supported: ['client_credentials'], token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'] });

    // Used at SCIM: writes with the full token, reads only with the scim:read one; events name the client.
    t.equal((await scimWith(a, viaBasic.body.access_token, 'POST', '/Users', user('ada'))).statusCode, 201);
    t.equal((await scimWith(a, viaPost.body.access_token)).statusCode, 200);
    const ro = await scimWith(a, viaPost.body.access_token, 'POST', '/Users', user('bob'));
    t.equal(ro.statusCode, 403);
    t.match(ro.headers['www-authenticate'], /error="insufficient_scope"/);
    const events = await a.admin('GET', `/tenants/${a.tenant}/events?types=user.created`);
    t.same(events.body.events[0].data.actor, { type: 'oauthClient', id: created.body.id, name: 'Entra ID' }, 'the event names the OAuth client');
    // Not for another tenant.
    const other = await a.newTenant('initech');
    const cross = await a.app.inject({ method: 'GET', url: `/scim/v2/${other.tenant}/Users`, headers: { authorization: `Bearer ${viaBasic.body.access_token}` } });
    t.equal(cross.statusCode, 401);

    // RFC 6749 §5.2 errors.
    const wrong = await tokenRequest(a, { grant_type: 'client_credentials' }, { authorization: basic(clientId, 'rscs_wrong') });
    t.equal(wrong.status, 401);
    t.equal(wrong.body.error, 'invalid_client');
    t.match(wrong.headers['www-authenticate'], /^Basic /);
    const unknown = await tokenRequest(a, { grant_type: 'client_credentials', client_id: 'rsc_nosuch', client_secret: 'x' });
    t.same(unknown.body, wrong.body, 'an unknown client looks like a wrong secret');
    t.equal((await tokenRequest(a, { grant_type: 'password', client_id: clientId, client_secret: clientSecret })).body.error, 'unsupported_grant_type');
    t.equal((await tokenRequest(a, { client_id: clientId, client_secret: clientSecret })).body.error, 'invalid_request');
    t.equal((await tokenRequest(a, { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: 'scim:admin' })).body.error, 'invalid_scope');
    const json = await a.app.inject({ method: 'POST', url: '/oauth/token', headers: { 'content-type': 'application/json' }, payload: '{}' });
    t.equal(json.statusCode, 400);
    t.equal(json.json().error, 'invalid_request');
    const twice = await a.app.inject({ method: 'POST', url: '/oauth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=client_credentials&grant_type=client_credentials' });
    t.equal(twice.json().error, 'invalid_request');

    // A read-only client cannot ask for more.
    const roClient = (await a.admin('POST', `/tenants/${a.tenant}/oauth-clients`, { name: 'auditor', scopes: ['scim:read'] })).body;
    t.equal((await tokenRequest(a, { grant_type: 'client_credentials', client_id: roClient.clientId, client_secret: roClient.clientSecret, scope: 'scim:write' })).body.error, 'invalid_scope');

    // Revocation: no new tokens, and issued ones stop working.
    t.equal((await a.admin('DELETE', `/tenants/${a.tenant}/oauth-clients/${created.body.id}`)).status, 204);
    t.equal((await tokenRequest(a, { grant_type: 'client_credentials' }, { authorization: basic(clientId, clientSecret) })).body.error, 'invalid_client');
    t.equal((await scimWith(a, viaBasic.body.access_token)).statusCode, 401);
    const trail = await a.admin('GET', `/tenants/${a.tenant}/audit?action=oauth_client.revoked`);
    t.equal(trail.body.entries[0].target.id, created.body.id);
  });

  t.test(`${backend}: expired clients and tokens; signing key rotation keeps old tokens valid`, async (t) => {
    const a = await startApp(t, backend, { OAUTH_ACCESS_TOKEN_TTL_SECONDS: '60', JWT_CLOCK_SKEW_SECONDS: '0' });
    const soon = new Date(Date.now() + 1500).toISOString();
    const short = (await a.admin('POST', `/tenants/${a.tenant}/oauth-clients`, { name: 'short', expiresAt: soon })).body;
    const ok = await tokenRequest(a, { grant_type: 'client_credentials', client_id: short.clientId, client_secret: short.clientSecret });
    t.equal(ok.status, 200);
    t.equal(ok.body.expires_in, 60);
    await new Promise((r) => setTimeout(r, 1600));
    t.equal((await tokenRequest(a, { grant_type: 'client_credentials', client_id: short.clientId, client_secret: short.clientSecret })).body.error, 'invalid_client', 'an expired client gets no token');
    t.equal((await scimWith(a, ok.body.access_token)).statusCode, 401, 'nor do its tokens work');
    t.equal((await a.admin('POST', `/tenants/${a.tenant}/oauth-clients`, { expiresAt: '2000-01-01T00:00:00Z' })).status, 400);

    const c = (await a.admin('POST', `/tenants/${a.tenant}/oauth-clients`, { name: 'main' })).body;
    const get = () => tokenRequest(a, { grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.clientSecret });
    const before = (await get()).body.access_token as string;
    const oldKid = decodeProtectedHeader(before).kid;
    const rotated = await a.admin('POST', '/oauth/signing-keys/rotate');
    t.equal(rotated.status, 200);
    t.not(rotated.body.kid, oldKid);
    const after = (await get()).body.access_token as string;
    t.equal(decodeProtectedHeader(after).kid, rotated.body.kid, 'new tokens are signed with the new key');
    t.equal((await scimWith(a, before)).statusCode, 200, 'a token signed with the old key still works');
    t.equal((await scimWith(a, after)).statusCode, 200);
    const kids = (await a.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json().keys.map((k: any) => k.kid);
    t.ok(kids.includes(oldKid) && kids.includes(rotated.body.kid), 'both keys are published');
    t.equal(new Set(kids).size, kids.length, 'with distinct kids (SET key included)');

    // A token whose claims were changed (e.g. a later exp) is refused.
    const [h, p, s] = after.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, exp: claims.exp + 3600 })).toString('base64url')}.${s}`;
    t.equal((await scimWith(a, forged)).statusCode, 401, 'a modified token is refused');
  });

  t.test(`${backend}: an access token stops working when it expires`, async (t) => {
    const a = await startApp(t, backend, { OAUTH_ACCESS_TOKEN_TTL_SECONDS: '3', JWT_CLOCK_SKEW_SECONDS: '0' });
    const c = (await a.admin('POST', `/tenants/${a.tenant}/oauth-clients`, { name: 'main' })).body;
    const issued = (await tokenRequest(a, { grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.clientSecret })).body;
    t.equal(issued.expires_in, 3);
    t.equal((await scimWith(a, issued.access_token)).statusCode, 200);
    // exp is the issuing second + 3: at most 4 s from now.
    await new Promise((r) => setTimeout(r, 4100));
    const late = await scimWith(a, issued.access_token);
    t.equal(late.statusCode, 401, 'refused after exp');
    t.match(late.headers['www-authenticate'], /error="invalid_token"/);
  });

  t.test(`${backend}: failed client authentication is rate limited`, async (t) => {
    const a = await startApp(t, backend, { RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: '60', RATE_LIMIT_AUTH_FAILURES_BURST: '3' });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await tokenRequest(a, { grant_type: 'client_credentials', client_id: 'rsc_x', client_secret: 'nope' })).status);
    t.same(statuses, [401, 401, 401, 429, 429]);
  });
}
