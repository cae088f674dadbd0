import { createHmac } from 'node:crypto';
import { sql } from 'kysely';
import t from 'tap';
import { ADMIN_TOKEN, ERROR_SCHEMA, startApp, user, type TestApp } from '../helpers/app.js';
import { backends } from '../helpers/db.js';
import { buildApp } from '../../src/app.js';
import { openDatabase } from '../../src/db/index.js';
import { saveResumePoint } from '../../src/db/paging.js';
import { INDEX_COUNT_REUSE_SECONDS, RESUME_TTL_SECONDS } from '../../src/services/paging.js';

const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const SEARCH = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';

/** Every page of a cursor query, following nextCursor. */
async function walk(a: TestApp, path: string, query: string): Promise<{ pages: any[]; items: any[] }> {
  const pages: any[] = [];
  let cursor = '';
  for (let i = 0; i < 50; i++) {
    const r = await a.scim('GET', `${path}?${query}&cursor=${encodeURIComponent(cursor)}`);
    if (r.status !== 200) throw new Error(`${r.status} ${JSON.stringify(r.body)}`);
    pages.push(r.body);
    if (!r.body.nextCursor) break;
    cursor = r.body.nextCursor;
  }
  return { pages, items: pages.flatMap((p) => p.Resources) };
}

/** Re-sign a cursor with a changed payload, as only someone holding the server's key could. */
async function forge(a: TestApp, cursor: string, change: (p: any) => void): Promise<string> {
  const r = await sql<{ secret: string }>`select secret from server_secrets where name = 'cursor-hmac'`.execute(a.database.db);
  const key = Buffer.from(r.rows[0]!.secret, 'base64url');
  const payload = JSON.parse(Buffer.from(cursor.split('.')[0]!, 'base64url').toString('utf8'));
  change(payload);
  const encoded = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${encoded}.${createHmac('sha256', key).update(encoded).digest('base64url').slice(0, 22)}`;
}

for (const backend of backends) {
  t.test(`${backend}: cursor paging (RFC 9865) forward and back, index paging unchanged`, async (t) => {
    const a = await startApp(t, backend);
    const names = ['grace', 'alice', 'frank', 'carol', 'erin', 'bob', 'dave'];
    for (const n of names) t.equal((await a.scim('POST', '/Users', user(`${n}@example.com`))).status, 201);
    const sorted = [...names].sort().map((n) => `${n}@example.com`);
    const userNames = (body: any) => body.Resources.map((r: any) => r.userName);

    const spc = await a.scim('GET', '/ServiceProviderConfig');
    t.same(spc.body.pagination, { cursor: true, index: true, defaultPaginationMethod: 'index', defaultPageSize: 100, maxPageSize: 1000, cursorTimeout: 3600 });

    // RFC 9865 §2: `cursor` present and empty asks for the first page.
    const p1 = await a.scim('GET', '/Users?sortBy=userName&cursor&count=3');
    t.equal(p1.status, 200);
    t.same(userNames(p1.body), sorted.slice(0, 3));
    t.equal(p1.body.totalResults, 7);
    t.equal(p1.body.itemsPerPage, 3);
    t.notOk('startIndex' in p1.body, 'cursor pages have no startIndex');
    t.notOk('previousCursor' in p1.body, 'no previousCursor on the first page');
    t.match(p1.body.nextCursor, /^[A-Za-z0-9._~-]+$/, 'cursors use unreserved characters only (RFC 3986 §2.3)');
    const p2 = await a.scim('GET', `/Users?sortBy=userName&cursor=${p1.body.nextCursor}&count=3`);
    t.same(userNames(p2.body), sorted.slice(3, 6));
    t.type(p2.body.previousCursor, 'string');
    const p3 = await a.scim('GET', `/Users?sortBy=userName&cursor=${p2.body.nextCursor}&count=3`);
    t.same(userNames(p3.body), sorted.slice(6));
    t.notOk('nextCursor' in p3.body, 'no nextCursor on the last page');
    const back2 = await a.scim('GET', `/Users?sortBy=userName&cursor=${p3.body.previousCursor}&count=3`);
    t.same(userNames(back2.body), sorted.slice(3, 6), 'previousCursor gives the previous page');
    t.type(back2.body.nextCursor, 'string');
    const back1 = await a.scim('GET', `/Users?sortBy=userName&cursor=${back2.body.previousCursor}&count=3`);
    t.same(userNames(back1.body), sorted.slice(0, 3));
    t.notOk('previousCursor' in back1.body, 'back on the first page: no previousCursor');
    const fwd = await a.scim('GET', `/Users?sortBy=userName&cursor=${back1.body.nextCursor}`);
    t.same(userNames(fwd.body), sorted.slice(3, 6), 'a later page may leave count out: the first page\'s count applies');

    // Descending, a filter, the default order: each traversal sees every match once, in order.
    t.same((await walk(a, '/Users', 'sortBy=userName&sortOrder=descending&count=2')).items.map((r) => r.userName), [...sorted].reverse());
    const filtered = await walk(a, '/Users', `count=2&sortBy=userName&filter=${encodeURIComponent('userName lt "e"')}`);
    t.same(filtered.items.map((r) => r.userName), sorted.slice(0, 4));
    t.same(filtered.pages.map((p) => p.totalResults), [4, 4]);
    const byCreated = await walk(a, '/Users', 'count=3');
    t.same(byCreated.items.map((r) => r.userName), names.map((n) => `${n}@example.com`), 'without sortBy: creation order');

    // Index paging is still the default.
    const idx = await a.scim('GET', '/Users?sortBy=userName&startIndex=3&count=2');
    t.same(userNames(idx.body), sorted.slice(2, 4));
    t.equal(idx.body.startIndex, 3);
    t.notOk('nextCursor' in idx.body);
    t.equal((await a.scim('GET', '/Users')).body.startIndex, 1);

    // count=0: totalResults only, and no cursors.
    const zero = await a.scim('GET', '/Users?cursor=&count=0');
    t.same([zero.body.totalResults, zero.body.Resources, 'nextCursor' in zero.body], [7, [], false]);
    const negative = await a.scim('GET', '/Users?cursor=&count=-5');
    t.equal(negative.body.itemsPerPage, 0, 'a negative count reads as 0 (RFC 9865 §2)');
  });

  t.test(`${backend}: cursor pages stay exact while resources change, with ties and missing sort keys`, async (t) => {
    const a = await startApp(t, backend);
    const ids: string[] = [];
    for (let i = 0; i < 9; i++) {
      // active: many ties; displayName: missing on every third user.
      const extra: Record<string, unknown> = { active: i % 2 === 0 };
      if (i % 3 !== 0) extra.displayName = `Name ${String.fromCharCode(105 - i)}`;
      ids.push((await a.scim('POST', '/Users', user(`u${i}@example.com`, extra))).body.id);
    }
    for (const sortBy of ['active', 'displayName', 'meta.lastModified', 'emails.value']) {
      for (const order of ['ascending', 'descending']) {
        const { items } = await walk(a, '/Users', `sortBy=${sortBy}&sortOrder=${order}&count=2`);
        const index = await a.scim('GET', `/Users?sortBy=${sortBy}&sortOrder=${order}&count=100`);
        t.same(items.map((r) => r.id), index.body.Resources.map((r: any) => r.id), `${sortBy} ${order}: same order as index paging, each user once`);
      }
    }
    const byName = await walk(a, '/Users', 'sortBy=displayName&count=4');
    t.same(byName.items.slice(-3).map((r) => 'displayName' in r), [false, false, false], 'users without displayName sort last');
    // Backwards through the users without a key and across into those with one.
    const last = byName.pages.at(-1)!;
    const prev = await a.scim('GET', `/Users?sortBy=displayName&count=4&cursor=${last.previousCursor}`);
    t.same(prev.body.Resources.map((r: any) => r.id), byName.items.slice(4, 8).map((r) => r.id));

    // A user created before the cursor's position and one deleted after it: the next page neither repeats nor skips.
    const p1 = await a.scim('GET', '/Users?sortBy=userName&cursor&count=3');
    t.same(p1.body.Resources.map((r: any) => r.userName), ['u0@example.com', 'u1@example.com', 'u2@example.com']);
    await a.scim('POST', '/Users', user('a-first@example.com'));
    await a.scim('DELETE', `/Users/${ids[4]}`);
    const p2 = await a.scim('GET', `/Users?sortBy=userName&count=3&cursor=${p1.body.nextCursor}`);
    t.same(p2.body.Resources.map((r: any) => r.userName), ['u3@example.com', 'u5@example.com', 'u6@example.com']);
    // totalResults is counted for the first page and carried in its cursors (src/services/paging.ts): one more
    // user now exists, a later page still says what the first page counted, a new first page counts again.
    t.equal(p1.body.totalResults, 9);
    await a.scim('POST', '/Users', user('b-second@example.com'));
    const p3 = await a.scim('GET', `/Users?sortBy=userName&count=3&cursor=${p2.body.nextCursor}`);
    t.same([p2.body.totalResults, p3.body.totalResults], [9, 9], 'later pages report the first page\'s count');
    t.equal((await a.scim('GET', '/Users?sortBy=userName&cursor&count=3')).body.totalResults, 10, 'a new first page counts again');
  });

  t.test(`${backend}: index pages that follow each other resume where the last one ended (Okta's import)`, async (t) => {
    const a = await startApp(t, backend);
    const names = ['grace', 'alice', 'frank', 'carol', 'erin', 'bob', 'dave', 'heidi', 'ivan', 'judy'];
    const ids = new Map<string, string>();
    for (const n of names) ids.set(n, (await a.scim('POST', '/Users', user(`${n}@example.com`))).body.id);
    const sorted = [...names].sort();
    const page = async (query: string) => {
      const r = await a.scim('GET', `/Users?${query}`);
      t.equal(r.status, 200, query);
      return { names: r.body.Resources.map((u: any) => u.userName.split('@')[0]), total: r.body.totalResults, body: r.body };
    };
    // Without writes, a walk gives exactly what the offsets give, in every order and with a filter.
    for (const query of ['sortBy=userName', 'sortBy=userName&sortOrder=descending', '', `filter=${encodeURIComponent('userName lt "f"')}&sortBy=userName`]) {
      const all = (await page(`${query}&count=100`)).names;
      const walked: string[] = [];
      for (let start = 1; start <= all.length; start += 3) {
        const p = await page(`${query}&startIndex=${start}&count=3`);
        t.equal(p.total, all.length, `${query || 'default order'}: totalResults at ${start}`);
        t.equal(p.body.startIndex, start);
        walked.push(...p.names);
      }
      t.same(walked, all, `${query || 'default order'}: the walk reads every user once, in order`);
    }

    // Test fixture test/fixtures/okta/scim20-retrieve-users.json: Okta reads with startIndex and count, one page after the other.
    const p1 = await page('sortBy=userName&startIndex=1&count=3');
    t.same(p1.names, sorted.slice(0, 3));
    // Between two pages a user that sorts before the page's end arrives: by offset the next page would repeat 'carol'.
    await a.scim('POST', '/Users', user('abe@example.com'));
    const p2 = await page('sortBy=userName&startIndex=4&count=3');
    t.same(p2.names, ['dave', 'erin', 'frank'], 'no user is repeated because one arrived before the page');
    t.equal(p2.total, 10, 'a continued page reports the count made for the traversal');
    t.same((await page('sortBy=userName&startIndex=4&count=3')).names, p2.names, 'a repeated page (a client retrying after a timeout) reads the same users');
    // Two users before the page leave: by offset the next page would skip 'grace'.
    await a.scim('DELETE', `/Users/${ids.get('alice')}`);
    await a.scim('DELETE', `/Users/${ids.get('bob')}`);
    const p3 = await page('sortBy=userName&startIndex=7&count=3');
    t.same(p3.names, ['grace', 'heidi', 'ivan'], 'no user is skipped because others left before the page');
    const p4 = await page('sortBy=userName&startIndex=10&count=3');
    t.same(p4.names, ['judy'], 'the last page');
    t.equal(p4.total, 10, 'a short last page ends the result where it ends: startIndex - 1 + its length');

    // A page that follows no page this process served is read by offset and counted: a jump, another sort, a new first page.
    t.same((await page('sortBy=userName&startIndex=4&count=2')).names, ['dave', 'erin'], 'a resume point serves any page size');
    const jump = await page('sortBy=userName&startIndex=5&count=3');
    t.same([jump.names, jump.total], [['frank', 'grace', 'heidi'], 9], 'a jump: the offset and the count over the users as they are now');
    t.equal((await page('sortBy=userName&sortOrder=descending&startIndex=4&count=3')).names[0], 'grace', 'another order has its own traversal');
    t.equal((await page('sortBy=userName&startIndex=1&count=3')).total, 9, 'a first page counts');

    // The count is reused for INDEX_COUNT_REUSE_SECONDS, then made again.
    await a.scim('POST', '/Users', user('zoe@example.com'));
    t.equal((await page('sortBy=userName&startIndex=1&count=3')).total, 10);
    await a.scim('POST', '/Users', user('yves@example.com'));
    t.equal((await page('sortBy=userName&startIndex=4&count=3')).total, 10, 'within the reuse window: the traversal\'s count');
    const points = (await sql<{ start_index: number; total: number }>`select start_index, total from index_resume_points order by start_index`.execute(a.database.db)).rows;
    t.ok(points.some((p) => p.start_index === 7 && p.total === 10), 'the page left a resume point for the next one, with the traversal\'s count');
    await sql`update index_resume_points set counted_at = now() - make_interval(secs => ${INDEX_COUNT_REUSE_SECONDS + 1})`.execute(a.database.db);
    const q3 = await page('sortBy=userName&startIndex=7&count=3');
    t.same([q3.names, q3.total], [['heidi', 'ivan', 'judy'], 11], 'a count older than the reuse window is made again');

    // Groups page the same way.
    for (const g of ['g1', 'g2', 'g3', 'g4', 'g5']) await a.scim('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: g });
    const g1 = await a.scim('GET', '/Groups?sortBy=displayName&startIndex=1&count=2');
    await a.scim('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'g0' });
    const g2 = await a.scim('GET', '/Groups?sortBy=displayName&startIndex=3&count=2');
    t.same([...g1.body.Resources, ...g2.body.Resources].map((g: any) => g.displayName), ['g1', 'g2', 'g3', 'g4']);
  });

  t.test(`${backend}: resume points expire after ten minutes, are pruned, and go with their tenant`, async (t) => {
    const a = await startApp(t, backend);
    const db = a.database.db;
    const count = async () => (await sql<{ n: number }>`select count(*)::int as n from index_resume_points`.execute(db)).rows[0]!.n;
    for (const n of ['a', 'b', 'c', 'd', 'e', 'f']) await a.scim('POST', '/Users', user(`${n}@example.com`));
    // A point another process left eleven minutes ago: the first page this process saves a point for prunes it.
    await sql`insert into index_resume_points (tenant_id, query, start_index, sort_key, row_id, total, counted_at, saved_at)
              values (${a.tenant}, 'old', 3, 'x', gen_random_uuid(), 6, now(), now() - interval '11 minutes')`.execute(db);
    const names = async (query: string) => (await a.scim('GET', `/Users?sortBy=userName&${query}`)).body.Resources.map((u: any) => u.userName[0]);
    t.same(await names('startIndex=1&count=2'), ['a', 'b']);
    t.same((await sql<{ query: string }>`select query from index_resume_points`.execute(db)).rows.map((r) => r.query === 'old'), [false], 'the expired point was pruned, the new one saved');
    await a.scim('POST', '/Users', user('0@example.com'));
    // Older than RESUME_TTL_SECONDS: the page is read by offset (and repeats 'b', which the new user pushed down).
    await sql`update index_resume_points set saved_at = now() - make_interval(secs => ${RESUME_TTL_SECONDS + 1})`.execute(db);
    t.same(await names('startIndex=3&count=2'), ['b', 'c'], 'an expired point is not used');
    t.equal(await count(), 2, 'the expired point (pruning runs at most once a minute per process) and the one the last page left');
    const res = await a.app.inject({ method: 'DELETE', url: `/admin/v1/tenants/${a.tenant}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    t.equal(res.statusCode, 204);
    t.equal(await count(), 0, 'deleting a tenant deletes its resume points');
    // A page of a tenant deleted while it was served: its point is not saved, and the page is not failed for it.
    await saveResumePoint(db, a.tenant, 'q', 3, { key: 'x', id: '00000000-0000-4000-8000-000000000001' }, 6);
    t.equal(await count(), 0);
    await t.rejects(saveResumePoint(db, a.tenant, 'q', 3, { key: 'x', id: 'not-a-uuid' }, 6), { code: '22P02' }, 'other errors are not hidden');
  });

  if (backend === 'postgres') {
    t.test('postgres: a traversal resumes on another replica', async (t) => {
      const a = await startApp(t, backend);
      // A second Roster process on the same database: its own pool, its own process state.
      const database = await openDatabase({ databaseUrl: a.database.url!, poolMax: 2 });
      const b = await buildApp({ config: a.config, database });
      t.teardown(async () => {
        await b.app.close();
        await database.close();
      });
      for (const n of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) await a.scim('POST', '/Users', user(`${n}@example.com`));
      const onB = async (query: string) =>
        JSON.parse((await b.app.inject({ url: `/scim/v2/${a.tenant}/Users?sortBy=userName&${query}`, headers: { authorization: `Bearer ${a.token}` } })).body);
      const p1 = await a.scim('GET', '/Users?sortBy=userName&startIndex=1&count=3');
      t.same(p1.body.Resources.map((u: any) => u.userName[0]), ['a', 'b', 'c']);
      await a.scim('POST', '/Users', user('0@example.com'));
      const p2 = await onB('startIndex=4&count=3');
      t.same(p2.Resources.map((u: any) => u.userName[0]), ['d', 'e', 'f'], 'the next page, served by the other replica, resumes after c');
      t.equal(p2.totalResults, 7, 'with the count made for the traversal');
      const p3 = await a.scim('GET', '/Users?sortBy=userName&startIndex=7&count=3');
      t.same(p3.body.Resources.map((u: any) => u.userName[0]), ['g'], 'and back on the first');
    });
  }

  t.test(`${backend}: cursor errors: invalidCursor, expiredCursor, invalidCount`, async (t) => {
    const a = await startApp(t, backend, { MAX_PAGE_SIZE: '50', DEFAULT_PAGE_SIZE: '10' });
    for (const n of ['a', 'b', 'c']) await a.scim('POST', '/Users', user(`${n}@example.com`));
    const first = await a.scim('GET', '/Users?sortBy=userName&cursor&count=1');
    const cursor = first.body.nextCursor as string;

    const expectError = async (label: string, path: string, scimType: string) => {
      const r = await a.scim('GET', path);
      t.equal(r.status, 400, `${label}: status`);
      t.same(r.body.schemas, [ERROR_SCHEMA], label);
      t.equal(r.body.scimType, scimType, `${label}: scimType`);
      t.type(r.body.detail, 'string');
      return r;
    };
    await expectError('garbage', '/Users?sortBy=userName&count=1&cursor=not-a-cursor', 'invalidCursor');
    await expectError('reserved characters', `/Users?sortBy=userName&count=1&cursor=${encodeURIComponent(cursor + '/')}`, 'invalidCursor');
    const [payload, tag] = cursor.split('.');
    const flipped = payload!.slice(0, -1) + (payload!.endsWith('A') ? 'B' : 'A');
    await expectError('altered payload', `/Users?sortBy=userName&count=1&cursor=${flipped}.${tag}`, 'invalidCursor');
    await expectError('another filter', `/Users?sortBy=userName&count=1&filter=${encodeURIComponent('userName pr')}&cursor=${cursor}`, 'invalidCursor');
    await expectError('another sort', `/Users?sortBy=userName&sortOrder=descending&count=1&cursor=${cursor}`, 'invalidCursor');
    await expectError('no sort', `/Users?count=1&cursor=${cursor}`, 'invalidCursor');
    await expectError('another endpoint', `/Groups?sortBy=userName&count=1&cursor=${cursor}`, 'invalidValue'); // sortBy userName is not a Group attribute
    await expectError('another endpoint, same sort', `/Groups?count=1&cursor=${(await a.scim('GET', '/Users?cursor&count=1')).body.nextCursor}`, 'invalidCursor');
    await expectError('another count', `/Users?sortBy=userName&count=2&cursor=${cursor}`, 'invalidCount');
    await expectError('count above maxPageSize', '/Users?cursor&count=51', 'invalidCount');
    await expectError('count not a number', '/Users?cursor&count=ten', 'invalidCount');
    await expectError('count not an integer', '/Users?cursor&count=1.5', 'invalidCount');
    await expectError('startIndex with cursor', '/Users?cursor&startIndex=2', 'invalidValue');
    t.equal((await a.scim('GET', '/Users?count=51')).body.itemsPerPage, 3, 'index paging still caps count (RFC 7644 §3.4.2.4)');

    const expired = await forge(a, cursor, (p) => (p.t -= 3601));
    const e = await expectError('expired', `/Users?sortBy=userName&count=1&cursor=${expired}`, 'expiredCursor');
    t.match(e.body.detail, /3600/);
    const fresh = await forge(a, cursor, (p) => (p.t -= 3500));
    t.equal((await a.scim('GET', `/Users?sortBy=userName&count=1&cursor=${fresh}`)).status, 200, 'valid until cursorTimeout');

    // Another tenant cannot continue this tenant's cursor.
    const other = await a.newTenant('other');
    const r = await a.app.inject({ method: 'GET', url: `/scim/v2/other/Users?sortBy=userName&count=1&cursor=${cursor}`, headers: { authorization: `Bearer ${other.token}` } });
    t.equal(r.statusCode, 400);
    t.equal(r.json().scimType, 'invalidCursor');
  });

  t.test(`${backend}: cursor paging of groups and through POST .search`, async (t) => {
    const a = await startApp(t, backend);
    const names = ['Ops', 'Dev', 'QA', 'Sales', 'HR'];
    for (const n of names) await a.scim('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: n });
    const { items, pages } = await walk(a, '/Groups', 'sortBy=displayName&count=2&excludedAttributes=members');
    t.same(items.map((g) => g.displayName), [...names].sort());
    t.equal(pages.length, 3);

    const search = (body: Record<string, unknown>) => a.scim('POST', '/Groups/.search', { schemas: [SEARCH], ...body });
    const s1 = await search({ sortBy: 'displayName', cursor: '', count: 2 });
    t.same(s1.body.Resources.map((g: any) => g.displayName), ['Dev', 'HR']);
    const s2 = await search({ sortBy: 'displayName', cursor: s1.body.nextCursor, count: 2 });
    t.same(s2.body.Resources.map((g: any) => g.displayName), ['Ops', 'QA']);
    t.equal((await search({ sortBy: 'displayName', cursor: s1.body.nextCursor, count: 3 })).body.scimType, 'invalidCount');
    // A cursor from GET continues through POST .search and back: the same query on the same endpoint.
    const g2 = await a.scim('GET', `/Groups?sortBy=displayName&count=2&cursor=${s1.body.nextCursor}`);
    t.same(g2.body.Resources.map((g: any) => g.displayName), ['Ops', 'QA']);
  });
}
