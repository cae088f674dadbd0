/**
 * Setup links through HTTP on both backends (the browser test in
 * test/console covers the page itself): the admin API's validation, a link
 * that opens once and binds to that client, the one token it may generate,
 * expiry and revocation, CSRF on the page's only change, and the status the
 * connection panel polls.
 */
import t from 'tap';
import { sql } from 'kysely';
import { SETUP_LINK_MAX_DAYS } from '../../src/services/setup-links.js';
import { startApp, user } from '../helpers/app.js';
import { backends } from '../helpers/db.js';

/** The cookies a response sets, as a Cookie header. */
const cookiesOf = (setCookie: string | string[] | undefined) =>
  [setCookie ?? []].flat().map((c) => c.split(';')[0]).join('; ');

for (const backend of backends) {
  t.test(backend, async (t) => {
    const a = await startApp(t, backend);
    const get = (url: string, cookie = '') => a.app.inject({ method: 'GET', url, headers: cookie ? { cookie } : {} });

    for (const [body, status] of [[{ expiresInDays: 0 }, 400], [{ expiresInDays: SETUP_LINK_MAX_DAYS + 1 }, 400], [{ extra: 1 }, 400]] as const) {
      t.equal((await a.admin('POST', `/tenants/${a.tenant}/setup-links`, body)).status, status, JSON.stringify(body));
    }
    t.equal((await a.admin('POST', '/tenants/nobody/setup-links', {})).status, 404);
    const created = await a.admin('POST', `/tenants/${a.tenant}/setup-links`, {});
    t.equal(created.status, 201);
    t.match(created.body, { url: /^https:\/\/roster\.test\/setup\/rsl_[\w-]{43}$/, openedAt: null, tokenGenerated: false });
    t.ok(Math.abs(new Date(created.body.expiresAt).getTime() - Date.now() - 7 * 86_400_000) < 60_000, 'seven days by default');
    const listed = await a.admin('GET', `/tenants/${a.tenant}/setup-links`);
    t.equal(listed.body.setupLinks.length, 1);
    t.notOk('url' in listed.body.setupLinks[0], 'the URL is shown once');
    const stored = await sql<{ n: number }>`select count(*)::int as n from setup_links where token_hash = sha256(convert_to(${new URL(created.body.url).pathname.slice(7)}, 'UTF8'))`.execute(a.database.db);
    t.equal(stored.rows[0]!.n, 1, 'only the hash is stored');

    const path = new URL(created.body.url).pathname;
    t.equal((await get('/setup')).statusCode, 401, 'no link opened: nothing to show');
    // A GET (what a mail scanner does) does not use the link up; the Continue button's POST does.
    const scanned = await get(path);
    t.equal(scanned.statusCode, 200);
    t.match(scanned.body, /Continue/);
    t.equal((await get(path)).statusCode, 200, 'still unused');
    t.equal((await a.app.inject({ method: 'POST', url: path, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: '' })).statusCode, 403, 'opening needs the CSRF token');
    const continueCsrf = /name="_csrf" value="([^"]+)"/.exec(scanned.body)![1]!;
    const opened = await a.app.inject({
      method: 'POST',
      url: path,
      headers: { cookie: cookiesOf(scanned.headers['set-cookie']), 'content-type': 'application/x-www-form-urlencoded' },
      payload: `_csrf=${encodeURIComponent(continueCsrf)}`,
    });
    t.equal(opened.statusCode, 303);
    t.equal(opened.headers.location, '/setup');
    const cookie = cookiesOf(opened.headers['set-cookie']);
    t.match(String(opened.headers['set-cookie']), /roster_setup=.*HttpOnly.*SameSite=Lax/i);
    const pageRes = await get('/setup?idp=okta', cookie);
    t.equal(pageRes.statusCode, 200);
    t.match(pageRes.body, /SCIM connector base URL/, "Okta's names for the values");
    t.match(pageRes.headers['content-security-policy'], /script-src 'self'/);
    t.equal((await get(path, cookie)).statusCode, 303, 'the same client may open it again');
    const stranger = await get(path);
    t.equal(stranger.statusCode, 410, 'anyone else: used');
    t.match(stranger.body, /already opened/);
    t.equal((await get('/setup/rsl_not-a-link')).statusCode, 404);

    // Status before a connection; then the token, CSRF-protected.
    t.same(JSON.parse((await get('/setup/status', cookie)).body), { connected: false, connectedAt: null, errors: [] });
    const noCsrf = await a.app.inject({ method: 'POST', url: '/setup/token', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: '' });
    t.equal(noCsrf.statusCode, 403, 'CSRF');
    const form = /name="_csrf" value="([^"]+)"/.exec(pageRes.body)![1]!;
    const withCsrf = (c: string) => a.app.inject({ method: 'POST', url: '/setup/token', headers: { cookie: `${cookie}; ${c}`, 'content-type': 'application/x-www-form-urlencoded' }, payload: `_csrf=${encodeURIComponent(form)}` });
    const csrfCookie = cookiesOf(pageRes.headers['set-cookie']);
    const issued = await withCsrf(csrfCookie);
    t.equal(issued.statusCode, 200);
    const token = /value="(rst_[^"]+)"/.exec(issued.body)?.[1];
    t.ok(token, 'the token, once');
    t.equal((await withCsrf(csrfCookie)).statusCode, 409, 'one token per link');
    t.equal((await a.app.inject({ method: 'POST', url: `/scim/v2/${a.tenant}/Users`, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' }, payload: JSON.stringify(user('setup@example.com')) })).statusCode, 201);
    await a.app.inject({ method: 'POST', url: `/scim/v2/${a.tenant}/Users`, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' }, payload: JSON.stringify(user('setup@example.com')) });
    // The first success is recorded after the response (src/services/status.ts); the page polls, so does the test.
    let status = JSON.parse((await get('/setup/status', cookie)).body);
    for (let i = 0; !status.connected && i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = JSON.parse((await get('/setup/status', cookie)).body);
    }
    t.equal(status.connected, true, 'the panel turns green');
    t.match(status.errors[0], /POST \/Users was refused \(409\): userName "setup@example.com" is already taken/, 'refusals in plain words');
    t.match((await a.admin('GET', `/tenants/${a.tenant}/setup-links`)).body.setupLinks[0], { tokenGenerated: true, idp: 'okta' });

    // Revoked and expired links stop working, also for the client that opened them.
    t.equal((await a.admin('DELETE', `/tenants/${a.tenant}/setup-links/${created.body.id}`)).status, 200);
    t.equal((await get('/setup', cookie)).statusCode, 410, 'revoked');
    t.equal((await a.admin('DELETE', `/tenants/${a.tenant}/setup-links/00000000-0000-4000-8000-000000000000`)).status, 404);
    const expiring = await a.admin('POST', `/tenants/${a.tenant}/setup-links`, { expiresInDays: 0.5 });
    await sql`update setup_links set expires_at = now() - interval '1 second' where id = ${expiring.body.id}`.execute(a.database.db);
    const expired = await get(new URL(expiring.body.url).pathname);
    t.equal(expired.statusCode, 410);
    t.match(expired.body, /expired/);
  });
}
