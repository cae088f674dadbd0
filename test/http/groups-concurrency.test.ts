/**
 * Groups under concurrency and at size: many writers on one group, deletions
 * racing membership adds, and a group larger than the response cap.
 */
import { sql } from 'kysely';
import t from 'tap';
import { MEMBER_LIMIT, memberShares, PAGE_MEMBER_BUDGET } from '../../src/services/groups.js';
import { startApp, USER_SCHEMA } from '../helpers/app.js';
import { backends } from '../helpers/db.js';
import { events, group, memberIds, newUser, patch } from '../helpers/groups.js';






for (const backend of backends) {
  t.test(`${backend}: 50 concurrent PATCHes adding members to one group lose nothing`, async (t) => {
    const a = await startApp(t, backend);
    const id = (await a.scim('POST', '/Groups', group('Crowd'))).body.id as string;
    const userIds: string[] = [];
    for (let i = 0; i < 50; i++) userIds.push(await newUser(a, `u${i}@example.com`));
    const results = await Promise.all(
      userIds.map((u) => a.scim('PATCH', `/Groups/${id}?excludedAttributes=members`, patch({ op: 'add', path: 'members', value: [{ value: u }] }))),
    );
    t.same(results.map((r) => r.status), userIds.map(() => 200));
    const after = await a.scim('GET', `/Groups/${id}`);
    t.same(memberIds(after.body), [...userIds].sort(), 'all 50 members are there');
    t.equal(after.body.meta.version, 'W/"51"', 'every add made its own version');
    const versions = results.map((r) => Number(/\d+/.exec(r.headers.etag as string)![0])).sort((x, y) => x - y);
    t.same(versions, Array.from({ length: 50 }, (_, i) => i + 2), 'each PATCH saw a distinct version');
    const added = (await events(a, id)).filter((e) => e.type === 'group.members.added');
    t.equal(added.length, 50);
  });

  t.test(`${backend}: concurrent membership changes and deletions never deadlock or leave orphans`, async (t) => {
    const a = await startApp(t, backend);
    for (let i = 0; i < 8; i++) {
      // Two groups adding each other at the same time.
      const g1 = (await a.scim('POST', '/Groups', group(`A${i}`))).body.id as string;
      const g2 = (await a.scim('POST', '/Groups', group(`B${i}`))).body.id as string;
      const [r1, r2] = await Promise.all([
        a.scim('PATCH', `/Groups/${g1}`, patch({ op: 'add', path: 'members', value: [{ value: g2 }] })),
        a.scim('PATCH', `/Groups/${g2}`, patch({ op: 'add', path: 'members', value: [{ value: g1 }] })),
      ]);
      t.same([r1.status, r2.status], [204, 204], `pair ${i}: both adds succeed`);

      // A user deleted while being added to a group: the add succeeds and the deletion then removes it, or it
      // sees the user gone (400). Never a membership of a user that no longer exists.
      const u = await newUser(a, `u${i}@example.com`);
      const [del, add] = await Promise.all([
        a.scim('DELETE', `/Users/${u}`),
        a.scim('PATCH', `/Groups/${g1}`, patch({ op: 'add', path: 'members', value: [{ value: u }] })),
      ]);
      t.equal(del.status, 204);
      t.ok(add.status === 204 || (add.status === 400 && add.body.scimType === 'invalidValue'), `add: ${add.status}`);
    }
    const orphans = await sql<{ n: number }>`
      select count(*)::int as n from group_members m
      where not exists (select 1 from users u where u.tenant_id = m.tenant_id and u.id = m.member_id)
        and not exists (select 1 from groups g where g.tenant_id = m.tenant_id and g.id = m.member_id)`.execute(a.database.db);
    t.equal(orphans.rows[0]!.n, 0, 'no membership points to a deleted resource');
  });

  t.test(`${backend}: a large group: one-member changes touch one row, responses are bounded`, async (t) => {
    const a = await startApp(t, backend);
    const id = (await a.scim('POST', '/Groups', group('Everyone'))).body.id as string;
    const n = MEMBER_LIMIT + 5;
    // Seed n users and memberships directly (the HTTP path is what is under test below).
    await sql`
      insert into users (tenant_id, id, user_name, resource, created, last_modified)
      select ${a.tenant}, gen_random_uuid(), 'seed' || i, jsonb_build_object('schemas', jsonb_build_array(${USER_SCHEMA}::text), 'userName', 'seed' || i), now(), now()
      from generate_series(1, ${n}) as i`.execute(a.database.db);
    await sql`
      insert into group_members (tenant_id, group_id, member_id, member_type)
      select tenant_id, ${id}, id, 'User' from users where tenant_id = ${a.tenant}`.execute(a.database.db);
    const newcomer = await newUser(a, 'newcomer@example.com');

    // With excludedAttributes the PATCH answers 200 with the group (RFC 7644 §3.5.2), without its members.
    const add = await a.scim('PATCH', `/Groups/${id}?excludedAttributes=members`, patch({ op: 'add', path: 'members', value: [{ value: newcomer }] }));
    t.equal(add.status, 200);
    t.equal(add.body.meta.version, 'W/"2"');
    t.notOk('members' in add.body);
    t.same((await events(a, id)).at(-1), { type: 'group.members.added', version: 2, members: [newcomer] }, 'exactly the one member was added');
    const count = await sql<{ n: number }>`select count(*)::int as n from group_members where group_id = ${id}`.execute(a.database.db);
    t.equal(count.rows[0]!.n, n + 1);

    const got = await a.scim('GET', `/Groups/${id}`);
    t.equal(got.body.members.length, MEMBER_LIMIT, `members in a response are capped at ${MEMBER_LIMIT}`);
    const sorted = [...got.body.members.map((m: any) => m.value)].sort();
    t.same(got.body.members.map((m: any) => m.value), sorted, 'the first members by id');
    t.equal(got.body.members[0].display.startsWith('seed'), true);

    const check = await a.scim('GET', `/Groups?filter=${encodeURIComponent(`members[value eq "${newcomer}"]`)}&excludedAttributes=members`);
    t.equal(check.body.totalResults, 1, 'membership of any member can be checked with a filter');
    // By default a Group PATCH answers 204: a one-member change does not send back the capped member list.
    const rm = await a.scim('PATCH', `/Groups/${id}`, patch({ op: 'remove', path: `members[value eq "${newcomer}"]` }), {});
    t.equal(rm.status, 204);
    t.equal(rm.raw.body, '');
    t.equal(rm.headers.etag, 'W/"3"');
    t.same((await events(a, id)).at(-1), { type: 'group.members.removed', version: 3, members: [newcomer] });
  });


  t.test(`${backend}: member removals racing the deletion of those members all succeed`, async (t) => {
    const a = await startApp(t, backend);
    const users: string[] = [];
    for (let i = 0; i < 12; i++) users.push(await newUser(a, `leaving${i}@example.com`));
    const id = (await a.scim('POST', '/Groups', group('Leavers', { members: users.map((value) => ({ value })) }))).body.id as string;
    const results = await Promise.all(
      users.flatMap((u) => [
        a.scim('PATCH', `/Groups/${id}`, patch({ op: 'remove', path: `members[value eq "${u}"]` })),
        a.scim('DELETE', `/Users/${u}`),
      ]),
    );
    t.ok(results.every((r) => r.status === 200 || r.status === 204), 'no request failed');
    const after = await a.scim('GET', `/Groups/${id}`);
    t.same(memberIds(after.body), [], 'every member is gone');
    // Each member is removed once, by the PATCH or by the deletion (whose events the safeguard may hold).
    t.equal(after.body.meta.version, `W/"${1 + users.length}"`, 'one version per removal');
  });

  t.test(`${backend}: the member counts a page shares its budget by follow every membership write`, async (t) => {
    const a = await startApp(t, backend);
    const users: string[] = [];
    for (let i = 0; i < 6; i++) users.push(await newUser(a, `counted${i}@example.com`));
    const crew = (await a.scim('POST', '/Groups', group('Crew', { members: users.slice(0, 4).map((value) => ({ value })) }))).body.id as string;
    const team = (await a.scim('POST', '/Groups', group('Team', { members: [{ value: users[0] }, { value: crew }] }))).body.id as string;
    const counts = async () => {
      const r = await sql<{ group_id: string; counted: number; actual: number }>`
        select g.id as group_id,
          (select coalesce(sum(n), 0)::int from group_member_counts c where c.tenant_id = g.tenant_id and c.group_id = g.id) as counted,
          (select count(*)::int from group_members m where m.tenant_id = g.tenant_id and m.group_id = g.id) as actual
        from groups g where g.tenant_id = ${a.tenant}`.execute(a.database.db);
      return Object.fromEntries(r.rows.map((row) => [row.group_id, [row.counted, row.actual]]));
    };
    t.same(await counts(), { [crew]: [4, 4], [team]: [2, 2] }, 'created with members');
    await Promise.all(users.slice(4).map((u) => a.scim('PATCH', `/Groups/${crew}`, patch({ op: 'add', path: 'members', value: [{ value: u }] }))));
    await a.scim('PATCH', `/Groups/${crew}`, patch({ op: 'add', path: 'members', value: [{ value: users[4] }] }));
    await a.scim('PATCH', `/Groups/${crew}`, patch({ op: 'remove', path: `members[value eq "${users[1]}"]` }));
    t.same(await counts(), { [crew]: [5, 5], [team]: [2, 2] }, 'PATCH add (twice for one member) and remove');
    await a.scim('PUT', `/Groups/${team}`, group('Team', { members: [{ value: users[2] }, { value: users[3] }, { value: users[5] }] }));
    t.same(await counts(), { [crew]: [5, 5], [team]: [3, 3] }, 'PUT replacing the membership');
    t.equal((await a.scim('DELETE', `/Users/${users[2]}`)).status, 204);
    t.same(await counts(), { [crew]: [4, 4], [team]: [2, 2] }, 'a deleted user leaves every group');
    t.equal((await a.scim('DELETE', `/Groups/${crew}`)).status, 204);
    t.same(await counts(), { [team]: [2, 2] }, 'a deleted group takes its counts along');
  });

  t.test(`${backend}: a page of large groups shares a member budget; each group alone still lists up to the limit`, async (t) => {
    const a = await startApp(t, backend);
    // Two groups larger than the limit and a small one; members seeded directly, as above.
    const sizes = { Large: MEMBER_LIMIT + 3000, Larger: MEMBER_LIMIT + 6000, Small: 50 };
    const n = Math.max(...Object.values(sizes));
    await sql`
      insert into users (tenant_id, id, user_name, resource, created, last_modified)
      select ${a.tenant}, gen_random_uuid(), 'seed' || i, jsonb_build_object('schemas', jsonb_build_array(${USER_SCHEMA}::text), 'userName', 'seed' || i), now(), now()
      from generate_series(1, ${n}) as i`.execute(a.database.db);
    const ids: Record<string, string> = {};
    for (const [name, size] of Object.entries(sizes)) {
      ids[name] = (await a.scim('POST', '/Groups', group(name))).body.id;
      await sql`
        insert into group_members (tenant_id, group_id, member_id, member_type)
        select tenant_id, ${ids[name]}, id, 'User' from users where tenant_id = ${a.tenant} order by id limit ${size}`.execute(a.database.db);
    }
    // Okta's group import (test/fixtures/okta/scim20-retrieve-groups.json): no excludedAttributes.
    const page = await a.scim('GET', '/Groups?startIndex=1&count=100&sortBy=displayName');
    t.equal(page.status, 200);
    const listed = Object.fromEntries(page.body.Resources.map((g: any) => [g.displayName, g.members.length]));
    const share = (PAGE_MEMBER_BUDGET - 50) / 2;
    t.same(listed, { Large: share, Larger: share, Small: 50 }, 'the small group whole, the large ones share the rest');
    t.equal(Object.values(listed).reduce((x: number, y) => x + (y as number), 0), PAGE_MEMBER_BUDGET);
    const large = page.body.Resources.find((g: any) => g.displayName === 'Large');
    const sorted = [...large.members.map((m: any) => m.value)].sort();
    t.same(large.members.map((m: any) => m.value), sorted, 'the first members by id');
    t.equal((await a.scim('GET', `/Groups/${ids.Large}`)).body.members.length, MEMBER_LIMIT, 'alone, a group lists up to MEMBER_LIMIT');
    // A page whose groups fit the budget lists every member, as before.
    const two = await a.scim('GET', `/Groups?filter=${encodeURIComponent('displayName eq "Small" or displayName eq "Large"')}&sortBy=displayName`);
    t.same(two.body.Resources.map((g: any) => g.members.length), [MEMBER_LIMIT, 50]);
    const none = await a.scim('GET', '/Groups?excludedAttributes=members');
    t.ok(none.body.Resources.every((g: any) => !('members' in g)), 'excludedAttributes=members reads no members at all');
  });
}

t.test('memberShares: the smallest groups whole, the rest shared equally, never more than the budget', async (t) => {
  t.same(memberShares([], 10), []);
  t.same(memberShares([2, 5, 9], 100), [2, 5, 9], 'all fit');
  t.same(memberShares([9, 2, 5], 10), [4, 2, 4], 'in the order given');
  t.same(memberShares([0, 30, 30], 10), [0, 5, 5], 'an empty group takes nothing');
  t.same(memberShares([3, 3, 3, 3], 2), [1, 1, 1, 1], 'a group with members lists at least one');
  for (const counts of [[10000, 10000, 50], [1, 10000, 7, 9999, 300], Array.from({ length: 100 }, (_, i) => i * 137)]) {
    const shares = memberShares(counts, 20000);
    t.ok(shares.every((s, i) => s <= counts[i]!), 'no group gets more than it has');
    t.ok(shares.reduce((a, b) => a + b, 0) <= Math.max(20000, counts.filter((c) => c > 0).length), 'within the budget');
  }
});
