/**
 * The provisioning log (README "Provisioning log") through HTTP on both
 * backends: what each SCIM request leaves (who, client, path, filter, status,
 * scimType, detail, touched ids, PATCH summary, lenient notes), the filters
 * and cursor paging of GET /admin/v1/tenants/{tenant}/requests, bodies only
 * with the tenant's opt-in and without secrets, retention, and a writer that
 * drops (and counts) rather than grows when the database cannot take entries.
 */
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { RequestLog, type RequestLogEntry } from '../../src/services/request-log.js';
import { startApp, user, type TestApp } from '../helpers/app.js';
import { backends, openTestDatabase } from '../helpers/db.js';
import { group, patch } from '../helpers/groups.js';

const OKTA = { 'user-agent': 'Okta SCIM Client 1.0.0' };

async function allPages(a: TestApp, query: string, limit: number): Promise<any[]> {
  const out: any[] = [];
  let cursor: string | null = null;
  do {
    const r = await a.admin('GET', `/tenants/${a.tenant}/requests?limit=${limit}${query}${cursor ? `&cursor=${cursor}` : ''}`);
    if (r.status !== 200) throw new Error(JSON.stringify(r.body));
    t.ok(r.body.requests.length <= limit);
    out.push(...r.body.requests);
    cursor = r.body.next;
  } while (cursor);
  return out;
}

function entry(tenantId: string, at: Date, over: Partial<RequestLogEntry> = {}): RequestLogEntry {
  return {
    tenantId, at, requestId: null, actor: null, tokenPrefix: null, userAgent: null, idp: null, method: 'GET', path: '/Users',
    filter: null, status: 200, scimType: null, detail: null, durationMs: 1, resourceIds: [], summary: null, notes: [], requestBody: null, responseBody: null,
    ...over,
  };
}

for (const backend of backends) {
  t.test(`${backend}: every SCIM request of a tenant is in its provisioning log`, async (t) => {
    const a = await startApp(t, backend);
    const tokenId = (await a.services.tenants.listTokens(a.tenant))[0]!.id;

    const created = await a.scim('POST', '/Users', user('ada', { password: 'hunter2' }), OKTA);
    t.equal(created.status, 201);
    const id = created.body.id;
    await a.scim('GET', '/Users?filter=userName%20eq%20%22ada%22', undefined, OKTA);
    const patched = await a.scim('PATCH', `/Users/${id}`, patch({ op: 'Replace', path: 'active', value: 'False' }, { op: 'add', path: 'title', value: 'Countess' }, { op: 'add', path: 'title', value: 'Countess' }), OKTA);
    t.equal(patched.status, 200);
    const dup = await a.scim('POST', '/Users', user('ada'), OKTA);
    t.equal(dup.status, 409);
    const wrong = await a.app.inject({ method: 'GET', url: `/scim/v2/${a.tenant}/Users`, headers: { authorization: 'Bearer rst_NotAValidToken0123456789', ...OKTA } });
    t.equal(wrong.statusCode, 401);
    const ghost = randomUUID();
    const g = await a.scim('POST', '/Groups', group('Admins', { members: [{ value: id }, { value: ghost }] }));
    t.equal(g.status, 201);
    await a.scim('GET', '/ServiceProviderConfig?aadOptscim062020', undefined, { 'user-agent': 'Mozilla/5.0' });

    const page = await a.admin('GET', `/tenants/${a.tenant}/requests`);
    t.equal(page.status, 200);
    const log = page.body.requests;
    t.same(
      log.map((e: any) => [e.method, e.path, e.status]),
      [
        ['GET', '/ServiceProviderConfig', 200],
        ['POST', '/Groups', 201],
        ['GET', '/Users', 401],
        ['POST', '/Users', 409],
        ['PATCH', `/Users/${id}`, 200],
        ['GET', '/Users', 200],
        ['POST', '/Users', 201],
      ],
      'newest first',
    );
    t.equal(page.body.next, null);
    const [spc, grp, unauth, conflict, pat, lookup, create] = log;
    t.same(create.actor, { type: 'scimToken', id: tokenId, name: 'test' });
    t.same(create.client, { userAgent: 'Okta SCIM Client 1.0.0', idp: 'Okta' });
    t.same(create.resourceIds, [id], 'the created user');
    t.equal(create.requestBody, null, 'bodies are off by default');
    t.ok(create.durationMs > 0);
    t.ok(Date.parse(create.at) <= Date.parse(lookup.at));
    t.equal(lookup.filter, 'userName eq "ada"', 'the filter as sent');
    t.equal(pat.summary, 'PATCH 3 ops: replace active, add title ×2');
    t.same(pat.resourceIds, [id]);
    t.match(conflict, { scimType: 'uniqueness', detail: /already taken/ });
    t.match(unauth, { actor: null, tokenPrefix: 'rst_NotAVa', client: { idp: 'Okta' }, detail: /not valid/ });
    t.same(grp.resourceIds, [grp.resourceIds[0]]);
    t.match(grp.notes, [new RegExp(`skipped 1 member.*${ghost}`)], 'what lenient handling skipped');
    t.equal(spc.client.idp, 'Entra ID', 'the flag only Entra ID sends');

    // Filters.
    const q = async (query: string) => (await a.admin('GET', `/tenants/${a.tenant}/requests?${query}`)).body.requests.map((e: any) => e.status);
    t.same(await q('errors=true'), [401, 409]);
    t.same(await q('status=4xx'), [401, 409]);
    t.same(await q('status=409'), [409]);
    t.same(await q('status=2xx&errors=true'), []);
    t.same(await q(`resource=${id}`), [200, 201], 'the requests that named or changed the user');
    t.same(await q(`resource=${grp.resourceIds[0]}`), [201], 'the group that was created');
    t.same(await q(`token=${tokenId}`), [200, 201, 409, 200, 200, 201]);
    t.same(await q(`from=${encodeURIComponent(pat.at)}&to=${encodeURIComponent(grp.at)}`), [401, 409, 200]);
    t.same(await q(`to=${encodeURIComponent(create.at)}`), []);

    // Paging: pages of 2 give the same entries, in the same order.
    t.same((await allPages(a, '', 2)).map((e) => e.id), log.map((e: any) => e.id));
    t.same((await allPages(a, '&errors=true', 1)).map((e) => e.status), [401, 409]);

    for (const [query, why] of [
      ['status=dead', /status must be a class/],
      ['errors=maybe', /errors/],
      ['limit=0', /limit must be an integer from 1 to 1000/],
      ['limit=1001', /limit/],
      ['cursor=abc', /cursor/],
      ['from=yesterday', /from must be a date-time/],
      ['colour=red', /colour is not a known field/],
    ] as const) {
      const r = await a.admin('GET', `/tenants/${a.tenant}/requests?${query}`);
      t.equal(r.status, 400, query);
      t.match(r.body.detail, why, query);
    }
    t.equal((await a.admin('GET', '/tenants/nope/requests')).status, 404);

    // Another tenant's log is its own; an unknown tenant's 401s are nowhere.
    const other = await a.newTenant('globex');
    await a.app.inject({ method: 'GET', url: `/scim/v2/${other.tenant}/Users`, headers: { authorization: `Bearer ${other.token}` } });
    await a.app.inject({ method: 'GET', url: '/scim/v2/nobody/Users', headers: { authorization: 'Bearer x' } });
    t.same((await a.admin('GET', `/tenants/${other.tenant}/requests`)).body.requests.map((e: any) => e.path), ['/Users']);
    t.equal((await a.admin('GET', `/tenants/${a.tenant}/requests`)).body.requests.length, log.length);

    const metrics = (await a.app.metrics.render()).body;
    t.match(metrics, /roster_request_log_entries_total\{outcome="written"\} 8\n/, 'the unknown tenant\'s entry is not written');
  });

  t.test(`${backend}: bodies are kept only with the tenant's opt-in, without secrets`, async (t) => {
    const a = await startApp(t, backend);
    const on = await a.admin('PATCH', `/tenants/${a.tenant}`, { settings: { requestLog: { bodies: true } } });
    t.same(on.body.settings.requestLog, { bodies: true });
    const created = await a.scim('POST', '/Users', user('ada', { password: 'hunter2', title: 'Countess' }));
    await a.scim('PATCH', `/Users/${created.body.id}`, patch({ op: 'replace', path: 'password', value: 'swordfish' }));
    const [pat, post] = (await a.admin('GET', `/tenants/${a.tenant}/requests`)).body.requests;
    t.match(JSON.parse(post.requestBody), { userName: 'ada', password: '[redacted]', title: 'Countess' });
    t.match(JSON.parse(post.responseBody), { id: created.body.id, userName: 'ada' });
    t.notOk(JSON.stringify([pat, post]).includes('hunter2') || JSON.stringify(pat).includes('swordfish'), 'no password anywhere');
    t.match(JSON.parse(pat.requestBody).Operations[0], { path: 'password', value: '[redacted]' });
    t.equal((await a.admin('PATCH', `/tenants/${a.tenant}`, { settings: { requestLog: { bodies: 'yes' } } })).status, 400);
  });

  t.test(`${backend}: retention by age and per-tenant cap`, async (t) => {
    const a = await startApp(t, backend, { REQUEST_LOG_MAX_PER_TENANT: '100', REQUEST_LOG_RETENTION_DAYS: '7' });
    const log = a.services.requestLog!;
    const other = await a.newTenant('globex');
    const now = Date.now();
    for (let i = 0; i < 130; i++) log.record(entry(a.tenant, new Date(now - i * 1000), { path: `/Users/${i}` }));
    log.record(entry(other.tenant, new Date(now - 10 * 86_400_000), { path: '/old' }));
    log.record(entry(other.tenant, new Date(now), { path: '/new' }));
    await log.flush();
    const deleted = await a.services.retention.runOnce();
    t.same(deleted, { requestLog: 31, audit: 0 }, '30 over the cap, 1 too old');
    const kept = await allPages(a, '', 1000);
    t.equal(kept.length, 100);
    t.same([kept[0].path, kept[99].path], ['/Users/0', '/Users/99'], 'the newest are kept');
    t.same((await a.admin('GET', `/tenants/${other.tenant}/requests`)).body.requests.map((e: any) => e.path), ['/new']);
  });
}

t.test('the writer drops and counts entries it cannot write, and never queues more than its bound', async (t) => {
  const h = await openTestDatabase(t, backends[0]!);
  const log = new RequestLog(h.db, { retentionDays: 1, maxPerTenant: 100, maxQueue: 10 });
  t.teardown(() => log.close());
  for (let i = 0; i < 25; i++) log.record(entry('acme', new Date()));
  t.same(log.stats, { written: 0, dropped: 15, queued: 10 }, 'the queue stops at its bound');
  await log.flush();
  t.same(log.stats, { written: 0, dropped: 15, queued: 0 }, 'entries of a tenant that does not exist are left out');
  await h.close();
  for (let i = 0; i < 3; i++) log.record(entry('acme', new Date()));
  await log.flush();
  t.same(log.stats, { written: 0, dropped: 18, queued: 0 }, 'the database is gone: dropped and counted');
});
