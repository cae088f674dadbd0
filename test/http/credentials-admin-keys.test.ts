import t from 'tap';
import { backends } from '../helpers/db.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { ADMIN_ROUTE_SCOPES, TENANT_KEY_ROUTES } from '../../src/http/admin/scopes.js';

const as = (a: TestApp, key: string, method: string, path: string, body?: unknown) =>
  a.app
    .inject({
      method: method as 'GET',
      url: `/admin/v1${path}`,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    })
    .then((r) => ({ status: r.statusCode, headers: r.headers, body: r.body ? JSON.parse(r.body) : undefined }));

const uuid = '00000000-0000-4000-8000-000000000000';

for (const backend of backends) {
  t.test(`${backend}: every admin route has a scope, and a key without it gets 403 there`, async (t) => {
    const a = await startApp(t, backend);
    const spec = a.app.swagger() as { paths: Record<string, Record<string, unknown>> };
    const routes = Object.entries(spec.paths).flatMap(([p, ops]) =>
      p.startsWith('/admin/v1/') ? Object.keys(ops).map((m) => `${m.toUpperCase()} ${p.slice('/admin/v1'.length).replace(/\{(\w+)\}/g, ':$1')}`) : [],
    );
    t.ok(routes.length >= 45, `${routes.length} admin routes`);
    t.same(routes.filter((r) => !(r in ADMIN_ROUTE_SCOPES)), [], 'every route of the app is in the scope table');
    t.same(Object.keys(ADMIN_ROUTE_SCOPES).filter((r) => !routes.includes(r)), [], 'and the table names no route that does not exist');

    // A key with one scope: 403 on every route needing another, never on its own.
    const key = (await a.admin('POST', '/admin-keys', { name: 'auditor', scopes: ['audit'] })).body.key as string;
    for (const route of routes) {
      const [method, pattern] = route.split(' ') as [string, string];
      const path = pattern.replace(':tenant', a.tenant).replace(/:(\w+)/g, uuid);
      const r = await as(a, key, method, path, ['POST', 'PUT', 'PATCH'].includes(method) ? {} : undefined);
      const scope = ADMIN_ROUTE_SCOPES[route];
      if (scope === 'audit' || scope === 'any') t.not(r.status, 403, `${route} is open to scope audit`);
      else {
        t.equal(r.status, 403, `${route} needs ${scope}`);
        t.equal(r.headers['www-authenticate'], `Bearer realm="roster-admin", error="insufficient_scope", scope="${scope}"`);
      }
    }
  });

  t.test(`${backend}: named admin keys: shown once, last use, revocation, no escalation, the audit names the key`, async (t) => {
    const a = await startApp(t, backend);
    const created = await a.admin('POST', '/admin-keys', { name: 'provisioner', scopes: ['tokens', 'tenants:read'] });
    t.equal(created.status, 201);
    t.match(created.body, { name: 'provisioner', scopes: ['tenants:read', 'tokens'], tenant: null, lastUsedAt: null, revokedAt: null });
    const key = created.body.key as string;
    t.match(key, /^rsak_/);
    const listed = await a.admin('GET', '/admin-keys');
    t.notOk(JSON.stringify(listed.body).includes(key), 'the key is never returned again');

    const who = await as(a, key, 'GET', '/whoami');
    t.same(who.body, { actor: { type: 'adminKey', id: created.body.id, name: 'provisioner' }, scopes: ['tenants:read', 'tokens'], tenant: null });
    t.type((await a.admin('GET', '/admin-keys')).body.keys[0].lastUsedAt, 'string', 'the use is recorded');

    const issued = await as(a, key, 'POST', `/tenants/${a.tenant}/tokens`, { name: 'okta' });
    t.equal(issued.status, 201);
    const trail = await a.admin('GET', `/tenants/${a.tenant}/audit?action=token.issued`);
    t.same(trail.body.entries[0].actor, { type: 'adminKey', id: created.body.id, name: 'provisioner' }, 'the audit trail names the key');
    t.equal((await as(a, key, 'PATCH', `/tenants/${a.tenant}`, { name: 'x' })).status, 403, 'tenants:read is not tenants:write');

    // A key that manages keys cannot hand out more than it has.
    const manager = (await a.admin('POST', '/admin-keys', { name: 'mgr', scopes: ['admin-keys', 'webhooks'] })).body.key as string;
    t.equal((await as(a, manager, 'POST', '/admin-keys', { name: 'up', scopes: ['all'] })).status, 403);
    t.equal((await as(a, manager, 'POST', '/admin-keys', { name: 'down', scopes: ['webhooks'] })).status, 201);
    t.equal((await a.admin('POST', '/admin-keys', { name: 'bad', scopes: ['root'] })).status, 400);

    // Revocation: at once; a revoked key, an unknown key and garbage get the same 401.
    t.equal((await a.admin('DELETE', `/admin-keys/${created.body.id}`)).status, 204);
    const after = await as(a, key, 'GET', '/whoami');
    const unknown = await as(a, 'rsak_' + 'x'.repeat(43), 'GET', '/whoami');
    t.equal(after.status, 401);
    t.same(after.body, unknown.body, 'a revoked key looks like one that never existed');
    t.type((await a.admin('GET', '/admin-keys')).body.keys.find((k: any) => k.id === created.body.id).revokedAt, 'string');
    const revokedTrail = await a.admin('GET', '/audit?action=admin_key.revoked');
    t.equal(revokedTrail.body.entries[0].target.id, created.body.id);
    t.equal((await a.admin('DELETE', `/admin-keys/${uuid}`)).status, 404);
  });

  t.test(`${backend}: a key bound to a tenant sees that tenant only`, async (t) => {
    const a = await startApp(t, backend);
    await a.newTenant('initech');
    const created = await a.admin('POST', '/admin-keys', { name: 'acme automation', scopes: ['all'], tenant: a.tenant });
    t.equal(created.status, 201);
    const key = created.body.key as string;
    t.equal((await as(a, key, 'GET', `/tenants/${a.tenant}`)).status, 200);
    t.equal((await as(a, key, 'GET', `/tenants/${a.tenant}/tokens`)).status, 200);
    for (const [method, path] of [
      ['GET', '/tenants/initech'],
      ['GET', '/tenants/initech/tokens'],
      ['DELETE', '/tenants/initech'],
      ['GET', '/tenants/initech/audit'],
      ['GET', '/tenants/nosuch'],
    ] as const) {
      const r = await as(a, key, method, path);
      t.equal(r.status, 404, `${method} ${path}`);
    }
    const initech = (await as(a, key, 'GET', '/tenants/initech')).body.detail as string;
    t.equal(initech.replace('initech', 'X'), ((await as(a, key, 'GET', '/tenants/nosuch')).body.detail as string).replace('nosuch', 'X'), 'nothing tells another tenant from none');
    t.same((await as(a, key, 'GET', '/tenants')).body.tenants.map((x: any) => x.id), [a.tenant], 'the list shows its own tenant only');
    t.same((await as(a, key, 'GET', '/tenants?after=zzz')).body.tenants, []);
    for (const route of Object.keys(ADMIN_ROUTE_SCOPES).filter((r) => !r.includes(':tenant') && !TENANT_KEY_ROUTES.has(r))) {
      const [method, pattern] = route.split(' ') as [string, string];
      const r = await as(a, key, method, pattern.replace(/:(\w+)/g, uuid), method === 'GET' || method === 'DELETE' ? undefined : {});
      t.equal(r.status, 403, `${route} spans tenants`);
    }
    t.equal((await as(a, key, 'POST', '/admin-keys', { name: 'other', scopes: ['tokens'], tenant: 'initech' })).status, 403, 'no key for another tenant');
    const own = await as(a, key, 'POST', '/admin-keys', { name: 'sub', scopes: ['tokens'] });
    t.equal(own.body.tenant, a.tenant, 'a key it creates is bound to its tenant');
    t.same((await as(a, key, 'GET', '/admin-keys')).body.keys.map((k: any) => k.name).sort(), ['acme automation', 'sub']);
  });
}

t.test('failed authentication is limited per address for every credential type', async (t) => {
  const a = await startApp(t, backends[0]!, { RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: '60', RATE_LIMIT_AUTH_FAILURES_BURST: '2' });
  const jwt = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from('{"iss":"https://nobody.test","sub":"x"}').toString('base64url')}.c2ln`;
  for (const [what, send] of [
    ['admin key', (ip: string) => a.app.inject({ method: 'GET', url: '/admin/v1/whoami', remoteAddress: ip, headers: { authorization: 'Bearer rsak_wrongwrongwrongwrongwrongwrongwrongwrong123' } })],
    ['ADMIN_TOKEN', (ip: string) => a.app.inject({ method: 'GET', url: '/admin/v1/whoami', remoteAddress: ip, headers: { authorization: 'Bearer not-the-admin-token-0123' } })],
    ['SCIM token', (ip: string) => a.app.inject({ method: 'GET', url: `/scim/v2/${a.tenant}/Users`, remoteAddress: ip, headers: { authorization: 'Bearer rst_wrong' } })],
    ['JWT', (ip: string) => a.app.inject({ method: 'GET', url: `/scim/v2/${a.tenant}/Users`, remoteAddress: ip, headers: { authorization: `Bearer ${jwt}` } })],
  ] as const) {
    const ip = `10.0.0.${what.length}`;
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await send(ip)).statusCode);
    t.same(statuses, [401, 401, 429, 429], what);
  }
  // The good credential from a throttled address still works once known (an admin key looked up before).
  const key = (await a.admin('POST', '/admin-keys', { name: 'k', scopes: ['audit'] })).body.key as string;
  t.equal((await a.app.inject({ method: 'GET', url: '/admin/v1/whoami', remoteAddress: '10.0.1.1', headers: { authorization: `Bearer ${key}` } })).statusCode, 200);
});
