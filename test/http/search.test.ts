import { readFileSync } from 'node:fs';
import t from 'tap';
import { ERROR_SCHEMA, startApp, user, USER_SCHEMA } from '../helpers/app.js';
import { backends } from '../helpers/db.js';

const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const SEARCH = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';
const LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/rfc/${name}`, import.meta.url), 'utf8'));

for (const backend of backends) {
  t.test(`${backend}: POST /Users/.search and /Groups/.search (RFC 7644 §3.4.3)`, async (t) => {
    const a = await startApp(t, backend);
    for (const [userName, displayName] of [
      ['bjensen', 'Barbara Jensen'],
      ['jsmith', 'smith, john'],
      ['asmith', 'Smithers'],
      ['other', 'Someone'],
    ]) {
      await a.scim('POST', '/Users', user(userName!, { displayName, title: 'Guide' }));
    }
    await a.scim('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Smiths' });

    // The RFC's SearchRequest, as printed.
    const r = await a.scim('POST', '/Users/.search', fixture('7644-3.4.3-search-request.json'));
    t.equal(r.status, 200);
    t.same(r.body.schemas, [LIST]);
    t.equal(r.body.totalResults, 2);
    t.equal(r.body.startIndex, 1);
    t.same(
      r.body.Resources.map((u: any) => Object.keys(u).sort()),
      [
        ['displayName', 'id', 'schemas', 'userName'],
        ['displayName', 'id', 'schemas', 'userName'],
      ],
      'attributes limit the response (id and schemas are always returned)',
    );
    t.same(r.body.Resources.map((u: any) => u.userName).sort(), ['asmith', 'jsmith']);

    // RFC 9865 §3: the same with a cursor.
    const c = await a.scim('POST', '/Users/.search', { ...fixture('9865-3-search-request-cursor.json'), count: 1, sortBy: 'userName' });
    t.same(c.body.Resources.map((u: any) => u.userName), ['asmith']);
    t.type(c.body.nextCursor, 'string');
    const c2 = await a.scim('POST', '/Users/.search', { ...fixture('9865-3-search-request-cursor.json'), count: 1, sortBy: 'userName', cursor: c.body.nextCursor });
    t.same(c2.body.Resources.map((u: any) => u.userName), ['jsmith']);
    t.notOk('nextCursor' in c2.body);

    const g = await a.scim('POST', '/Groups/.search', { schemas: [SEARCH], filter: 'displayName sw "smith"', excludedAttributes: ['members'] });
    t.same(g.body.Resources.map((x: any) => x.displayName), ['Smiths']);
    const exclude = await a.scim('POST', '/Users/.search', { schemas: [SEARCH], filter: 'userName eq "bjensen"', excludedAttributes: ['title', 'meta'] });
    t.notOk('title' in exclude.body.Resources[0]);
    t.notOk('meta' in exclude.body.Resources[0]);
    t.equal(exclude.body.Resources[0].displayName, 'Barbara Jensen');

    const expect400 = async (label: string, body: unknown, scimType: string, path = '/Users/.search') => {
      const res = await a.scim('POST', path, body);
      t.equal(res.status, 400, label);
      t.same(res.body.schemas, [ERROR_SCHEMA], label);
      t.equal(res.body.scimType, scimType, label);
    };
    await expect400('bad filter', { schemas: [SEARCH], filter: 'userName eq' }, 'invalidFilter');
    await expect400('unknown attribute', { schemas: [SEARCH], attributes: ['shoeSize'] }, 'invalidValue');
    await expect400('attributes not a list', { schemas: [SEARCH], attributes: 42 }, 'invalidValue');
    await expect400('filter not a string', { schemas: [SEARCH], filter: { userName: 'x' } }, 'invalidValue');
    await expect400('body not an object', [SEARCH], 'invalidSyntax');
    await expect400('bad sortOrder', { schemas: [SEARCH], sortOrder: 'up' }, 'invalidValue', '/Groups/.search');

    // Strict tenants need the SearchRequest schema; lenient ones (the default) do not.
    t.equal((await a.scim('POST', '/Users/.search', { filter: 'userName eq "bjensen"' })).body.totalResults, 1);
    await a.admin('PATCH', `/tenants/${a.tenant}`, { settings: { compatibility: 'strict' } });
    await expect400('no schemas (strict)', { filter: 'userName eq "bjensen"' }, 'invalidSyntax');
    t.equal((await a.scim('POST', '/Users/.search', { schemas: [SEARCH], filter: 'userName eq "bjensen"' })).body.totalResults, 1);
  });

  t.test(`${backend}: searching at the root: Users then Groups, paged by index and by cursor`, async (t) => {
    const a = await startApp(t, backend);
    const users = ['Ann', 'Ben', 'Cid'];
    const groups = ['Admins', 'Builders'];
    const ids: Record<string, string> = {};
    for (const n of users) ids[n] = (await a.scim('POST', '/Users', user(n.toLowerCase(), { displayName: n }))).body.id;
    for (const n of groups) ids[n] = (await a.scim('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: n, members: [{ value: ids.Ann }] })).body.id;
    const search = (body: Record<string, unknown>) => a.scim('POST', '/.search', { schemas: [SEARCH], ...body });
    const shown = (body: any) => body.Resources.map((r: any) => `${r.meta?.resourceType ?? (r.userName ? 'User' : 'Group')}:${r.displayName ?? r.id}`);

    const all = await search({ sortBy: 'displayName' });
    t.equal(all.status, 200);
    t.equal(all.body.totalResults, 5);
    t.same(shown(all.body), ['User:Ann', 'User:Ben', 'User:Cid', 'Group:Admins', 'Group:Builders'], 'Users first, then Groups, each sorted');
    t.same(all.body.Resources[3].schemas, [GROUP_SCHEMA]);
    t.equal(all.body.Resources[3].members[0].value, ids.Ann);
    t.same(all.body.Resources[0].groups.map((g: any) => g.display).sort(), ['Admins', 'Builders']);

    // Index paging across the boundary between types.
    const page = await search({ sortBy: 'displayName', startIndex: 3, count: 2 });
    t.same(shown(page.body), ['User:Cid', 'Group:Admins']);
    t.equal(page.body.startIndex, 3);
    const beyondUsers = await search({ sortBy: 'displayName', startIndex: 5, count: 2 });
    t.same(shown(beyondUsers.body), ['Group:Builders']);

    // Cursor paging across it, forwards and backwards.
    const c1 = await search({ sortBy: 'displayName', cursor: '', count: 2 });
    const c2 = await search({ sortBy: 'displayName', cursor: c1.body.nextCursor, count: 2 });
    const c3 = await search({ sortBy: 'displayName', cursor: c2.body.nextCursor, count: 2 });
    t.same([shown(c1.body), shown(c2.body), shown(c3.body)], [['User:Ann', 'User:Ben'], ['User:Cid', 'Group:Admins'], ['Group:Builders']]);
    t.notOk('nextCursor' in c3.body);
    const back = await search({ sortBy: 'displayName', cursor: c3.body.previousCursor, count: 2 });
    t.same(shown(back.body), ['User:Cid', 'Group:Admins']);
    const back1 = await search({ sortBy: 'displayName', cursor: back.body.previousCursor, count: 2 });
    t.same(shown(back1.body), ['User:Ann', 'User:Ben']);
    t.notOk('previousCursor' in back1.body);
    t.equal((await a.scim('POST', '/Users/.search', { schemas: [SEARCH], sortBy: 'displayName', cursor: c1.body.nextCursor, count: 2 })).body.scimType, 'invalidCursor', 'a root cursor is not a /Users cursor');

    // A filter applies to the types whose schemas have its attributes.
    t.same(shown((await search({ filter: 'displayName sw "b"', sortBy: 'displayName' })).body), ['User:Ben', 'Group:Builders']);
    t.same(shown((await search({ filter: 'userName eq "cid"' })).body), ['User:Cid'], 'userName: Users only');
    t.same(shown((await search({ filter: `members[value eq "${ids.Ann}"]`, sortBy: 'displayName' })).body), ['Group:Admins', 'Group:Builders']);
    const bad = await search({ filter: 'shoeSize eq "9"' });
    t.equal(bad.status, 400);
    t.equal(bad.body.scimType, 'invalidFilter');
    t.equal((await search({ sortBy: 'shoeSize' })).body.scimType, 'invalidValue');

    // attributes per type: userName is a User attribute; Groups then return only what is always returned.
    const projected = await search({ attributes: ['userName'], sortBy: 'displayName' });
    t.same(Object.keys(projected.body.Resources[0]).sort(), ['id', 'schemas', 'userName']);
    t.same(Object.keys(projected.body.Resources[3]).sort(), ['id', 'schemas']);
    t.equal((await search({ attributes: ['shoeSize'] })).body.scimType, 'invalidValue');

    // GET at the root (RFC 7644 §3.4.2.1).
    const get = await a.scim('GET', `/?filter=${encodeURIComponent('displayName eq "Admins"')}`);
    t.equal(get.status, 200);
    t.same(shown(get.body), ['Group:Admins']);
    t.same(get.body.Resources[0].schemas, [GROUP_SCHEMA]);
    t.equal((await a.scim('GET', `/?filter=${encodeURIComponent('userName eq "ann"')}`)).body.Resources[0].schemas[0], USER_SCHEMA);
  });
}
