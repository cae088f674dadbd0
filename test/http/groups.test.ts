import { readFileSync } from 'node:fs';
import { sql } from 'kysely';
import t from 'tap';
import { insertUser } from '../../src/db/users.js';
import { ERROR_SCHEMA, startApp, user, USER_SCHEMA } from '../helpers/app.js';
import { backends } from '../helpers/db.js';
import { events, group, GROUP_SCHEMA, memberIds, newUser, patch } from '../helpers/groups.js';

const BABS = '2819c223-7f76-453a-919d-413861904646';
const JAMES = '08e1d05d-121c-4561-8b96-473d93df9210';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/rfc/${name}`, import.meta.url), 'utf8');
/** The RFC's PATCH fixtures elide ids ("2819c223...413861904646"); fill them in. */
const filled = (name: string) =>
  JSON.parse(
    fixture(name)
      .replace(/2819c223[-.0-9a-f]*\.\.\.[-0-9a-f]*413861904646/g, BABS)
      .replace(/08e1d05d\.\.\.473d93df9210/g, JAMES),
  );





for (const backend of backends) {
  t.test(`${backend}: group lifecycle with members`, async (t) => {
    const a = await startApp(t, backend);
    // The PATCHes below are checked by the group they answer with; by default a Group PATCH answers 204.
    await a.admin('PATCH', `/tenants/${a.tenant}`, { settings: { patchResponse: 'resource' } });
    const alice = await newUser(a, 'alice@example.com', { displayName: 'Alice A' });
    const bob = await newUser(a, 'bob@example.com');
    const inner = (await a.scim('POST', '/Groups', group('Inner'))).body.id as string;

    const created = await a.scim('POST', '/Groups', group('Tour Guides', { externalId: 'ext-tg', members: [{ value: alice, type: 'User' }, { value: inner }] }));
    t.equal(created.status, 201);
    const id = created.body.id as string;
    t.equal(created.headers.location, `https://roster.test/scim/v2/acme/Groups/${id}`);
    t.equal(created.headers.etag, 'W/"1"');
    t.same(created.body.schemas, [GROUP_SCHEMA]);
    t.equal(created.body.meta.resourceType, 'Group');
    t.same(
      [...created.body.members].sort((x: any, y: any) => (x.value < y.value ? -1 : 1)),
      [
        { value: alice, $ref: `https://roster.test/scim/v2/acme/Users/${alice}`, display: 'Alice A', type: 'User' },
        { value: inner, $ref: `https://roster.test/scim/v2/acme/Groups/${inner}`, display: 'Inner', type: 'Group' },
      ].sort((x, y) => (x.value < y.value ? -1 : 1)),
      'members carry value, $ref, display (read from the member) and type',
    );

    const got = await a.scim('GET', `/Groups/${id}`);
    t.equal(got.status, 200);
    t.same(got.body, created.body);
    t.equal(got.headers.etag, 'W/"1"');
    t.equal((await a.scim('GET', `/Groups/${id}`, undefined, { 'if-none-match': 'W/"1"' })).status, 304);
    t.equal((await a.scim('GET', `/Groups/${id}`, undefined, { 'if-none-match': 'W/"9"' })).status, 200);
    const noMembers = await a.scim('GET', `/Groups/${id}?excludedAttributes=members`);
    t.notOk('members' in noMembers.body, 'excludedAttributes=members leaves them out');
    t.equal(noMembers.body.displayName, 'Tour Guides');
    const onlyName = await a.scim('GET', `/Groups/${id}?attributes=displayName`);
    t.notOk('members' in onlyName.body);
    t.equal(onlyName.body.id, id);

    // Display is read at query time: renaming the user shows at once.
    await a.scim('PATCH', `/Users/${alice}`, patch({ op: 'replace', path: 'displayName', value: 'Alice Renamed' }));
    t.equal((await a.scim('GET', `/Groups/${id}`)).body.members.find((m: any) => m.value === alice).display, 'Alice Renamed');
    // A user's groups attribute is derived from memberships.
    const aliceNow = await a.scim('GET', `/Users/${alice}`);
    t.same(aliceNow.body.groups, [{ value: id, $ref: `https://roster.test/scim/v2/acme/Groups/${id}`, display: 'Tour Guides', type: 'direct' }]);

    // PATCH add / remove members.
    const added = await a.scim('PATCH', `/Groups/${id}`, patch({ op: 'add', path: 'members', value: [{ value: bob }] }));
    t.equal(added.status, 200);
    t.equal(added.headers.etag, 'W/"2"');
    t.same(memberIds(added.body), [alice, bob, inner].sort());
    const again = await a.scim('PATCH', `/Groups/${id}`, patch({ op: 'add', path: 'members', value: [{ value: bob }] }));
    t.equal(again.headers.etag, 'W/"2"', 'adding a current member changes nothing, keeps the version');
    const removed = await a.scim('PATCH', `/Groups/${id}`, patch({ op: 'remove', path: `members[value eq "${inner}"]` }));
    t.equal(removed.headers.etag, 'W/"3"');
    t.same(memberIds(removed.body), [alice, bob].sort());
    const renamed = await a.scim('PATCH', `/Groups/${id}?excludedAttributes=members`, patch({ op: 'replace', path: 'displayName', value: 'Guides' }));
    t.equal(renamed.body.displayName, 'Guides');
    t.notOk('members' in renamed.body);

    // If-Match: a stale version is 412 and nothing changes.
    const stale = await a.scim('PATCH', `/Groups/${id}`, patch({ op: 'add', path: 'members', value: [{ value: inner }] }), { 'if-match': 'W/"1"' });
    t.equal(stale.status, 412);
    t.same(stale.body.schemas, [ERROR_SCHEMA]);
    t.same(memberIds((await a.scim('GET', `/Groups/${id}`)).body), [alice, bob].sort());
    t.equal((await a.scim('PATCH', `/Groups/${id}`, patch({ op: 'add', path: 'members', value: [{ value: inner }] }), { 'if-match': 'W/"4"' })).status, 200);

    // PUT: members given replace the membership; members left out keep it.
    const put = await a.scim('PUT', `/Groups/${id}`, group('Guides', { externalId: 'ext-tg', members: [{ value: bob }] }));
    t.equal(put.status, 200);
    t.same(memberIds(put.body), [bob]);
    t.equal(put.body.meta.version, 'W/"6"');
    const putKeep = await a.scim('PUT', `/Groups/${id}`, group('Guides 2'));
    t.equal(putKeep.body.displayName, 'Guides 2');
    t.notOk('externalId' in putKeep.body, 'PUT clears attributes it leaves out');
    t.same(memberIds(putKeep.body), [bob], 'PUT without members keeps the membership');
    const putEmpty = await a.scim('PUT', `/Groups/${id}`, group('Guides 2', { members: [] }));
    t.notOk('members' in putEmpty.body, 'members: [] empties the group');
    t.equal((await a.scim('PUT', `/Groups/${id}`, group('x'), { 'if-match': 'W/"2"' })).status, 412);

    // Events: created with its members, then member additions and removals.
    const ev = await events(a, id);
    t.same(ev.slice(0, 3), [
      { type: 'group.created', version: 1 },
      { type: 'group.members.added', version: 1, members: [alice, inner].sort() },
      { type: 'group.members.added', version: 2, members: [bob] },
    ]);
    t.ok(ev.some((e) => e.type === 'group.members.removed' && e.version === 3 && e.members?.[0] === inner));

    // DELETE
    t.equal((await a.scim('DELETE', `/Groups/${id}`, undefined, { 'if-match': 'W/"1"' })).status, 412);
    t.equal((await a.scim('DELETE', `/Groups/${id}`)).status, 204);
    t.equal((await a.scim('GET', `/Groups/${id}`)).status, 404);
    t.equal((await a.scim('DELETE', `/Groups/${id}`)).status, 404);
    t.equal((await a.scim('PATCH', `/Groups/${id}`, patch({ op: 'replace', path: 'displayName', value: 'x' }))).status, 404);
    t.equal((await a.scim('PUT', `/Groups/not-a-uuid`, group('x'))).status, 404);
    t.notOk('groups' in (await a.scim('GET', `/Users/${bob}`)).body, 'memberships go with the group');
  });

  t.test(`${backend}: strict tenants: members must exist in the tenant; otherwise 400 invalidValue and nothing changes`, async (t) => {
    // Lenient tenants (the default) skip members that do not exist: test/http/leniency.test.ts.
    const a = await startApp(t, backend);
    await a.admin('PATCH', `/tenants/${a.tenant}`, { settings: { compatibility: 'strict' } });
    const alice = await newUser(a, 'alice@example.com');
    const g = (await a.scim('POST', '/Groups', group('G', { members: [{ value: alice }] }))).body;
    const other = await a.newTenant('other');
    const foreign = (
      await a.app.inject({
        method: 'POST',
        url: '/scim/v2/other/Users',
        headers: { authorization: `Bearer ${other.token}`, 'content-type': 'application/scim+json' },
        payload: JSON.stringify(user('foreign@example.com')),
      })
    ).json().id as string;

    const expect400 = async (label: string, r: Promise<{ status: number; body: any }>, scimType = 'invalidValue') => {
      const res = await r;
      t.equal(res.status, 400, `${label}: status`);
      t.equal(res.body.scimType, scimType, `${label}: scimType`);
      t.same(res.body.schemas, [ERROR_SCHEMA]);
      return res;
    };
    const missing = '00000000-0000-4000-8000-000000000000';
    const r = await expect400('unknown member', a.scim('PATCH', `/Groups/${g.id}`, patch({ op: 'add', path: 'members', value: [{ value: missing }] })));
    t.match(r.body.detail, missing);
    await expect400('member of another tenant', a.scim('PATCH', `/Groups/${g.id}`, patch({ op: 'add', path: 'members', value: [{ value: foreign }] })));
    await expect400('not a uuid', a.scim('PATCH', `/Groups/${g.id}`, patch({ op: 'add', path: 'members', value: [{ value: 'bjensen' }] })));
    await expect400('one good, one missing', a.scim('PATCH', `/Groups/${g.id}`, patch({ op: 'replace', path: 'members', value: [{ value: alice }, { value: missing }] })));
    await expect400('type says Group, id is a User', a.scim('PATCH', `/Groups/${g.id}`, patch({ op: 'add', path: 'members', value: [{ value: alice, type: 'Group' }] })));
    await expect400('itself', a.scim('PATCH', `/Groups/${g.id}`, patch({ op: 'add', path: 'members', value: [{ value: g.id }] })));
    await expect400('unknown member on create', a.scim('POST', '/Groups', group('H', { members: [{ value: missing }] })));
    await expect400('unknown member on PUT', a.scim('PUT', `/Groups/${g.id}`, group('G2', { members: [{ value: missing }] })));
    await expect400('attribute change with a bad member', a.scim('PATCH', `/Groups/${g.id}`, patch({ op: 'replace', path: 'displayName', value: 'Changed' }, { op: 'add', path: 'members', value: [{ value: missing }] })));
    await expect400('missing displayName', a.scim('POST', '/Groups', { schemas: [GROUP_SCHEMA] }));
    await expect400('bad PATCH path', a.scim('PATCH', `/Groups/${g.id}`, patch({ op: 'add', path: 'members[value eq', value: [] })), 'invalidPath');

    const after = await a.scim('GET', `/Groups/${g.id}`);
    t.equal(after.body.meta.version, 'W/"1"', 'no rejected request changed the group');
    t.equal(after.body.displayName, 'G');
    t.same(memberIds(after.body), [alice]);
    t.equal((await a.scim('GET', '/Groups')).body.totalResults, 1, 'no rejected create made a group');
    t.same(await events(a, g.id), [
      { type: 'group.created', version: 1 },
      { type: 'group.members.added', version: 1, members: [alice] },
    ]);
  });

  t.test(`${backend}: RFC 7644 §3.5.2 member PATCH examples`, async (t) => {
    const a = await startApp(t, backend);
    // Each PATCH is checked by the group it answers with; by default a Group PATCH answers 204.
    await a.admin('PATCH', `/tenants/${a.tenant}`, { settings: { patchResponse: 'resource' } });
    const seed = (id: string, userName: string, displayName: string) =>
      insertUser(a.database.db, a.tenant, id, { schemas: [USER_SCHEMA], userName, displayName }, new Date());
    await seed(BABS, 'bjensen', 'Babs Jensen');
    await seed(JAMES, 'jsmith', 'James Smith');
    const id = (await a.scim('POST', '/Groups', group('Tour Guides'))).body.id as string;

    const addMember = await a.scim('PATCH', `/Groups/${id}`, JSON.parse(fixture('7644-3.5.2.1-add-member.json')));
    t.equal(addMember.status, 200, '§3.5.2.1 add a member');
    t.same(addMember.body.members, [{ value: BABS, $ref: `https://roster.test/scim/v2/acme/Users/${BABS}`, display: 'Babs Jensen', type: 'User' }]);

    // As printed, the §3.5.2.2 remove example elides the id: it names no member, so nothing changes.
    const elided = await a.scim('PATCH', `/Groups/${id}`, JSON.parse(fixture('7644-3.5.2.2-remove-member.json')));
    t.equal(elided.status, 200);
    t.equal(elided.body.meta.version, addMember.body.meta.version, 'removing a non-member changes nothing');
    const removeMember = await a.scim('PATCH', `/Groups/${id}`, filled('7644-3.5.2.2-remove-member.json'));
    t.notOk('members' in removeMember.body, '§3.5.2.2 remove a member');

    const replaced = await a.scim('PATCH', `/Groups/${id}`, filled('7644-3.5.2.3-replace-members.json'));
    t.same(memberIds(replaced.body), [BABS, JAMES].sort(), '§3.5.2.3 replace members');
    const removeAndAdd = await a.scim('PATCH', `/Groups/${id}`, filled('7644-3.5.2.2-remove-and-add-member.json'));
    t.same(memberIds(removeAndAdd.body), [JAMES], '§3.5.2.2 remove one and add one');
    const removeAllThenAdd = await a.scim('PATCH', `/Groups/${id}`, JSON.parse(fixture('7644-3.5.2.2-remove-all-then-add-members.json')));
    t.same(memberIds(removeAllThenAdd.body), [BABS, JAMES].sort(), '§3.5.2.2 remove all, then add two');
    const removeAll = await a.scim('PATCH', `/Groups/${id}`, JSON.parse(fixture('7644-3.5.2.2-remove-all-members.json')));
    t.notOk('members' in removeAll.body, '§3.5.2.2 remove all members');

    // The elided ids of §3.5.2.3 as printed are not ids of anything: replacing the members with nothing but
    // unknown ids is 400 on every tenant, and nothing changes.
    const bad = await a.scim('PATCH', `/Groups/${id}`, JSON.parse(fixture('7644-3.5.2.3-replace-members.json')));
    t.equal(bad.status, 400);
    t.equal(bad.body.scimType, 'invalidValue');
    t.equal((await a.scim('GET', `/Groups/${id}`)).body.meta.version, removeAll.body.meta.version);
  });

  t.test(`${backend}: deleting a user or group removes its memberships, bumps those groups and records it`, async (t) => {
    const a = await startApp(t, backend);
    const alice = await newUser(a, 'alice@example.com');
    const bob = await newUser(a, 'bob@example.com');
    const g1 = (await a.scim('POST', '/Groups', group('G1', { members: [{ value: alice }, { value: bob }] }))).body.id as string;
    const g2 = (await a.scim('POST', '/Groups', group('G2', { members: [{ value: alice }] }))).body.id as string;
    const parent = (await a.scim('POST', '/Groups', group('Parent', { members: [{ value: g2 }, { value: bob }] }))).body.id as string;

    t.equal((await a.scim('DELETE', `/Users/${alice}`)).status, 204);
    const g1After = await a.scim('GET', `/Groups/${g1}`);
    t.same(memberIds(g1After.body), [bob]);
    t.equal(g1After.body.meta.version, 'W/"2"', 'a group that lost a member gets a new version');
    t.notOk('members' in (await a.scim('GET', `/Groups/${g2}`)).body);
    t.same((await events(a, g1)).at(-1), { type: 'group.members.removed', version: 2, members: [alice] });
    t.same((await events(a, g2)).at(-1), { type: 'group.members.removed', version: 2, members: [alice] });
    t.equal((await a.scim('GET', `/Groups?filter=${encodeURIComponent(`members.value eq "${alice}"`)}`)).body.totalResults, 0);

    t.equal((await a.scim('DELETE', `/Groups/${g2}`)).status, 204);
    const parentAfter = await a.scim('GET', `/Groups/${parent}`);
    t.same(memberIds(parentAfter.body), [bob], 'a deleted group leaves the groups it was in');
    t.equal(parentAfter.body.meta.version, 'W/"2"');
    t.same((await events(a, parent)).at(-1), { type: 'group.members.removed', version: 2, members: [g2] });
    const rows = await sql<{ n: number }>`select count(*)::int as n from group_members where member_id = ${alice} or group_id = ${g2} or member_id = ${g2}`.execute(a.database.db);
    t.equal(rows.rows[0]!.n, 0, 'no membership rows are left behind');
  });

  t.test(`${backend}: group filters, sorting and paging`, async (t) => {
    const a = await startApp(t, backend);
    const alice = await newUser(a, 'alice@example.com');
    const bob = await newUser(a, 'bob@example.com');
    const ids: Record<string, string> = {};
    for (const [name, members] of [
      ['Sales', [alice]],
      ['Engineering', [alice, bob]],
      ['Admins', []],
      ['engineering-leads', [bob]],
    ] as const) {
      ids[name] = (await a.scim('POST', '/Groups', group(name, { externalId: `ext-${name}`, members: members.map((value) => ({ value })) }))).body.id;
    }
    const q = async (query: string) => {
      const r = await a.scim('GET', `/Groups?${query}`);
      t.equal(r.status, 200, query);
      return r.body;
    };
    const names = (body: any) => body.Resources.map((r: any) => r.displayName);
    const f = (filter: string, extra = '') => q(`filter=${encodeURIComponent(filter)}&sortBy=displayName${extra}`);

    t.same(names(await f('displayName eq "sales"')), ['Sales'], 'displayName is case-insensitive');
    t.same(names(await f('displayName sw "eng"')), ['Engineering', 'engineering-leads']);
    t.same(names(await f('externalId eq "ext-Admins"')), ['Admins']);
    t.same(names(await f('externalId eq "ext-admins"')), [], 'externalId is case-exact');
    t.same(names(await f(`members.value eq "${alice}"`)), ['Engineering', 'Sales']);
    t.same(names(await f(`members[value eq "${bob}"]`)), ['Engineering', 'engineering-leads']);
    t.same(names(await f(`members[value eq "${bob}"] and displayName co "lead"`)), ['engineering-leads']);
    t.same(names(await f('not (members pr)')), ['Admins']);
    const nested = (await a.scim('POST', '/Groups', group('Nested', { members: [{ value: ids.Admins }] }))).body.id as string;
    t.same(names(await f('members[type eq "Group"]')), ['Nested']);
    t.same(names(await f('members[type eq "User"] and displayName sw "e"')), ['Engineering', 'engineering-leads']);
    await a.scim('DELETE', `/Groups/${nested}`);
    // How Entra ID checks membership: filter on the member, leave members out of the response.
    const check = await f(`members[value eq "${alice}"] and id eq "${ids.Sales}"`, '&excludedAttributes=members');
    t.equal(check.totalResults, 1);
    t.notOk('members' in check.Resources[0]);
    const withMembers = await f(`displayName eq "Engineering"`);
    t.same(memberIds(withMembers.Resources[0]), [alice, bob].sort());

    t.same(names(await q('sortBy=displayName&sortOrder=descending')), ['Sales', 'engineering-leads', 'Engineering', 'Admins']);
    const page = await q('sortBy=displayName&startIndex=2&count=2&attributes=displayName');
    t.equal(page.totalResults, 4);
    t.equal(page.startIndex, 2);
    t.equal(page.itemsPerPage, 2);
    t.same(names(page), ['Engineering', 'engineering-leads']);
    t.notOk('members' in page.Resources[0]);
    t.equal((await a.scim('GET', '/Groups?filter=' + encodeURIComponent('userName eq "x"'))).body.scimType, 'invalidFilter');
  });

  t.test(`${backend}: PATCH answers 200 with the resource or 204: attributes, then Prefer, then the tenant's patchResponse`, async (t) => {
    const a = await startApp(t, backend);
    const alice = await newUser(a, 'alice@example.com');
    const bob = await newUser(a, 'bob@example.com');
    const id = (await a.scim('POST', '/Groups', group('G', { members: [{ value: alice }] }))).body.id as string;
    let n = 0;
    // Each PATCH changes something, so each answers with a new version.
    const patchGroup = (query = '', headers: Record<string, string> = {}) =>
      a.scim('PATCH', `/Groups/${id}${query}`, patch({ op: 'replace', path: 'displayName', value: `G${++n}` }), headers);
    const patchUser = (query = '', headers: Record<string, string> = {}) =>
      a.scim('PATCH', `/Users/${alice}${query}`, patch({ op: 'replace', path: 'title', value: `t${++n}` }), headers);
    const version = async (path: string) => (await a.scim('GET', path)).headers.etag;
    const noContent = async (r: Awaited<ReturnType<typeof patchGroup>>, path: string, what: string) => {
      t.equal(r.status, 204, `${what}: 204`);
      t.equal(r.raw.body, '', `${what}: no body`);
      t.equal(r.headers.etag, await version(path), `${what}: the new ETag`);
    };
    const resource = async (r: Awaited<ReturnType<typeof patchGroup>>, path: string, what: string) => {
      t.equal(r.status, 200, `${what}: 200`);
      t.equal(r.body.id, path.split('/')[2], `${what}: the resource`);
      t.equal(r.headers.etag, await version(path), `${what}: the new ETag`);
    };
    const settings = async (patchResponse?: string) => {
      if (patchResponse) t.equal((await a.admin('PATCH', `/tenants/${a.tenant}`, { settings: { patchResponse } })).status, 200);
      return (await a.admin('GET', `/tenants/${a.tenant}`)).body.settings.patchResponse;
    };

    // The default, "auto": a Group PATCH answers 204, a User PATCH 200 with the user.
    t.equal(await settings(), 'auto', 'a tenant that never set patchResponse has "auto"');
    const g = await patchGroup();
    await noContent(g, `/Groups/${id}`, 'auto, Group');
    t.notOk('preference-applied' in g.headers, 'no Preference-Applied without Prefer');
    t.equal((await a.scim('GET', `/Groups/${id}`)).body.displayName, `G${n}`, 'the 204 PATCH was applied');
    const u = await patchUser();
    await resource(u, `/Users/${alice}`, 'auto, User');
    t.equal(u.body.title, `t${n}`);
    t.notOk('preference-applied' in u.headers);

    // Prefer overrides the tenant setting both ways (RFC 7240), and says so.
    const gFull = await patchGroup('', { prefer: 'return=representation' });
    await resource(gFull, `/Groups/${id}`, 'auto, Group, Prefer: return=representation');
    t.same(memberIds(gFull.body), [alice], 'with its members');
    t.equal(gFull.headers['preference-applied'], 'return=representation');
    const uMinimal = await patchUser('', { prefer: 'return=minimal' });
    await noContent(uMinimal, `/Users/${alice}`, 'auto, User, Prefer: return=minimal');
    t.equal(uMinimal.headers['preference-applied'], 'return=minimal');
    const memberMinimal = await a.scim('PATCH', `/Groups/${id}`, patch({ op: 'add', path: 'members', value: [{ value: bob }] }), { prefer: 'return=minimal' });
    t.equal(memberMinimal.status, 204, 'a member add with Prefer: return=minimal');
    t.equal(memberMinimal.headers['preference-applied'], 'return=minimal');

    // attributes / excludedAttributes on the URL: 200 with the resource so shaped (RFC 7644 §3.5.2:
    // "MUST return a 200 OK if the attributes parameter is specified"), before Prefer and the setting.
    const gAttrs = await patchGroup('?attributes=displayName');
    await resource(gAttrs, `/Groups/${id}`, 'auto, Group, attributes');
    t.same(Object.keys(gAttrs.body).sort(), ['displayName', 'id', 'schemas'], 'the attributes parameter shapes the PATCH response');
    const gExcluded = await patchGroup('?excludedAttributes=members');
    t.equal(gExcluded.status, 200, 'auto, Group, excludedAttributes: 200');
    t.notOk('members' in gExcluded.body, 'without members');
    t.equal(gExcluded.body.displayName, `G${n}`);
    const gAttrsMinimal = await patchGroup('?attributes=displayName', { prefer: 'return=minimal' });
    t.equal(gAttrsMinimal.status, 200, 'attributes wins over Prefer: return=minimal');
    t.same(Object.keys(gAttrsMinimal.body).sort(), ['displayName', 'id', 'schemas']);
    t.notOk('preference-applied' in gAttrsMinimal.headers, 'the preference was not applied, so no Preference-Applied');
    const gAttrsFull = await patchGroup('?attributes=displayName', { prefer: 'return=representation' });
    t.equal(gAttrsFull.status, 200);
    t.equal(gAttrsFull.headers['preference-applied'], 'return=representation');
    const uAttrsMinimal = await patchUser('?attributes=title', { prefer: 'return=minimal' });
    t.equal(uAttrsMinimal.status, 200, 'User: attributes wins over Prefer: return=minimal');
    t.same(Object.keys(uAttrsMinimal.body).sort(), ['id', 'schemas', 'title']);

    // "resource": 200 with the resource for both; Prefer still overrides.
    t.equal(await settings('resource'), 'resource');
    const gResource = await patchGroup();
    await resource(gResource, `/Groups/${id}`, 'resource, Group');
    t.same(memberIds(gResource.body), [alice, bob].sort());
    await resource(await patchUser(), `/Users/${alice}`, 'resource, User');
    await noContent(await patchGroup('', { prefer: 'return=minimal' }), `/Groups/${id}`, 'resource, Group, Prefer: return=minimal');
    await noContent(await patchUser('', { prefer: 'return=minimal' }), `/Users/${alice}`, 'resource, User, Prefer: return=minimal');

    // "noContent": 204 for both; Prefer and attributes still give 200.
    t.equal(await settings('noContent'), 'noContent');
    const gNone = await patchGroup();
    await noContent(gNone, `/Groups/${id}`, 'noContent, Group');
    t.notOk('preference-applied' in gNone.headers);
    await noContent(await patchUser(), `/Users/${alice}`, 'noContent, User');
    const uFull = await patchUser('', { prefer: 'return=representation' });
    await resource(uFull, `/Users/${alice}`, 'noContent, User, Prefer: return=representation');
    t.equal(uFull.headers['preference-applied'], 'return=representation');
    await resource(await patchGroup('', { prefer: 'return=representation' }), `/Groups/${id}`, 'noContent, Group, Prefer: return=representation');
    const gNoneAttrs = await patchGroup('?attributes=displayName');
    await resource(gNoneAttrs, `/Groups/${id}`, 'noContent, Group, attributes');
    t.same(Object.keys(gNoneAttrs.body).sort(), ['displayName', 'id', 'schemas']);
    const uNoneAttrs = await patchUser('?excludedAttributes=groups');
    await resource(uNoneAttrs, `/Users/${alice}`, 'noContent, User, excludedAttributes');
    t.notOk('groups' in uNoneAttrs.body);

    // "auto" set explicitly is the default.
    t.equal(await settings('auto'), 'auto');
    await noContent(await patchGroup(), `/Groups/${id}`, 'auto set explicitly, Group');
    await resource(await patchUser(), `/Users/${alice}`, 'auto set explicitly, User');
  });
}
