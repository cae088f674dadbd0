import t from 'tap';
import { backends } from '../helpers/db.js';
import { ENTERPRISE, ERROR_SCHEMA, startApp, user, USER_SCHEMA } from '../helpers/app.js';

const bjensen = () =>
  user('bjensen@example.com', {
    schemas: [USER_SCHEMA, ENTERPRISE],
    externalId: 'ext-bjensen',
    name: { givenName: 'Barbara', familyName: 'Jensen', formatted: 'Ms. Barbara J Jensen III' },
    displayName: 'Babs Jensen',
    title: 'Tour Guide',
    active: true,
    password: 't1meMa$heen',
    emails: [
      { value: 'bjensen@example.com', type: 'work', primary: true },
      { value: 'babs@jensen.org', type: 'home' },
    ],
    phoneNumbers: [{ value: '555-555-8377', type: 'work' }],
    [ENTERPRISE]: {
      employeeNumber: '701984',
      costCenter: '4130',
      department: 'Tour Operations',
      manager: { value: '26118915-6090-4610-87e4-49d8ca9f808d' },
      customfield: 'blue',
    },
  });

for (const backend of backends) {
  t.test(`${backend}: user lifecycle over HTTP`, async (t) => {
    const a = await startApp(t, backend);

    const created = await a.scim('POST', '/Users', bjensen());
    t.equal(created.status, 201);
    t.match(created.headers['content-type'], /^application\/scim\+json/);
    const id = created.body.id as string;
    t.match(id, /^[0-9a-f-]{36}$/);
    t.equal(created.headers.location, `https://roster.test/scim/v2/acme/Users/${id}`);
    t.equal(created.headers.etag, 'W/"1"');
    t.same(created.body.meta, {
      resourceType: 'User',
      created: created.body.meta.created,
      lastModified: created.body.meta.created,
      location: `https://roster.test/scim/v2/acme/Users/${id}`,
      version: 'W/"1"',
    });
    t.notOk('password' in created.body, 'password is never returned');
    t.equal(created.body[ENTERPRISE].department, 'Tour Operations');
    t.equal(created.body[ENTERPRISE].customfield, 'blue', 'custom enterprise fields are stored and returned');
    t.equal(created.body.name.givenName, 'Barbara');

    const got = await a.scim('GET', `/Users/${id}`);
    t.equal(got.status, 200);
    t.same(got.body, created.body);
    t.equal(got.headers.etag, 'W/"1"');
    const raw = await a.database.db.selectFrom('users').select('resource').where('id', '=', id).executeTakeFirstOrThrow();
    t.notOk(JSON.stringify(raw.resource).includes('t1meMa$heen'), 'password is not stored');

    // If-None-Match → 304
    const notModified = await a.scim('GET', `/Users/${id}`, undefined, { 'if-none-match': 'W/"1"' });
    t.equal(notModified.status, 304);
    t.equal((await a.scim('GET', `/Users/${id}`, undefined, { 'if-none-match': 'W/"7"' })).status, 200);

    // PUT replaces; readOnly input (id, meta) ignored.
    const replaced = await a.scim('PUT', `/Users/${id}`, {
      ...bjensen(),
      id: 'ignored',
      meta: { created: '1999-01-01T00:00:00Z' },
      title: 'Head Guide',
      emails: [{ value: 'bjensen@example.com', type: 'work', primary: true }],
    });
    t.equal(replaced.status, 200);
    t.equal(replaced.body.id, id);
    t.equal(replaced.body.title, 'Head Guide');
    t.equal(replaced.body.emails.length, 1);
    t.equal(replaced.body.meta.version, 'W/"2"');
    t.equal(replaced.body.meta.created, created.body.meta.created);
    t.equal(replaced.headers.etag, 'W/"2"');

    // A PUT that changes nothing keeps the version.
    const same = await a.scim('PUT', `/Users/${id}`, { ...bjensen(), title: 'Head Guide', emails: [{ value: 'bjensen@example.com', type: 'work', primary: true }] });
    t.equal(same.status, 200);
    t.equal(same.body.meta.version, 'W/"2"');

    // If-Match mismatch → 412 and nothing changes.
    const stale = await a.scim('PUT', `/Users/${id}`, { ...bjensen(), title: 'Stale write' }, { 'if-match': 'W/"1"' });
    t.equal(stale.status, 412);
    t.equal((await a.scim('GET', `/Users/${id}`)).body.title, 'Head Guide');
    const fresh = await a.scim('PUT', `/Users/${id}`, { ...bjensen(), title: 'Fresh write' }, { 'if-match': 'W/"2"' });
    t.equal(fresh.status, 200);

    // PATCH: deactivate.
    const patched = await a.scim('PATCH', `/Users/${id}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'active', value: false }],
    });
    t.equal(patched.status, 200);
    t.equal(patched.body.active, false);
    t.equal(patched.body.meta.version, 'W/"4"');

    // DELETE
    t.equal((await a.scim('DELETE', `/Users/${id}`, undefined, { 'if-match': 'W/"1"' })).status, 412);
    t.equal((await a.scim('DELETE', `/Users/${id}`)).status, 204);
    const gone = await a.scim('GET', `/Users/${id}`);
    t.equal(gone.status, 404);
    t.same(gone.body.schemas, [ERROR_SCHEMA]);
    t.equal(gone.body.status, '404');
    t.equal((await a.scim('DELETE', `/Users/${id}`)).status, 404);
  });

  t.test(`${backend}: bad input gets precise SCIM errors and changes nothing`, async (t) => {
    const a = await startApp(t, backend);
    const first = await a.scim('POST', '/Users', user('Alice@Example.com'));
    t.equal(first.status, 201);

    const expectError = async (label: string, res: Promise<{ status: number; body: any; headers: any }>, status: number, scimType?: string) => {
      const r = await res;
      t.equal(r.status, status, `${label}: status`);
      t.same(r.body.schemas, [ERROR_SCHEMA], `${label}: error schema`);
      t.equal(r.body.status, String(status), `${label}: status as string`);
      if (scimType) t.equal(r.body.scimType, scimType, `${label}: scimType`);
      t.type(r.body.detail, 'string', `${label}: detail`);
      t.match(r.headers['content-type'], /application\/scim\+json/, `${label}: content type`);
      return r;
    };

    await expectError('invalid JSON', a.scim('POST', '/Users', '{"userName": '), 400, 'invalidSyntax');
    await expectError('missing userName', a.scim('POST', '/Users', { schemas: [USER_SCHEMA] }), 400, 'invalidValue');
    await expectError('wrong type', a.scim('POST', '/Users', user('x@example.com', { active: 'yes please' })), 400, 'invalidValue');
    await expectError('wrong type for name', a.scim('POST', '/Users', user('y@example.com', { name: 'Bob' })), 400, 'invalidValue');
    await expectError('body is an array', a.scim('POST', '/Users', [user('z@example.com')]), 400);
    const dup = await expectError('duplicate userName, other case', a.scim('POST', '/Users', user('alice@example.COM')), 409, 'uniqueness');
    t.match(dup.body.detail, /alice@example\.COM/);
    await expectError('unknown id', a.scim('GET', '/Users/00000000-0000-4000-8000-000000000000'), 404);
    await expectError('non-uuid id', a.scim('GET', '/Users/not-a-uuid'), 404);
    await expectError('non-uuid id on PUT', a.scim('PUT', '/Users/not-a-uuid', user('q@example.com')), 404);
    await expectError('non-uuid id on PATCH', a.scim('PATCH', '/Users/not-a-uuid', { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: false }] }), 404);
    await expectError('bad filter', a.scim('GET', '/Users?filter=' + encodeURIComponent('userName eq')), 400, 'invalidFilter');
    await expectError('unknown filter attribute', a.scim('GET', '/Users?filter=' + encodeURIComponent('shoeSize eq "9"')), 400, 'invalidFilter');
    await expectError('bad operator', a.scim('GET', '/Users?filter=' + encodeURIComponent('userName xx "a"')), 400, 'invalidFilter');
    await expectError('bad startIndex', a.scim('GET', '/Users?startIndex=abc'), 400, 'invalidValue');
    await expectError('bad sortOrder', a.scim('GET', '/Users?sortOrder=sideways'), 400, 'invalidValue');
    await expectError('unknown sortBy', a.scim('GET', '/Users?sortBy=shoeSize'), 400, 'invalidValue');
    const big = 'x'.repeat(1_100_000);
    await expectError('body over the limit', a.scim('POST', '/Users', user('big@example.com', { title: big })), 413);
    await expectError('unknown route', a.scim('GET', '/Widgets'), 404);

    // PUT that would take another user's userName: 409, and the user is unchanged.
    const bob = await a.scim('POST', '/Users', user('bob@example.com', { title: 'Builder' }));
    await expectError('rename onto a taken userName', a.scim('PUT', `/Users/${bob.body.id}`, user('ALICE@example.com')), 409, 'uniqueness');
    const bobAfter = await a.scim('GET', `/Users/${bob.body.id}`);
    t.equal(bobAfter.body.userName, 'bob@example.com');
    t.equal(bobAfter.body.title, 'Builder');
    t.equal(bobAfter.body.meta.version, 'W/"1"');

    const list = await a.scim('GET', '/Users');
    t.equal(list.body.totalResults, 2, 'no rejected request created anything');
  });

  t.test(`${backend}: content types`, async (t) => {
    const a = await startApp(t, backend);
    const post = (headers: Record<string, string>, userName: string) =>
      a.app.inject({ method: 'POST', url: '/scim/v2/acme/Users', headers: { authorization: `Bearer ${a.token}`, ...headers }, payload: JSON.stringify(user(userName)) });
    t.equal((await post({ 'content-type': 'application/scim+json' }, 'a@x.com')).statusCode, 201);
    t.equal((await post({ 'content-type': 'application/json' }, 'b@x.com')).statusCode, 201);
    t.equal((await post({ 'content-type': 'application/json; charset=utf-8' }, 'c@x.com')).statusCode, 201);
    // Okta sends some writes with no Content-Type at all.
    const none = await a.app.inject({ method: 'POST', url: '/scim/v2/acme/Users', headers: { authorization: `Bearer ${a.token}` }, payload: Buffer.from(JSON.stringify(user('d@x.com'))) });
    t.equal(none.statusCode, 201);
    const empty = await a.app.inject({ method: 'POST', url: '/scim/v2/acme/Users', headers: { authorization: `Bearer ${a.token}`, 'content-type': 'application/scim+json' }, payload: '' });
    t.equal(empty.statusCode, 400);
  });

  t.test(`${backend}: listing, filtering, sorting, paging, projection`, async (t) => {
    const a = await startApp(t, backend);
    const names = ['carol', 'alice', 'dave', 'bob', 'erin'];
    const ids: Record<string, string> = {};
    for (const [i, n] of names.entries()) {
      const r = await a.scim(
        'POST',
        '/Users',
        user(`${n}@example.com`, {
          schemas: [USER_SCHEMA, ENTERPRISE],
          externalId: `ext-${n}`,
          name: { givenName: n[0]!.toUpperCase() + n.slice(1), familyName: 'Tester' },
          displayName: n.toUpperCase(),
          active: i % 2 === 0,
          emails: [{ value: `${n}@work.example.com`, type: 'work', primary: true }, { value: `${n}@home.example.org`, type: 'home' }],
          [ENTERPRISE]: { department: i < 2 ? 'Sales' : 'R&D', customfield: `c${i}` },
        }),
      );
      t.equal(r.status, 201);
      ids[n] = r.body.id;
    }
    const q = async (query: string) => {
      const r = await a.scim('GET', `/Users?${query}`);
      t.equal(r.status, 200, query);
      return r.body;
    };
    const userNames = (body: any) => body.Resources.map((r: any) => r.userName);

    t.same(userNames(await q('filter=' + encodeURIComponent('userName eq "BOB@example.com"'))), ['bob@example.com']);
    t.same(userNames(await q('filter=' + encodeURIComponent('externalId eq "ext-dave"'))), ['dave@example.com']);
    t.same(userNames(await q('filter=' + encodeURIComponent('emails[type eq "work"].value eq "erin@work.example.com"'))), ['erin@example.com']);
    t.same(userNames(await q('filter=' + encodeURIComponent('emails.value eq "ALICE@HOME.example.org"'))), ['alice@example.com']);
    t.same(
      userNames(await q('sortBy=userName&filter=' + encodeURIComponent(`${ENTERPRISE}:department eq "sales"`))),
      ['alice@example.com', 'carol@example.com'],
    );
    t.same(userNames(await q('filter=' + encodeURIComponent(`${ENTERPRISE}:customfield eq "c3"`))), ['bob@example.com']);
    t.same(userNames(await q('sortBy=userName&filter=' + encodeURIComponent('active eq true and name.givenName sw "e"'))), ['erin@example.com']);
    t.same(userNames(await q('sortBy=userName&sortOrder=descending&filter=' + encodeURIComponent('not (active eq true)'))), ['bob@example.com', 'alice@example.com']);
    t.equal((await q('filter=' + encodeURIComponent('meta.created gt "2000-01-01T00:00:00Z"'))).totalResults, 5);
    t.equal((await q('filter=' + encodeURIComponent('meta.lastModified lt "2000-01-01T00:00:00Z"'))).totalResults, 0);

    // Paging: totalResults exact, startIndex 1-based, count capped.
    const p1 = await q('sortBy=userName&startIndex=1&count=2');
    t.same(userNames(p1), ['alice@example.com', 'bob@example.com']);
    t.equal(p1.totalResults, 5);
    t.equal(p1.itemsPerPage, 2);
    t.equal(p1.startIndex, 1);
    const p3 = await q('sortBy=userName&startIndex=5&count=2');
    t.same(userNames(p3), ['erin@example.com']);
    const beyond = await q('startIndex=99');
    t.equal(beyond.totalResults, 5);
    t.same(beyond.Resources, []);
    const zero = await q('count=0');
    t.equal(zero.totalResults, 5);
    t.equal(zero.itemsPerPage, 0);
    const neg = await q('startIndex=-4&count=1&sortBy=userName');
    t.equal(neg.startIndex, 1);
    t.same(userNames(neg), ['alice@example.com']);

    // attributes / excludedAttributes
    const only = await q('attributes=userName,emails.value&filter=' + encodeURIComponent('userName eq "bob@example.com"'));
    const r0 = only.Resources[0];
    t.equal(r0.id, ids.bob, 'id is always returned');
    t.equal(r0.userName, 'bob@example.com');
    t.same(r0.emails, [{ value: 'bob@work.example.com' }, { value: 'bob@home.example.org' }]);
    t.notOk('name' in r0);
    t.notOk('displayName' in r0);
    const excl = await a.scim('GET', `/Users/${ids.bob}?excludedAttributes=emails,name`);
    t.notOk('emails' in excl.body);
    t.notOk('name' in excl.body);
    t.equal(excl.body.displayName, 'BOB');
    const ext = await a.scim('GET', `/Users/${ids.bob}?attributes=${ENTERPRISE}:department`);
    t.same(ext.body[ENTERPRISE], { department: 'R&D' });
  });

  t.test(`${backend}: a user's groups (readOnly, RFC 7643 §4.1.2) come with every read and write response`, async (t) => {
    const a = await startApp(t, backend);
    const ann = (await a.scim('POST', '/Users', user('ann@example.com'))).body.id;
    const ben = (await a.scim('POST', '/Users', user('ben@example.com'))).body.id;
    const mk = async (displayName: string) => (await a.scim('POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName, members: [{ value: ann }] })).body.id;
    const zeta = await mk('Zeta');
    const alpha = await mk('Alpha');
    const expected = [alpha, zeta].map((id, i) => ({ value: id, $ref: `https://roster.test/scim/v2/acme/Groups/${id}`, display: ['Alpha', 'Zeta'][i], type: 'direct' }));
    const patchTitle = { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'title', value: 'Guide' }] };

    t.same((await a.scim('GET', `/Users/${ann}`)).body.groups, expected, 'GET: by group name');
    const patched = await a.scim('PATCH', `/Users/${ann}`, patchTitle);
    t.same([patched.status, patched.body.title, patched.body.groups], [200, 'Guide', expected], 'PATCH response');
    const put = await a.scim('PUT', `/Users/${ann}`, user('ann@example.com', { title: 'Lead' }));
    t.same([put.status, put.body.title, put.body.groups], [200, 'Lead', expected], 'PUT response');
    const found = await a.scim('GET', `/Users?filter=${encodeURIComponent('userName eq "ann@example.com"')}`);
    t.same(found.body.Resources[0].groups, expected, 'filter look-up');
    const root = await a.scim('POST', '/.search', { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter: 'userName sw "ann"' });
    t.same(root.body.Resources.map((r: any) => r.groups), [expected], 'root search');
    t.notOk('groups' in (await a.scim('GET', `/Users/${ann}?excludedAttributes=groups`)).body, 'excludedAttributes=groups');
    t.notOk('groups' in (await a.scim('GET', `/Users/${ben}`)).body, 'a user in no group has no groups attribute');
    t.notOk('groups' in (await a.scim('PATCH', `/Users/${ben}`, patchTitle)).body);
  });
}
