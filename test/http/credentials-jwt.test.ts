import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
import { backends } from '../helpers/db.js';
import { startApp, user, type TestApp } from '../helpers/app.js';
import { JWKS_COOLDOWN_MS } from '../../src/services/trusted-issuers.js';

/** An identity provider's JWKS on loopback; `keys` may change (rotation), `hang` makes it never answer. */
async function jwksServer(t: { teardown(fn: () => unknown): void }) {
  const state = { keys: [] as JWK[], hits: 0, hang: false, lastAt: 0 };
  const server: Server = createServer((req, res) => {
    state.hits++;
    state.lastAt = Date.now();
    if (state.hang) return; // never answers (closed at teardown)
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: state.keys }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return { state, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks` };
}

async function signer(alg: string, kid: string) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  const sign = (claims: JWTPayload, opts: { exp?: number; iat?: number } = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT(claims).setProtectedHeader({ alg, kid }).setIssuedAt(opts.iat ?? now).setExpirationTime(opts.exp ?? now + 300).sign(privateKey);
  };
  return { jwk, sign };
}

const ISS = 'https://login.idp.test/tenant-1/v2.0';
const AUD = 'api://roster';

const scimWith = (a: TestApp, token: string, method: 'GET' | 'POST' = 'GET', path = '/Users', body?: unknown) =>
  a.app
    .inject({
      method,
      url: `/scim/v2/${a.tenant}${path}`,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/scim+json' } : {}) },
      ...(body ? { payload: JSON.stringify(body) } : {}),
    })
    .then((r) => ({ status: r.statusCode, headers: r.headers, body: JSON.parse(r.body) }));

for (const backend of backends) {
  t.test(`${backend}: JWTs of a trusted issuer, validated in full; key rotation at the IdP; unreachable JWKS fails closed`, async (t) => {
    const a = await startApp(t, backend, { JWT_CLOCK_SKEW_SECONDS: '30', TRUSTED_ISSUER_JWKS_TIMEOUT_MS: '500' });
    const idp = await jwksServer(t);
    const k1 = await signer('RS256', 'k1');
    idp.state.keys = [k1.jwk];
    const created = await a.admin('POST', `/tenants/${a.tenant}/trusted-issuers`, { name: 'Corp IdP', issuer: ISS, audience: AUD, jwksUrl: idp.url, algorithms: ['RS256'], tenantClaim: 'roster_tenant' });
    t.equal(created.status, 201);
    t.equal((await a.admin('POST', `/tenants/${a.tenant}/trusted-issuers`, { issuer: ISS, audience: AUD, jwksUrl: idp.url })).status, 409);
    t.equal((await a.admin('POST', `/tenants/${a.tenant}/trusted-issuers`, { issuer: 'x', audience: AUD, jwksUrl: 'http://idp.example/jwks' })).status, 400, 'http only on loopback');
    t.equal((await a.admin('POST', `/tenants/${a.tenant}/trusted-issuers`, { issuer: 'y', audience: AUD, jwksUrl: idp.url, algorithms: ['HS256'] })).status, 400, 'no HMAC');
    const claims = { iss: ISS, aud: AUD, sub: 'provisioning-app', roster_tenant: a.tenant };

    const good = await scimWith(a, await k1.sign(claims), 'POST', '/Users', user('ada'));
    t.equal(good.status, 201, 'a valid token is accepted');
    const events = await a.admin('GET', `/tenants/${a.tenant}/events?types=user.created`);
    t.same(events.body.events[0].data.actor, { type: 'jwtSubject', id: `${created.body.id}:provisioning-app`, name: 'provisioning-app (Corp IdP)' }, 'the event names the subject');

    const now = Math.floor(Date.now() / 1000);
    const refused: [string, string][] = [
      ['wrong aud', await k1.sign({ ...claims, aud: 'api://other' })],
      ['wrong iss', await k1.sign({ ...claims, iss: 'https://evil.test' })],
      ['other tenant in the claim', await k1.sign({ ...claims, roster_tenant: 'initech' })],
      ['no tenant claim', await k1.sign({ iss: ISS, aud: AUD, sub: 'x' })],
      ['expired beyond the skew', await k1.sign(claims, { exp: now - 31, iat: now - 600 })],
      ['issued in the future', await k1.sign(claims, { iat: now + 120, exp: now + 600 })],
      ['unsigned (alg none)', `${Buffer.from(JSON.stringify({ alg: 'none', kid: 'k1' })).toString('base64url')}.${Buffer.from(JSON.stringify({ ...claims, exp: now + 300 })).toString('base64url')}.`],
      ['an algorithm not allowed', await (await signer('ES256', 'k1')).sign(claims)],
      ['a key not in the JWKS', await (await signer('RS256', 'k9')).sign(claims)],
    ];
    for (const [what, token] of refused) {
      const r = await scimWith(a, token);
      t.equal(r.status, 401, what);
      t.match(r.headers['www-authenticate'], /^Bearer realm="scim"/);
    }
    t.equal((await scimWith(a, await k1.sign(claims, { exp: now - 10, iat: now - 600 }))).status, 200, 'expired within the skew');

    // Scopes from the token's scope claim.
    const ro = await k1.sign({ ...claims, scope: 'scim:read openid' });
    t.equal((await scimWith(a, ro)).status, 200);
    t.equal((await scimWith(a, ro, 'POST', '/Users', user('bob'))).status, 403);

    // Key rotation at the IdP: a new kid is fetched (after the cooldown since the last fetch).
    const k2 = await signer('RS256', 'k2');
    idp.state.keys = [k1.jwk, k2.jwk];
    // (An unknown kid above may have fetched again: the cooldown runs from the last fetch.)
    await new Promise((r) => setTimeout(r, Math.max(0, idp.state.lastAt + JWKS_COOLDOWN_MS + 200 - Date.now())));
    const hits = idp.state.hits;
    t.equal((await scimWith(a, await k2.sign(claims))).status, 200, 'a token signed with the new key');
    t.equal(idp.state.hits, hits + 1, 'one fetch of the JWKS');
    t.equal((await scimWith(a, await k1.sign(claims))).status, 200, 'and the old key still works while published');

    // An unreachable JWKS (never answers): refused, saying why.
    const down = await jwksServer(t);
    down.state.hang = true;
    const tenant2 = await a.newTenant('initech');
    await a.admin('POST', `/tenants/initech/trusted-issuers`, { issuer: ISS, audience: AUD, jwksUrl: down.url });
    const started = Date.now();
    const r = await a.app.inject({ method: 'GET', url: '/scim/v2/initech/Users', headers: { authorization: `Bearer ${await k1.sign({ ...claims, roster_tenant: 'initech' })}` } });
    t.equal(r.statusCode, 401, 'fail closed');
    t.match(JSON.parse(r.body).detail, /JWKS\) could not be fetched/);
    t.ok(Date.now() - started < 3000, 'within the JWKS timeout');
    t.ok(tenant2);
    // A closed port: the same.
    const closed = await a.newTenant('globex');
    await a.admin('POST', `/tenants/globex/trusted-issuers`, { issuer: ISS, audience: AUD, jwksUrl: 'http://127.0.0.1:1/jwks' });
    const r2 = await a.app.inject({ method: 'GET', url: '/scim/v2/globex/Users', headers: { authorization: `Bearer ${await k1.sign(claims)}` } });
    t.equal(r2.statusCode, 401);
    t.match(JSON.parse(r2.body).detail, /could not be fetched/);
    t.ok(closed);

    // Deleting the issuer stops its tokens.
    t.equal((await a.admin('DELETE', `/tenants/${a.tenant}/trusted-issuers/${created.body.id}`)).status, 204);
    t.equal((await scimWith(a, await k1.sign(claims))).status, 401);
  });
}
