/**
 * Inputs that used to end in a 500, a stall or an overflow (README.md,
 * "Reliability", "Input limits"), through HTTP on both backends: each gets a
 * precise SCIM error or a correct answer, and nothing is stored half-way.
 */
import t from 'tap';
import {
  MAX_CUSTOM_FIELDS,
  MAX_CUSTOM_FIELD_NAME_LENGTH,
  MAX_INDEXED_LENGTH,
  MAX_JSON_DEPTH,
  MAX_PATCH_OPERATIONS,
  MAX_START_INDEX,
  MAX_VALUES_PER_ATTRIBUTE,
} from '../../src/scim/limits.js';
import { BULK_REQUEST_SCHEMA, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, PATCH_OP_SCHEMA, USER_SCHEMA } from '../../src/scim/schema.js';
import { ADMIN_TOKEN, startApp, user, type TestApp } from '../helpers/app.js';
import { backends } from '../helpers/db.js';

const patch = (...Operations: unknown[]) => ({ schemas: [PATCH_OP_SCHEMA], Operations });

/** Every user and group of the tenant, to compare before and after refused requests. */
async function snapshot(a: TestApp): Promise<string> {
  const users = await a.scim('GET', '/Users?count=1000&sortBy=userName');
  const groups = await a.scim('GET', '/Groups?count=1000&sortBy=displayName');
  return JSON.stringify([users.body.Resources, groups.body.Resources]);
}

/** A JSON body with a raw (unescaped by JSON.stringify) string value spliced in. */
const withRaw = (body: Record<string, unknown>, placeholder: string, rawJsonString: string) => JSON.stringify(body).replace(`"${placeholder}"`, rawJsonString);

for (const backend of backends) {
  t.test(backend, async (t) => {
    const a = await startApp(t, backend);
    const existing = await a.scim('POST', '/Users', user('kept@example.com', { displayName: 'Kept' }));
    const uid = existing.body.id as string;
    const group = await a.scim('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Kept group', members: [{ value: uid }] });
    const gid = group.body.id as string;

    await t.test('NUL and unpaired surrogates are 400 invalidValue naming where, in every kind of write', async (t) => {
      const before = await snapshot(a);
      for (const [what, raw] of [
        ['NUL', '"a\\u0000b"'],
        ['a lone high surrogate', '"\\ud800"'],
        ['a lone low surrogate', '"x\\udc00y"'],
      ] as const) {
        const send = (method: 'POST' | 'PUT' | 'PATCH', path: string, body: string) =>
          a.scim(method, path, body, { 'content-type': 'application/scim+json' });
        const cases: [string, Promise<Awaited<ReturnType<typeof send>>>, RegExp][] = [
          ['POST /Users userName', send('POST', '/Users', withRaw(user('X'), 'X', raw)), /"userName"/],
          ['POST /Users name.givenName', send('POST', '/Users', withRaw(user('n@example.com', { name: { givenName: 'X' } }), 'X', raw)), /"name\.givenName"/],
          ['PUT /Users emails', send('PUT', `/Users/${uid}`, withRaw(user('kept@example.com', { emails: [{ value: 'X' }] }), 'X', raw)), /"emails\[0\]\.value"/],
          ['PATCH /Users', send('PATCH', `/Users/${uid}`, withRaw(patch({ op: 'replace', path: 'displayName', value: 'X' }), 'X', raw)), /"Operations\[0\]\.value"/],
          ['POST /Groups', send('POST', '/Groups', withRaw({ schemas: [GROUP_SCHEMA], displayName: 'X' }, 'X', raw)), /"displayName"/],
          ['PATCH /Groups', send('PATCH', `/Groups/${gid}`, withRaw(patch({ op: 'replace', path: 'displayName', value: 'X' }), 'X', raw)), /"Operations\[0\]\.value"/],
          [
            '/Bulk',
            send('POST', '/Bulk', withRaw({ schemas: [BULK_REQUEST_SCHEMA], Operations: [{ method: 'POST', path: '/Users', bulkId: 'b', data: user('X') }] }, 'X', raw)),
            /"Operations\[0\]\.data\.userName"/,
          ],
          ['an attribute name', send('POST', '/Users', JSON.stringify(user('k@example.com', { PLACE: 1 })).replace('"PLACE"', raw)), /the name of/],
        ];
        for (const [label, pending, where] of cases) {
          const r = await pending;
          t.equal(r.status, 400, `${what}, ${label}: 400`);
          t.equal(r.body.scimType, 'invalidValue', `${what}, ${label}: invalidValue`);
          t.match(r.body.detail, where, `${what}, ${label}: names where (${r.body.detail})`);
        }
      }
      // The admin API and URLs.
      for (const url of ['/admin/v1/tenants/%00', '/admin/v1/tenants?after=%00', `/scim/v2/${a.tenant}/Users/%00`]) {
        const r = await a.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${url.startsWith('/admin') ? ADMIN_TOKEN : a.token}` } });
        t.equal(r.statusCode, 400, `GET ${url}: 400`);
        t.equal(r.json().scimType, 'invalidValue');
      }
      const badName = await a.admin('POST', '/tenants', '{"id":"nul-name","name":"a\\u0000b"}');
      t.equal(badName.status, 400, 'a tenant name with NUL');
      t.equal((await a.admin('GET', '/tenants/nul-name')).status, 404, 'not created');
      const badUrl = await a.app.inject({ method: 'GET', url: '/admin/v1/tenants/%ED%A0%80', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      t.equal(badUrl.statusCode, 400, 'a URL that is not UTF-8');
      t.match(badUrl.json(), { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '400' }, 'in the SCIM error shape');
      t.equal(await snapshot(a), before, 'nothing changed');
    });

    await t.test(`indexed attributes longer than ${MAX_INDEXED_LENGTH} characters are 400 stating the limit`, async (t) => {
      const before = await snapshot(a);
      const long = 'é'.repeat(MAX_INDEXED_LENGTH + 1);
      for (const [label, body] of [
        ['userName', user(`${long}@example.com`)],
        ['externalId', user('e@example.com', { externalId: long })],
        ['displayName', user('d@example.com', { displayName: long })],
        ['emails.value', user('m@example.com', { emails: [{ value: `${long}@example.com` }] })],
      ] as const) {
        const r = await a.scim('POST', '/Users', body);
        t.equal(r.status, 400, `${label}: 400`);
        t.match(r.body, { scimType: 'invalidValue', detail: new RegExp(`"${label.replace('.', '\\.')}" is \\d+ characters long; at most ${MAX_INDEXED_LENGTH}`) });
      }
      const g = await a.scim('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: long });
      t.equal(g.status, 400, 'a group displayName');
      const p = await a.scim('PATCH', `/Users/${uid}`, patch({ op: 'replace', path: 'userName', value: long }));
      t.equal(p.status, 400, 'PATCH of userName');
      // 4-byte characters at the limit still fit the index.
      const wide = await a.scim('POST', '/Users', user('😀'.repeat(MAX_INDEXED_LENGTH / 2)));
      t.equal(wide.status, 201, `${MAX_INDEXED_LENGTH} characters of 4-byte UTF-8 fit`);
      t.equal((await a.scim('DELETE', `/Users/${wide.body.id}`)).status, 204);
      t.equal(await snapshot(a), before, 'nothing changed');
    });

    await t.test('startIndex and count of any size are clamped (RFC 7644 §3.4.2.4)', async (t) => {
      for (const path of ['/Users', '/Groups', '']) {
        for (const startIndex of ['2147483648', '99999999999999999999', '9007199254740993']) {
          const r = await a.scim('GET', `${path}?startIndex=${startIndex}&count=1000000`);
          t.equal(r.status, 200, `GET ${path || '/'}?startIndex=${startIndex}`);
          t.equal(r.body.Resources.length, 0);
          t.equal(r.body.startIndex, MAX_START_INDEX);
          t.type(r.body.totalResults, 'number');
        }
        const search = await a.scim('POST', `${path}/.search`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], startIndex: 2 ** 40, count: 2 ** 40 });
        t.equal(search.status, 200, `POST ${path}/.search`);
        const negative = await a.scim('GET', `${path}?startIndex=-99999999999&count=-5`);
        t.equal(negative.status, 200);
        t.equal(negative.body.startIndex, 1);
        t.equal(negative.body.Resources.length, 0, 'a negative count reads as 0');
      }
      t.equal((await a.scim('GET', '/Users?startIndex=1e400')).status, 400, 'a number beyond JavaScript is not an integer');
    });

    await t.test('limits on custom fields, values, PATCH operations and nesting are precise 4xx, nothing stored', async (t) => {
      const before = await snapshot(a);
      const fields = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`field${i}`, `v${i}`]));
      t.equal((await a.scim('POST', '/Users', user('cf-ok@example.com', { [ENTERPRISE_USER_SCHEMA]: fields(MAX_CUSTOM_FIELDS) }))).status, 201, `${MAX_CUSTOM_FIELDS} custom fields`);
      const tooMany = await a.scim('POST', '/Users', user('cf@example.com', { [ENTERPRISE_USER_SCHEMA]: fields(MAX_CUSTOM_FIELDS + 1) }));
      t.equal(tooMany.status, 400);
      t.match(tooMany.body, { scimType: 'invalidValue', detail: new RegExp(`at most ${MAX_CUSTOM_FIELDS} custom fields`) });
      const longName = await a.scim('POST', '/Users', user('cn@example.com', { [ENTERPRISE_USER_SCHEMA]: { [`f${'x'.repeat(MAX_CUSTOM_FIELD_NAME_LENGTH)}`]: 'v' } }));
      t.equal(longName.status, 400);
      t.match(longName.body.detail, new RegExp(`at most ${MAX_CUSTOM_FIELD_NAME_LENGTH} are allowed`));
      const values = await a.scim('POST', '/Users', user('vals@example.com', { roles: Array.from({ length: MAX_VALUES_PER_ATTRIBUTE + 1 }, (_, i) => ({ value: `r${i}` })) }));
      t.equal(values.status, 400);
      t.match(values.body.detail, new RegExp(`"roles" has ${MAX_VALUES_PER_ATTRIBUTE + 1} values; at most ${MAX_VALUES_PER_ATTRIBUTE}`));
      const ops = await a.scim('PATCH', `/Users/${uid}`, patch(...Array.from({ length: MAX_PATCH_OPERATIONS + 1 }, (_, i) => ({ op: 'replace', path: 'nickName', value: `n${i}` }))));
      t.equal(ops.status, 413);
      t.match(ops.body, { scimType: 'tooMany', detail: new RegExp(`at most ${MAX_PATCH_OPERATIONS} operations`) });
      const manyFields = await a.scim('PATCH', `/Users/${uid}`, patch(...Array.from({ length: MAX_PATCH_OPERATIONS }, (_, i) => ({ op: 'add', path: `${ENTERPRISE_USER_SCHEMA}:f${i}`, value: 'x' }))));
      t.equal(manyFields.status, 200, `${MAX_PATCH_OPERATIONS} operations adding custom fields`);
      const upTo = MAX_CUSTOM_FIELDS - MAX_PATCH_OPERATIONS;
      const fill = await a.scim('PATCH', `/Users/${uid}`, patch(...Array.from({ length: upTo }, (_, i) => ({ op: 'add', path: `${ENTERPRISE_USER_SCHEMA}:g${i}`, value: 'x' }))));
      t.equal(fill.status, 200, `up to ${MAX_CUSTOM_FIELDS} custom fields`);
      const overflow = await a.scim('PATCH', `/Users/${uid}`, patch({ op: 'add', path: `${ENTERPRISE_USER_SCHEMA}:one_more`, value: 'x' }));
      t.equal(overflow.status, 400, 'a PATCH that would take the user past the custom field limit');
      t.match(overflow.body.detail, /at most 200 custom fields/);
      const nested = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
      for (const [path, body] of [
        ['/Users', JSON.stringify(user('deep@example.com', { deep: 'X' })).replace('"X"', nested(MAX_JSON_DEPTH))],
        ['/Bulk', JSON.stringify({ schemas: [BULK_REQUEST_SCHEMA], Operations: [{ method: 'POST', path: '/Users', bulkId: 'x', data: 'X' }] }).replace('"X"', nested(100_000))],
      ] as const) {
        const r = await a.scim('POST', path, body, { 'content-type': 'application/scim+json' });
        t.equal(r.status, 400, `${path}: deep nesting`);
        t.match(r.body, { scimType: 'invalidSyntax', detail: new RegExp(`nested more than ${MAX_JSON_DEPTH} levels`) });
      }
      for (const userName of ['cf@example.com', 'cn@example.com', 'vals@example.com', 'deep@example.com']) {
        const r = await a.scim('GET', `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`);
        t.equal(r.body.totalResults, 0, `${userName} was not stored`);
      }
      const kept = await a.scim('GET', `/Users/${uid}`);
      t.equal(Object.keys(kept.body[ENTERPRISE_USER_SCHEMA] ?? {}).length, MAX_CUSTOM_FIELDS, 'the refused PATCH added nothing');
      t.not(await snapshot(a), before, 'the accepted writes show');
    });
  });
}
