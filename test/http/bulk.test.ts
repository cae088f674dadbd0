import { readFileSync } from 'node:fs';
import t from 'tap';
import { ENTERPRISE, ERROR_SCHEMA, startApp, user, type TestApp } from '../helpers/app.js';
import { backends } from '../helpers/db.js';

const BULK_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const BULK_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:BulkResponse';
const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const BASE = 'https://roster.test/scim/v2/acme';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/rfc/${name}`, import.meta.url), 'utf8'));
const bulk = (Operations: unknown[], extra: Record<string, unknown> = {}) => ({ schemas: [BULK_REQUEST], ...extra, Operations });

async function newUser(a: TestApp, userName: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await a.scim('POST', '/Users', user(userName, extra));
  if (r.status !== 201) throw new Error(`user ${userName}: ${r.status}`);
  return r.body.id;
}

const idOf = (location: string) => location.slice(location.lastIndexOf('/') + 1);

for (const backend of backends) {
  t.test(`${backend}: RFC 7644 §3.7.2: create a user, then a group containing it by bulkId`, async (t) => {
    const a = await startApp(t, backend);
    const r = await a.scim('POST', '/Bulk', fixture('7644-3.7.2-bulk-bulkid.json'));
    t.equal(r.status, 200);
    t.match(r.headers['content-type'], /application\/scim\+json/);
    t.same(r.body.schemas, [BULK_RESPONSE]);
    const [u, g] = r.body.Operations;
    t.match(u, { method: 'POST', bulkId: 'qwerty', status: '201', version: 'W/"1"' });
    t.match(u.location, new RegExp(`^${BASE}/Users/[0-9a-f-]{36}$`));
    t.match(g, { method: 'POST', bulkId: 'ytrewq', status: '201', version: 'W/"1"' });
    t.match(g.location, new RegExp(`^${BASE}/Groups/[0-9a-f-]{36}$`));
    t.notOk('response' in u, 'successful operations carry no response body');
    const userId = idOf(u.location);
    const tourGuides = await a.scim('GET', `/Groups/${idOf(g.location)}`);
    t.equal(tourGuides.body.displayName, 'Tour Guides');
    t.same(tourGuides.body.members, [{ value: userId, $ref: `${BASE}/Users/${userId}`, display: 'Alice', type: 'User' }]);
  });

  t.test(`${backend}: RFC 7644 §3.7.2: bulkId inside an extension, and references resolved in any order or position`, async (t) => {
    const a = await startApp(t, backend);
    const r = await a.scim('POST', '/Bulk', fixture('7644-3.7.2-bulk-bulkid-extension.json'));
    t.same(r.body.Operations.map((o: any) => o.status), ['201', '201']);
    const alice = idOf(r.body.Operations[0].location);
    const bob = await a.scim('GET', `/Users/${idOf(r.body.Operations[1].location)}`);
    t.equal(bob.body[ENTERPRISE].manager.value, alice);
    t.equal(bob.body[ENTERPRISE].employeeNumber, '11250');

    // Forward reference (the group comes first), a reference in a path, and one in a PATCH value.
    const fwd = await a.scim(
      'POST',
      '/Bulk',
      bulk([
        { method: 'POST', path: '/Groups', bulkId: 'g', data: { schemas: [GROUP_SCHEMA], displayName: 'Later', members: [{ value: 'bulkId:u' }] } },
        { method: 'PATCH', path: '/Users/bulkId:u', data: { schemas: [PATCH], Operations: [{ op: 'replace', path: 'title', value: 'Guide' }] } },
        { method: 'POST', path: '/Users', bulkId: 'u', data: user('carol@example.com') },
        { method: 'PATCH', path: '/Groups/bulkId:g', data: { schemas: [PATCH], Operations: [{ op: 'add', path: 'members', value: [{ value: 'bulkId:v' }] }] } },
        { method: 'POST', path: '/Users', bulkId: 'v', data: user('dave@example.com') },
      ]),
    );
    t.same(fwd.body.Operations.map((o: any) => [o.method, o.status]), [
      ['POST', '201'],
      ['PATCH', '200'],
      ['POST', '201'],
      ['PATCH', '204'],
      ['POST', '201'],
    ], 'results come back in request order (by default a User PATCH is 200, a Group PATCH 204)');
    const carol = idOf(fwd.body.Operations[2].location);
    const dave = idOf(fwd.body.Operations[4].location);
    t.equal(fwd.body.Operations[1].location, `${BASE}/Users/${carol}`);
    t.equal(fwd.body.Operations[1].version, 'W/"2"');
    t.equal((await a.scim('GET', `/Users/${carol}`)).body.title, 'Guide');
    const later = await a.scim('GET', `/Groups/${idOf(fwd.body.Operations[0].location)}`);
    t.same(later.body.members.map((m: any) => m.value).sort(), [carol, dave].sort());
  });

  t.test(`${backend}: RFC 7644 §3.7.1: circular references between groups are resolved`, async (t) => {
    const a = await startApp(t, backend);
    const r = await a.scim('POST', '/Bulk', fixture('7644-3.7.1-bulk-circular.json'));
    t.same(r.body.Operations.map((o: any) => [o.bulkId, o.status]), [
      ['qwerty', '201'],
      ['ytrewq', '201'],
    ]);
    const groupA = idOf(r.body.Operations[0].location);
    const groupB = idOf(r.body.Operations[1].location);
    const list = await a.scim('GET', '/Groups?sortBy=displayName');
    t.same(
      list.body.Resources.map((g: any) => [g.displayName, g.members.map((m: any) => [m.value, m.type, m.display])]),
      [
        ['Group A', [[groupB, 'Group', 'Group B']]],
        ['Group B', [[groupA, 'Group', 'Group A']]],
      ],
    );
    t.equal(r.body.Operations[0].version, (await a.scim('GET', `/Groups/${groupA}`)).headers.etag, 'the version reported is the final one');

    // A cycle through user data cannot be broken: 409 for its operations.
    const stuck = await a.scim(
      'POST',
      '/Bulk',
      bulk([
        { method: 'POST', path: '/Users', bulkId: 'x', data: user('x@example.com', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE], [ENTERPRISE]: { manager: { value: 'bulkId:y' } } }) },
        { method: 'POST', path: '/Users', bulkId: 'y', data: user('y@example.com', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE], [ENTERPRISE]: { manager: { value: 'bulkId:x' } } }) },
      ]),
    );
    t.same(stuck.body.Operations.map((o: any) => o.status), ['409', '409']);
    t.match(stuck.body.Operations[0].response.detail, /circular/);
    t.equal((await a.scim('GET', '/Users')).body.totalResults, 0);
  });

  t.test(`${backend}: RFC 7644 §3.7.3: POST, PUT, PATCH, DELETE with versions; failOnErrors`, async (t) => {
    const a = await startApp(t, backend);
    const bob = await newUser(a, 'bob@example.com');
    const dave = await newUser(a, 'dave@example.com', { nickName: 'D' });
    const eve = await newUser(a, 'eve@example.com');
    const request = fixture('7644-3.7.3-bulk-request.json');
    const expected = fixture('7644-3.7.3-bulk-response.json');
    // The RFC's ids and ETags are of its example server; put ours in.
    const withIds = (versions: string[]) => {
      const body = structuredClone(request);
      body.Operations[1].path = `/Users/${bob}`;
      body.Operations[1].data.id = bob;
      body.Operations[2].path = `/Users/${dave}`;
      body.Operations[3].path = `/Users/${eve}`;
      body.Operations[1].version = versions[0];
      body.Operations[2].version = versions[1];
      body.Operations[3].version = versions[2];
      return body;
    };

    // As printed, the versions match nothing here: with failOnErrors 1 processing stops at the first failure.
    const stopped = await a.scim('POST', '/Bulk', withIds(request.Operations.slice(1).map((o: any) => o.version)));
    t.equal(stopped.status, 200);
    t.equal(stopped.body.Operations.length, 2, 'the response holds the operations processed up to the error');
    t.match(stopped.body.Operations[0], { method: 'POST', bulkId: 'qwerty', status: '201' });
    t.same(stopped.body.Operations[1], {
      method: 'PUT',
      location: `${BASE}/Users/${bob}`,
      status: '412',
      response: { schemas: [ERROR_SCHEMA], status: '412', detail: stopped.body.Operations[1].response.detail },
    });
    t.equal((await a.scim('GET', `/Users/${dave}`)).body.nickName, 'D', 'operations after the stop did not run');
    t.equal((await a.scim('GET', `/Users/${eve}`)).status, 200);

    // With matching versions every operation succeeds, as in the RFC's response.
    await a.scim('DELETE', `/Users/${idOf(stopped.body.Operations[0].location)}`);
    const ok = await a.scim('POST', '/Bulk', withIds(['W/"1"', 'W/"1"', 'W/"1"']));
    t.same(
      ok.body.Operations.map((o: any) => ({ ...o, location: o.location.replace(BASE, 'https://example.com/v2'), ...(o.version ? { version: 'v' } : {}) })),
      expected.Operations.map((o: any, i: number) => ({
        ...o,
        location: i === 0 ? ok.body.Operations[0].location.replace(BASE, 'https://example.com/v2') : `https://example.com/v2/Users/${[bob, dave, eve][i - 1]}`,
        ...(o.version ? { version: 'v' } : {}),
      })),
      'statuses, methods, bulkId, locations and versions as in the RFC example',
    );
    t.same(ok.body.Operations.slice(0, 3).map((o: any) => o.version), ['W/"1"', 'W/"2"', 'W/"2"']);
    const daveNow = await a.scim('GET', `/Users/${dave}`);
    t.equal(daveNow.body.userName, 'Dave');
    t.notOk('nickName' in daveNow.body);
    t.equal((await a.scim('GET', `/Users/${eve}`)).status, 404);

    // Without failOnErrors every operation is attempted and each failure reported (the RFC's "all failed" example).
    const allFail = await a.scim(
      'POST',
      '/Bulk',
      bulk([
        { method: 'POST', path: '/Users', bulkId: 'qwerty', data: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'] } },
        { method: 'PUT', path: `/Users/${bob}`, version: 'W/"1"', data: user('bob@example.com') },
        { method: 'PATCH', path: `/Users/${dave}`, version: 'W/"1"', data: { schemas: [PATCH], Operations: [{ op: 'replace', path: 'title', value: 'x' }] } },
        { method: 'DELETE', path: `/Users/${eve}`, version: 'W/"1"' },
      ]),
    );
    t.same(allFail.body.Operations.map((o: any) => [o.method, o.status, o.location ?? null, o.response.status]), [
      ['POST', '400', null, '400'],
      ['PUT', '412', `${BASE}/Users/${bob}`, '412'],
      ['PATCH', '412', `${BASE}/Users/${dave}`, '412'],
      ['DELETE', '404', `${BASE}/Users/${eve}`, '404'],
    ]);
    t.equal(allFail.body.Operations[0].response.scimType, 'invalidValue');
    t.same(allFail.body.Operations[0].response.schemas, [ERROR_SCHEMA]);

    // failOnErrors 2: stops after the second failure.
    const two = await a.scim(
      'POST',
      '/Bulk',
      bulk(
        [
          { method: 'DELETE', path: `/Users/${eve}` },
          { method: 'POST', path: '/Users', bulkId: 'a', data: user('a@example.com') },
          { method: 'DELETE', path: `/Users/${eve}` },
          { method: 'POST', path: '/Users', bulkId: 'b', data: user('b@example.com') },
        ],
        { failOnErrors: 2 },
      ),
    );
    t.same(two.body.Operations.map((o: any) => o.status), ['404', '201', '404']);
    t.equal((await a.scim('GET', `/Users?filter=${encodeURIComponent('userName eq "b@example.com"')}`)).body.totalResults, 0);
  });

  t.test(`${backend}: bulk errors: malformed operations, references, limits`, async (t) => {
    const a = await startApp(t, backend, { BULK_MAX_OPERATIONS: '3', MAX_BODY_BYTES: '4096' });
    const spc = await a.scim('GET', '/ServiceProviderConfig');
    t.same(spc.body.bulk, { supported: true, maxOperations: 3, maxPayloadSize: 4096 }, 'limits are advertised');

    const tooMany = await a.scim('POST', '/Bulk', bulk([1, 2, 3, 4].map((i) => ({ method: 'POST', path: '/Users', bulkId: `u${i}`, data: user(`u${i}@example.com`) }))));
    t.equal(tooMany.status, 413);
    t.equal(tooMany.body.scimType, 'tooMany');
    t.match(tooMany.body.detail, /maxOperations \(3\)/);
    t.equal((await a.scim('GET', '/Users')).body.totalResults, 0, 'nothing ran');

    const big = await a.scim('POST', '/Bulk', bulk([{ method: 'POST', path: '/Users', bulkId: 'x', data: user('x@example.com', { title: 'x'.repeat(5000) }) }]));
    t.equal(big.status, 413);
    t.same(big.body.schemas, [ERROR_SCHEMA]);
    t.match(big.body.detail, /4096/);

    const expect400 = async (label: string, body: unknown, scimType: string) => {
      const r = await a.scim('POST', '/Bulk', body);
      t.equal(r.status, 400, label);
      t.equal(r.body.scimType, scimType, label);
    };
    await expect400('no Operations', { schemas: [BULK_REQUEST] }, 'invalidSyntax');
    await expect400('not an object', [1], 'invalidSyntax');
    await expect400('bad failOnErrors', bulk([], { failOnErrors: 0 }), 'invalidValue');
    await expect400('duplicate bulkId', bulk([
      { method: 'POST', path: '/Users', bulkId: 'd', data: user('d1@example.com') },
      { method: 'POST', path: '/Users', bulkId: 'd', data: user('d2@example.com') },
    ]), 'invalidValue');

    const strict = await a.newTenant('strict');
    await a.admin('PATCH', '/tenants/strict', { settings: { compatibility: 'strict' } });
    const noSchema = await a.app.inject({
      method: 'POST',
      url: '/scim/v2/strict/Bulk',
      headers: { authorization: `Bearer ${strict.token}`, 'content-type': 'application/scim+json' },
      payload: JSON.stringify({ Operations: [] }),
    });
    t.equal(noSchema.statusCode, 400, 'strict tenants need the BulkRequest schema');
    t.equal(noSchema.json().scimType, 'invalidSyntax');
    t.equal((await a.scim('POST', '/Bulk', { Operations: [] })).status, 200, 'lenient tenants do not');

    const r = await a.scim(
      'POST',
      '/Bulk',
      bulk([
        { method: 'GET', path: '/Users' },
        { method: 'POST', path: '/Users', data: user('nobulkid@example.com') },
        { method: 'POST', path: '/Widgets', bulkId: 'w', data: {} },
      ]),
    );
    t.same(r.body.Operations.map((o: any) => [o.method, o.status, o.response.scimType]), [
      ['GET', '400', 'invalidSyntax'],
      ['POST', '400', 'invalidSyntax'],
      ['POST', '400', 'invalidValue'],
    ]);
    const refs = await a.scim(
      'POST',
      '/Bulk',
      bulk([
        { method: 'POST', path: '/Users', bulkId: 'taken', data: user('nobulkid@example.com') },
        { method: 'POST', path: '/Users', bulkId: 'dup', data: user('NoBulkId@example.com') },
        { method: 'POST', path: '/Groups', bulkId: 'g', data: { schemas: [GROUP_SCHEMA], displayName: 'G', members: [{ value: 'bulkId:dup' }] } },
      ]),
    );
    t.same(refs.body.Operations.map((o: any) => o.status), ['201', '409', '409'], 'a reference to a failed operation is 409');
    t.equal(refs.body.Operations[1].response.scimType, 'uniqueness');
    t.notOk('location' in refs.body.Operations[1], 'a failed POST has no location');
    t.match(refs.body.Operations[2].response.detail, /bulkId:dup/);
    const undefinedRef = await a.scim('POST', '/Bulk', bulk([{ method: 'PATCH', path: '/Users/bulkId:nope', data: { schemas: [PATCH], Operations: [{ op: 'replace', path: 'title', value: 'x' }] } }]));
    t.equal(undefinedRef.body.Operations[0].status, '400');
    t.equal(undefinedRef.body.Operations[0].response.scimType, 'invalidValue');
    t.equal((await a.scim('GET', '/Groups')).body.totalResults, 0);
  });

  t.test(`${backend}: bulk PATCH status follows the tenant's patchResponse per resource type`, async (t) => {
    const a = await startApp(t, backend);
    const bob = await newUser(a, 'bob@example.com');
    const gid = (await a.scim('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'G' })).body.id as string;
    let n = 0;
    const statuses = async (headers: Record<string, string> = {}) => {
      const r = await a.scim(
        'POST',
        '/Bulk',
        bulk([
          { method: 'PATCH', path: `/Users/${bob}`, data: { schemas: [PATCH], Operations: [{ op: 'replace', path: 'title', value: `t${++n}` }] } },
          { method: 'PATCH', path: `/Groups/${gid}`, data: { schemas: [PATCH], Operations: [{ op: 'replace', path: 'displayName', value: `G${n}` }] } },
        ]),
        headers,
      );
      t.equal(r.status, 200);
      t.same(r.body.Operations.map((o: any) => o.location), [`${BASE}/Users/${bob}`, `${BASE}/Groups/${gid}`]);
      t.notOk(r.body.Operations.some((o: any) => 'response' in o), 'no response bodies');
      return r.body.Operations.map((o: any) => o.status);
    };
    t.same(await statuses(), ['200', '204'], 'default ("auto"): User 200, Group 204');
    t.same(await statuses({ prefer: 'return=representation' }), ['200', '204'], 'Prefer on the /Bulk request does not change the operations');
    await a.admin('PATCH', `/tenants/${a.tenant}`, { settings: { patchResponse: 'noContent' } });
    t.same(await statuses(), ['204', '204'], 'noContent');
    await a.admin('PATCH', `/tenants/${a.tenant}`, { settings: { patchResponse: 'resource' } });
    t.same(await statuses(), ['200', '200'], 'resource');
    await a.admin('PATCH', `/tenants/${a.tenant}`, { settings: { patchResponse: 'auto' } });
    t.same(await statuses(), ['200', '204'], 'auto');
    const last = await a.scim('POST', '/Bulk', bulk([{ method: 'PATCH', path: `/Users/${bob}`, data: { schemas: [PATCH], Operations: [{ op: 'replace', path: 'title', value: 'x' }] } }]));
    t.same(last.body.Operations, [{ method: 'PATCH', status: '200', location: `${BASE}/Users/${bob}`, version: `W/"${n + 2}"` }]);
  });
}
