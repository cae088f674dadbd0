/**
 * Signing in to the console through HTTP on both backends (the browser test
 * in test/console drives the pages): the admin token and named admin keys
 * with scope "all" are accepted, limited keys and wrong credentials are not,
 * the sign-in form needs its CSRF token, and revoking a key ends its sessions.
 */
import t from 'tap';
import { ADMIN_TOKEN, startApp } from '../helpers/app.js';
import { backends } from '../helpers/db.js';

const cookiesOf = (setCookie: string | string[] | undefined) => [setCookie ?? []].flat().map((c) => c.split(';')[0]).join('; ');

for (const backend of backends) {
  t.test(backend, async (t) => {
    const a = await startApp(t, backend);
    const signIn = async (token: string, withCsrf = true) => {
      const form = await a.app.inject({ method: 'GET', url: '/console/login' });
      const csrf = /name="_csrf" value="([^"]+)"/.exec(form.body)![1]!;
      const r = await a.app.inject({
        method: 'POST',
        url: '/console/login',
        headers: { cookie: cookiesOf(form.headers['set-cookie']), 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ ...(withCsrf ? { _csrf: csrf } : {}), token }).toString(),
      });
      return { status: r.statusCode, body: r.body, cookie: cookiesOf(r.headers['set-cookie']) };
    };
    const home = (cookie: string) => a.app.inject({ method: 'GET', url: '/console', headers: { cookie } });

    t.equal((await home('')).statusCode, 303, 'signed out: to the sign-in page');
    const admin = await signIn(ADMIN_TOKEN);
    t.equal(admin.status, 303);
    t.match(admin.cookie, /roster_console=/);
    t.equal((await home(admin.cookie)).statusCode, 200);
    t.equal((await signIn(ADMIN_TOKEN, false)).status, 403, 'the sign-in form needs its CSRF token');
    const wrong = await signIn('rsak_not-a-key');
    t.equal(wrong.status, 401);
    t.match(wrong.body, /not accepted/);

    const full = await a.admin('POST', '/admin-keys', { name: 'support', scopes: ['all'] });
    t.equal(full.status, 201);
    const limited = await a.admin('POST', '/admin-keys', { name: 'reader', scopes: ['tenants:read'] });
    const bound = await a.admin('POST', '/admin-keys', { name: 'acme only', scopes: ['all'], tenant: a.tenant });
    for (const k of [limited, bound]) {
      const r = await signIn(k.body.key);
      t.equal(r.status, 403, `${k.body.name}: limited keys do not open the console`);
      t.match(r.body, /console needs the admin token or a key with scope/);
    }
    const support = await signIn(full.body.key);
    t.equal(support.status, 303, 'a key with scope all signs in');
    t.equal((await home(support.cookie)).statusCode, 200);
    const created = await a.app.inject({ method: 'GET', url: `/console/tenants/${a.tenant}`, headers: { cookie: support.cookie } });
    t.equal(created.statusCode, 200);
    t.equal((await a.admin('DELETE', `/admin-keys/${full.body.id}`)).status, 204);
    t.equal((await home(support.cookie)).statusCode, 303, 'revoking the key ends its session');
    t.equal((await home(admin.cookie)).statusCode, 200, "the admin token's session goes on");
  });
}
