import t from 'tap';
import { backends } from '../helpers/db.js';
import { startApp, user } from '../helpers/app.js';

for (const backend of backends) {
  t.test(`${backend}: tokens open only their own tenant`, async (t) => {
    const a = await startApp(t, backend);
    const other = await a.newTenant('initech');

    const created = await a.scim('POST', '/Users', user('bjensen@acme.com'));
    t.equal(created.status, 201);

    const get = (tenant: string, token: string | undefined, path = '/Users') =>
      a.app.inject({ method: 'GET', url: `/scim/v2/${tenant}${path}`, headers: token ? { authorization: `Bearer ${token}` } : {} });

    // Other tenant's token on acme's URL: 401, same as an unknown tenant or a wrong token.
    const cross = await get('acme', other.token);
    const unknownTenant = await get('nosuchtenant', a.token);
    const wrongToken = await get('acme', 'rst_wrongwrongwrongwrongwrongwrongwrongwrongwro');
    const missing = await get('acme', undefined);
    for (const r of [cross, unknownTenant, wrongToken, missing]) {
      t.equal(r.statusCode, 401);
      t.match(r.headers['www-authenticate'], /^Bearer realm="scim"/);
      t.match(r.headers['content-type'], /application\/scim\+json/);
      t.equal(JSON.parse(r.body).status, '401');
    }
    t.equal(JSON.parse(cross.body).detail, JSON.parse(unknownTenant.body).detail, 'nothing reveals whether a tenant exists');

    // acme's users are invisible from initech.
    const otherList = await get('initech', other.token);
    t.equal(JSON.parse(otherList.body).totalResults, 0);
    const direct = await get('initech', other.token, `/Users/${created.body.id}`);
    t.equal(direct.statusCode, 404);
    // and the same userName can exist in both tenants
    const same = await a.app.inject({
      method: 'POST',
      url: '/scim/v2/initech/Users',
      headers: { authorization: `Bearer ${other.token}`, 'content-type': 'application/scim+json' },
      payload: JSON.stringify(user('bjensen@acme.com')),
    });
    t.equal(same.statusCode, 201);

    // Other malformed authorization headers.
    const basic = await a.app.inject({ method: 'GET', url: '/scim/v2/acme/Users', headers: { authorization: 'Basic Zm9vOmJhcg==' } });
    t.equal(basic.statusCode, 401);
  });

  t.test(`${backend}: a token's use is recorded, and the token cache never outlives a revocation`, async (t) => {
    const a = await startApp(t, backend);
    const issued = await a.services.tenants.issueToken('acme', { name: 'cached' });
    const lastUsed = async () => (await a.services.tenants.listTokens('acme')).find((x) => x.id === issued.token.id)!.lastUsedAt;
    t.equal(await lastUsed(), null, 'never used yet');
    const get = () => a.app.inject({ method: 'GET', url: '/scim/v2/acme/Users', headers: { authorization: `Bearer ${issued.secret}` } });
    // The first request looks the token up and records its use; the next ones are answered from the cache.
    t.equal((await get()).statusCode, 200);
    t.type(await lastUsed(), Date, 'the first request records the last use');
    for (let i = 0; i < 3; i++) t.equal((await get()).statusCode, 200, 'answered from the token cache');
    await a.services.tenants.revokeToken('acme', issued.token.id);
    const revoked = await get();
    t.equal(revoked.statusCode, 401, 'refused at once after the revocation, cache or not');
    t.match(revoked.headers['www-authenticate'], /error="invalid_token"/);
  });

  t.test(`${backend}: expired tokens are refused`, async (t) => {
    const a = await startApp(t, backend);
    const issued = await a.services.tenants.issueToken('acme', { name: 'short', expiresAt: new Date(Date.now() + 300) });
    const ok = await a.app.inject({ method: 'GET', url: '/scim/v2/acme/Users', headers: { authorization: `Bearer ${issued.secret}` } });
    t.equal(ok.statusCode, 200);
    await new Promise((r) => setTimeout(r, 400));
    const expired = await a.app.inject({ method: 'GET', url: '/scim/v2/acme/Users', headers: { authorization: `Bearer ${issued.secret}` } });
    t.equal(expired.statusCode, 401);
  });
}
