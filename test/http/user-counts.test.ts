/**
 * totalResults from the maintained user counts (migrations/0013_user_counts.ts)
 * must equal what counting the rows gives, through every kind of write:
 * each counted filter is checked against an equivalent filter that is
 * counted row by row (`… and userName pr`), on index and cursor pages.
 */
import { sql } from 'kysely';
import t from 'tap';
import { startApp, user, type TestApp } from '../helpers/app.js';
import { backends } from '../helpers/db.js';
import { countRows, fetchRows } from '../../src/db/paging.js';
import { userCountOf } from '../../src/db/user-counts.js';
import { userListing } from '../../src/db/users.js';
import { listResponse } from '../../src/http/scim/listing.js';
import { CURSOR_COUNT_LIMIT, pageOf, queryBinding, type Segment } from '../../src/services/paging.js';
import { parseFilter } from '../../src/scim/filter.js';
import { userResourceType } from '../../src/scim/schema.js';

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const BULK = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';

/** Counted filter (undefined: none) → the same set, counted row by row. */
const PAIRS: [string | undefined, string][] = [
  [undefined, 'userName pr'],
  ['active eq true', 'active eq true and userName pr'],
  ['active eq false', 'active eq false and userName pr'],
  ['active pr', 'active pr and userName pr'],
];

const total = async (a: TestApp, filter: string | undefined, how: 'index' | 'cursor') => {
  const q = [filter ? `filter=${encodeURIComponent(filter)}` : '', 'count=1', how === 'cursor' ? 'cursor=' : 'startIndex=1'].filter(Boolean).join('&');
  const r = await a.scim('GET', `/Users?${q}`);
  if (r.status !== 200) throw new Error(`${r.status} ${JSON.stringify(r.body)}`);
  return r.body.totalResults as number;
};

async function agree(t: { equal: (a: unknown, b: unknown, m: string) => void }, a: TestApp, step: string): Promise<number[]> {
  const counted: number[] = [];
  for (const [fast, slow] of PAIRS) {
    const want = await total(a, slow, 'index');
    t.equal(await total(a, fast, 'index'), want, `${step}: ${fast ?? 'no filter'} (index) = ${want}`);
    t.equal(await total(a, fast, 'cursor'), want, `${step}: ${fast ?? 'no filter'} (cursor) = ${want}`);
    counted.push(want);
  }
  return counted;
}

t.test('which filters are answered from the counts', async (t) => {
  const f = (s: string) => userCountOf(parseFilter(s, userResourceType));
  t.equal(userCountOf(undefined), 'total');
  t.equal(f('active eq true'), 'active');
  t.equal(f('ACTIVE eq false'), 'inactive');
  t.equal(f('active pr'), 'activePresent');
  t.equal(f('urn:ietf:params:scim:schemas:core:2.0:User:active eq true'), 'active');
  for (const other of ['active ne true', 'active eq true and userName pr', 'not (active eq true)', 'userName pr', 'active eq true or active eq false']) {
    t.equal(f(other), undefined, `${other}: counted row by row`);
  }
});

for (const backend of backends) {
  t.test(`${backend}: counted totals equal row counts through every kind of write`, async (t) => {
    const a = await startApp(t, backend);
    t.same(await agree(t, a, 'empty'), [0, 0, 0, 0]);

    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await a.scim('POST', '/Users', user(`u${i}@example.com`, i < 4 ? { active: true } : i === 4 ? { active: false } : {}));
      t.equal(r.status, 201);
      ids.push(r.body.id);
    }
    const created = await agree(t, a, 'after creates');
    t.equal(created[0], 6);

    // Entra ID deactivates with PATCH replace active "False" (a string, accepted in lenient mode).
    t.equal((await a.scim('PATCH', `/Users/${ids[0]}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: 'False' }] })).status, 200);
    await agree(t, a, 'after PATCH active false');
    // Okta replaces the whole user.
    t.equal((await a.scim('PUT', `/Users/${ids[4]}`, user('u4@example.com', { active: true })).then((r) => r.status)), 200);
    await agree(t, a, 'after PUT active true');
    t.equal((await a.scim('PATCH', `/Users/${ids[5]}`, { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'active', value: false }] })).status, 200);
    await agree(t, a, 'after adding active to a user without it');
    t.equal((await a.scim('PATCH', `/Users/${ids[1]}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: 'x' }] })).status, 200);
    await agree(t, a, 'after a PATCH that leaves active alone');
    t.equal((await a.scim('DELETE', `/Users/${ids[2]}`)).status, 204);
    await agree(t, a, 'after DELETE');

    const bulk = await a.scim('POST', '/Bulk', {
      schemas: [BULK],
      Operations: [
        { method: 'POST', path: '/Users', bulkId: 'b1', data: user('b1@example.com', { active: false }) },
        { method: 'POST', path: '/Users', bulkId: 'b2', data: user('b2@example.com') },
        { method: 'DELETE', path: `/Users/${ids[3]}` },
        // Fails (duplicate userName): counts nothing.
        { method: 'POST', path: '/Users', bulkId: 'b3', data: user('u0@example.com') },
      ],
    });
    t.equal(bulk.status, 200);
    await agree(t, a, 'after Bulk');

    // A failed write leaves the counts alone.
    t.equal((await a.scim('POST', '/Users', user('U0@example.com'))).status, 409);
    await agree(t, a, 'after a refused create');

    // Concurrent writers (different connections on Postgres) land in different slots; the sum stays exact.
    const more = await Promise.all(Array.from({ length: 20 }, (_, i) => a.scim('POST', '/Users', user(`c${i}@example.com`, { active: i % 3 !== 0 }))));
    t.ok(more.every((r) => r.status === 201));
    await Promise.all(
      more.slice(0, 10).map((r, i) => a.scim('PATCH', `/Users/${r.body.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: i % 2 === 0 }] })),
    );
    await Promise.all(more.slice(10, 15).map((r) => a.scim('DELETE', `/Users/${r.body.id}`)));
    await agree(t, a, 'after concurrent writes');

    // Another tenant's users count for that tenant only.
    const other = await a.newTenant('globex');
    const r = await a.app.inject({
      method: 'POST',
      url: `/scim/v2/${other.tenant}/Users`,
      headers: { authorization: `Bearer ${other.token}`, 'content-type': 'application/scim+json' },
      payload: JSON.stringify(user('g@example.com')),
    });
    t.equal(r.statusCode, 201);
    const before = await agree(t, a, 'after a write in another tenant');
    t.equal(before[0], 6 - 2 + 2 + 20 - 5);

    // A deleted tenant's counts go with it: recreated under the same id, it starts from zero.
    await a.services.tenants.delete(other.tenant);
    const again = await a.newTenant('globex');
    const empty = await a.app.inject({ method: 'GET', url: `/scim/v2/${again.tenant}/Users?count=1`, headers: { authorization: `Bearer ${again.token}` } });
    t.equal(JSON.parse(empty.body).totalResults, 0);
  });
}

for (const backend of backends) {
  t.test(`${backend}: a cursor traversal of more than CURSOR_COUNT_LIMIT matches leaves totalResults out (RFC 9865 §2.2)`, async (t) => {
    const a = await startApp(t, backend);
    const db = a.database.db;
    // Three real users behind segments that claim more matches than the limit (a million users is a benchmark, bench/).
    for (const n of ['a', 'b', 'c']) t.equal((await a.scim('POST', '/Users', user(`${n}@example.com`))).status, 201);
    const listing = userListing({ filter: parseFilter('userName pr', userResourceType) });
    const asked: (number | undefined)[] = [];
    const segment = (claims: number): Segment => ({
      type: 'User',
      // What a counting segment answers: undefined past the limit it was given.
      count: async (limit) => {
        asked.push(limit);
        return limit !== undefined && claims > limit ? undefined : claims;
      },
      fetch: (w) => fetchRows(db, a.tenant, listing, w),
    });
    const binding = queryBinding([a.tenant, 'test']);
    const first = await pageOf(db, a.tenant, [segment(CURSOR_COUNT_LIMIT + 1)], { count: 2, countGiven: true, startIndex: 1, cursor: '' }, binding);
    t.equal(first.totalResults, undefined, 'more than the limit: omitted');
    t.same(asked, [CURSOR_COUNT_LIMIT], 'the segment was told where it may stop');
    t.equal(first.items.length, 2);
    const second = await pageOf(db, a.tenant, [segment(0)], { count: 2, countGiven: true, startIndex: 1, cursor: first.nextCursor! }, binding);
    t.equal(second.totalResults, undefined, 'later pages carry "not counted" instead of counting again');
    t.same(asked, [CURSOR_COUNT_LIMIT]);
    t.equal(second.items.length, 1);

    const atLimit = await pageOf(db, a.tenant, [segment(CURSOR_COUNT_LIMIT)], { count: 2, countGiven: true, startIndex: 1, cursor: '' }, binding);
    t.equal(atLimit.totalResults, CURSOR_COUNT_LIMIT, 'up to the limit: exact');
    const index = await pageOf(db, a.tenant, [segment(CURSOR_COUNT_LIMIT + 5), segment(0)], { count: 2, countGiven: true, startIndex: 1 }, binding);
    t.equal(index.totalResults, CURSOR_COUNT_LIMIT + 5, 'index pages always count exactly (RFC 7644 §3.4.2)');
    t.equal(asked.at(-1), undefined);
    const onlyTotal = await pageOf(db, a.tenant, [segment(CURSOR_COUNT_LIMIT + 5)], { count: 0, countGiven: true, startIndex: 1, cursor: '' }, binding);
    t.equal(onlyTotal.totalResults, CURSOR_COUNT_LIMIT + 5, 'count=0 asks for the total alone: exact');

    // Counting in SQL stops at limit + 1; over HTTP the response leaves the attribute out rather than sending null.
    t.equal(await countRows(db, a.tenant, listing, 1), undefined, 'more than the limit');
    t.equal(await countRows(db, a.tenant, listing, 3), 3);
    t.equal(await countRows(db, a.tenant, listing), 3);

    // A maintained count is exact at any size, on cursor pages too (here made to say 200,003 users).
    await sql`update user_counts set total = total + 200000 where tenant_id = ${a.tenant} and slot = (select min(slot) from user_counts where tenant_id = ${a.tenant})`.execute(db);
    for (const q of ['cursor=&count=1', 'startIndex=1&count=1']) {
      t.equal((await a.scim('GET', `/Users?${q}`)).body.totalResults, 200_003, `${q}: the maintained count, whole`);
    }
    t.equal((await a.scim('GET', `/Users?cursor=&count=1&filter=${encodeURIComponent('userName pr')}`)).body.totalResults, 3, 'a filter that is counted: 3 is under the limit');
    const body = listResponse({ items: [] }, []);
    t.notOk('totalResults' in body);
  });
}

for (const backend of backends) {
  t.test(`${backend}: TRUNCATE empties the counts with the table`, async (t) => {
    const a = await startApp(t, backend);
    for (const n of ['a', 'b']) t.equal((await a.scim('POST', '/Users', user(`${n}@example.com`))).status, 201);
    t.equal((await a.scim('GET', '/Users?count=0')).body.totalResults, 2);
    await sql`truncate users cascade`.execute(a.database.db);
    t.equal((await a.scim('GET', '/Users?count=0')).body.totalResults, 0);
    const r = await sql<{ n: number }>`select count(*)::int as n from group_member_counts`.execute(a.database.db);
    t.equal(r.rows[0]!.n, 0, 'the memberships went by cascade, and their counts');
  });
}
