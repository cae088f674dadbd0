import t from 'tap';
import { backends } from '../helpers/db.js';
import { startApp, user, type TestApp } from '../helpers/app.js';
import { SCIM_SCOPES } from '../../src/services/scopes.js';

const req = (a: TestApp, token: string, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown) =>
  a.app.inject({
    method,
    url: `/scim/v2/${a.tenant}${path}`,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }) },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });

for (const backend of backends) {
  t.test(`${backend}: a read-only SCIM token reads and searches, and gets 403 insufficient_scope on every write`, async (t) => {
    const a = await startApp(t, backend);
    const created = await a.scim('POST', '/Users', user('ada'));
    t.equal(created.status, 201);
    const group = await a.scim('POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'eng' });
    t.equal(group.status, 201);

    const issued = await a.admin('POST', `/tenants/${a.tenant}/tokens`, { name: 'audit', scopes: ['scim:read'] });
    t.equal(issued.status, 201);
    t.same(issued.body.scopes, ['scim:read']);
    const ro = issued.body.token as string;
    const listed = await a.admin('GET', `/tenants/${a.tenant}/tokens`);
    t.same(listed.body.tokens.find((x: any) => x.id === issued.body.id).scopes, ['scim:read']);
    t.same(listed.body.tokens.find((x: any) => x.name === 'test').scopes, [...SCIM_SCOPES], 'a token issued without scopes keeps full access');

    for (const [method, path, body] of [
      ['GET', '/Users'],
      ['GET', `/Users/${created.body.id}`],
      ['GET', '/Groups'],
      ['GET', '/ServiceProviderConfig'],
      ['POST', '/Users/.search', { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter: 'userName eq "ada"' }],
      ['POST', '/.search', { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'] }],
    ] as const) {
      const r = await req(a, ro, method, path, body);
      t.equal(r.statusCode, 200, `${method} ${path} with scim:read`);
    }
    const writes = [
      ['POST', '/Users', user('bob')],
      ['PUT', `/Users/${created.body.id}`, user('ada', { displayName: 'Ada' })],
      ['PATCH', `/Users/${created.body.id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: false }] }],
      ['DELETE', `/Users/${created.body.id}`],
      ['POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'x' }],
      ['DELETE', `/Groups/${group.body.id}`],
      ['POST', '/Bulk', { schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'], Operations: [{ method: 'POST', path: '/Users', bulkId: 'b', data: user('carol') }] }],
    ] as const;
    for (const [method, path, body] of writes) {
      const r = await req(a, ro, method, path, body);
      t.equal(r.statusCode, 403, `${method} ${path} refused`);
      t.equal(r.headers['www-authenticate'], 'Bearer realm="scim", error="insufficient_scope", scope="scim:write"', 'RFC 6750 §3.1 challenge');
      t.equal(JSON.parse(r.body).status, '403');
    }
    // Nothing changed.
    const users = await a.scim('GET', '/Users');
    t.same(users.body.Resources.map((u: any) => [u.userName, u.active ?? true, u.displayName]), [['ada', true, undefined]]);
    t.equal((await a.scim('GET', '/Groups')).body.totalResults, 1);

    // A write-scoped token does both (scim:write includes scim:read).
    const rw = (await a.admin('POST', `/tenants/${a.tenant}/tokens`, { scopes: ['scim:write'] })).body.token as string;
    t.equal((await req(a, rw, 'POST', '/Users', user('dan'))).statusCode, 201);
    t.equal((await req(a, rw, 'GET', '/Users')).statusCode, 200);

    // Unknown scopes are refused at issue time.
    const bad = await a.admin('POST', `/tenants/${a.tenant}/tokens`, { scopes: ['scim:admin'] });
    t.equal(bad.status, 400);
  });
}
