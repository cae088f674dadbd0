/**
 * What real clients send that Roster used to refuse (README.md, "Lenient
 * tenants", "Always, on every tenant"), through HTTP on both backends:
 * bodies and content types, members that do not exist or have the wrong
 * type, a PATCH on a whole extension, and primitives where complex values
 * belong. Requests with a documented source are replayed from
 * test/fixtures/clients by test/idp/clients-documented.test.ts; these are the
 * shapes around them, on lenient and strict tenants.
 */
import { Writable } from 'node:stream';
import t from 'tap';
import { loggerOptions } from '../../src/http/log.js';
import { loadConfig } from '../../src/config.js';
import { ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, PATCH_OP_SCHEMA, USER_SCHEMA } from '../../src/scim/schema.js';
import { ADMIN_TOKEN, startApp, toRes, type TestApp } from '../helpers/app.js';
import { backends } from '../helpers/db.js';

const SCIM_JSON = { 'content-type': 'application/scim+json' };

/** A tenant of `a` with its own token and the given compatibility. */
async function tenant(a: TestApp, id: string, compatibility: 'lenient' | 'strict') {
  await a.services.tenants.create({ id, settings: { compatibility } });
  const token = (await a.services.tenants.issueToken(id, { name: 'test' })).secret;
  return {
    id,
    send: async (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, opts: { headers?: Record<string, string>; body?: unknown; raw?: string } = {}) => {
      const payload = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
      return toRes(
        await a.app.inject({
          method,
          url: `/scim/v2/${id}${path}`,
          headers: { authorization: `Bearer ${token}`, ...(opts.body !== undefined ? SCIM_JSON : {}), ...(opts.headers ?? {}) },
          // A Buffer, so that no Content-Type is added that the test did not give.
          ...(payload !== undefined ? { payload: Buffer.from(payload, 'utf8') } : {}),
        }),
      );
    },
  };
}

type Tenant = Awaited<ReturnType<typeof tenant>>;

async function createUser(x: Tenant, userName: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await x.send('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName, ...extra } });
  if (r.status !== 201) throw new Error(`create ${userName}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.id;
}

async function createGroup(x: Tenant, displayName: string, members: string[] = []): Promise<string> {
  const r = await x.send('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName, members: members.map((value) => ({ value })) } });
  if (r.status !== 201) throw new Error(`create ${displayName}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.id;
}

async function memberIds(x: Tenant, groupId: string): Promise<string[]> {
  const r = await x.send('GET', `/Groups/${groupId}`);
  return ((r.body.members ?? []) as { value: string }[]).map((m) => m.value).sort();
}

/** Event types and member lists of a tenant's poll feed, oldest first. */
async function events(a: TestApp, tenantId: string): Promise<{ type: string; members?: string[] }[]> {
  const r = await a.admin('GET', `/tenants/${tenantId}/events?limit=1000`);
  return (r.body.events as { type: string; data: { members?: string[] } }[]).map((e) => ({ type: e.type, ...(e.data.members ? { members: [...e.data.members].sort() } : {}) }));
}

const patch = (...Operations: unknown[]) => ({ schemas: [PATCH_OP_SCHEMA], Operations });
const GONE = '7b1d2e4c-0c52-4a53-9d47-3b7c3a6e2f10';

for (const backend of backends) {
  t.test(backend, async (t) => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    });
    const config = loadConfig({ LOG_LEVEL: 'warn', ADMIN_TOKEN, PUBLIC_URL: 'https://roster.test' });
    const a = await startApp(t, backend, {}, { logger: { ...(loggerOptions(config) as object), level: 'warn', stream } });
    const lenient = await tenant(a, 'lenient', 'lenient');
    const strict = await tenant(a, 'strict', 'strict');

    await t.test('a body-less DELETE or GET with a JSON Content-Type works, on every tenant', async (t) => {
      for (const x of [lenient, strict]) {
        const id = await createUser(x, `bodyless-${x.id}@example.com`);
        for (const type of ['application/scim+json', 'application/json; charset=utf-8', 'text/plain']) {
          const got = await x.send('GET', `/Users/${id}`, { headers: { 'content-type': type } });
          t.equal(got.status, 200, `${x.id}: GET with ${type}`);
        }
        const deleted = await x.send('DELETE', `/Users/${id}`, { headers: { 'content-type': 'application/scim+json' } });
        t.equal(deleted.status, 204, `${x.id}: DELETE with Content-Type application/scim+json and no body`);
        t.equal((await x.send('GET', `/Users/${id}`)).status, 404, `${x.id}: the user is deleted`);
      }
      // The admin API too: revoking a token from a client that always sends the header.
      const issued = await a.admin('POST', '/tenants/lenient/tokens', { name: 'short-lived' });
      const revoked = toRes(
        await a.app.inject({ method: 'DELETE', url: `/admin/v1/tenants/lenient/tokens/${issued.body.id}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' } }),
      );
      t.equal(revoked.status, 204, 'admin DELETE with Content-Type application/json and no body');
    });

    await t.test('JSON under another media type: lenient reads it, strict answers 415; non-JSON types are 415 everywhere', async (t) => {
      const body = (userName: string) => JSON.stringify({ schemas: [USER_SCHEMA], userName });
      for (const type of ['application/octet-stream', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded']) {
        const ok = await lenient.send('POST', '/Users', { headers: { 'content-type': type }, raw: body(`typed-${type.length}@example.com`) });
        t.equal(ok.status, 201, `lenient: JSON sent as ${type}`);
        const refused = await strict.send('POST', '/Users', { headers: { 'content-type': type }, raw: body(`typed-${type.length}@example.com`) });
        t.equal(refused.status, 415, `strict: ${type}`);
        t.match(refused.body, { status: '415', detail: /application\/scim\+json \(RFC 7644 §3\.1\)/ });
      }
      // No Content-Type at all is JSON on every tenant (Okta's SPEC test, test/fixtures/okta).
      t.equal((await strict.send('POST', '/Users', { raw: body('untyped@example.com') })).status, 201, 'strict: no Content-Type');
      for (const [type, raw] of [
        ['application/xml', '<User><userName>x</userName></User>'],
        ['text/xml', '<User/>'],
        ['multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="userName"\r\n\r\nx\r\n--x--'],
        ['application/x-www-form-urlencoded', 'userName=form%40example.com'],
      ] as const) {
        for (const x of [lenient, strict]) {
          const r = await x.send('POST', '/Users', { headers: { 'content-type': type }, raw });
          t.equal(r.status, 415, `${x.id}: ${type} is 415`);
          t.equal(r.body.status, '415');
        }
      }
      const garbled = await lenient.send('POST', '/Users', { headers: { 'content-type': 'text/plain' }, raw: '{"userName": ' });
      t.equal(garbled.status, 400, 'text/plain that is not JSON: 400');
      t.equal(garbled.body.scimType, 'invalidSyntax');
      const empty = await strict.send('POST', '/Users', { headers: SCIM_JSON, raw: '' });
      t.equal(empty.status, 400, 'a POST without a body is still refused');
      t.match(empty.body, { scimType: 'invalidSyntax', detail: /must be a JSON object, got nothing/ });
      const count = await lenient.send('GET', `/Users?filter=${encodeURIComponent('userName eq "form@example.com"')}`);
      t.equal(count.body.totalResults, 0, 'nothing was created from the refused bodies');
    });

    await t.test('members that do not exist: lenient adds the others and says what it skipped; strict changes nothing', async (t) => {
      const u1 = await createUser(lenient, 'stale-1@example.com');
      const u2 = await createUser(lenient, 'stale-2@example.com');
      const before = lines.length;

      // POST with members
      const created = await lenient.send('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: 'Created with a stale member', members: [{ value: u1 }, { value: GONE }] } });
      t.equal(created.status, 201, 'POST');
      t.same(await memberIds(lenient, created.body.id), [u1]);

      // PATCH add, PUT replace, and /Bulk
      const g = await createGroup(lenient, 'Patched', []);
      const patched = await lenient.send('PATCH', `/Groups/${g}`, { body: patch({ op: 'add', path: 'members', value: [{ value: u1 }, { value: GONE }, { value: u2 }] }) });
      t.equal(patched.status, 204, 'PATCH add');
      t.same(await memberIds(lenient, g), [u1, u2].sort());
      const only = await lenient.send('PATCH', `/Groups/${g}`, { body: patch({ op: 'add', path: 'members', value: [{ value: GONE }] }) });
      t.equal(only.status, 204, 'a PATCH that adds only unknown members succeeds and changes nothing');
      t.equal(only.headers.etag, patched.headers.etag, 'the version is kept');
      const put = await lenient.send('PUT', `/Groups/${g}`, { body: { schemas: [GROUP_SCHEMA], displayName: 'Patched', members: [{ value: GONE }, { value: u2 }] } });
      t.equal(put.status, 200, 'PUT');
      t.same(await memberIds(lenient, g), [u2]);
      const bulk = await lenient.send('POST', '/Bulk', {
        body: {
          schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
          Operations: [{ method: 'PATCH', path: `/Groups/${g}`, data: patch({ op: 'add', path: 'members', value: [{ value: GONE }, { value: u1 }] }) }],
        },
      });
      t.equal(bulk.status, 200);
      t.equal(bulk.body.Operations[0].status, '204', '/Bulk PATCH');
      t.same(await memberIds(lenient, g), [u1, u2].sort());

      // Replacing the membership with nothing that exists would empty the group: refused on every tenant.
      const emptied = await lenient.send('PATCH', `/Groups/${g}`, { body: patch({ op: 'replace', path: 'members', value: [{ value: GONE }] }) });
      t.equal(emptied.status, 400, 'replace with only unknown members');
      t.match(emptied.body, { scimType: 'invalidValue', detail: new RegExp(`"${GONE}"`) });
      t.same(await memberIds(lenient, g), [u1, u2].sort(), 'the group keeps its members');

      const added = (await events(a, 'lenient')).filter((e) => e.type === 'group.members.added');
      t.ok(added.every((e) => !e.members?.includes(GONE)), 'no event names the unknown member');
      const notes = lines
        .slice(before)
        .map((l) => JSON.parse(l) as { msg: string; tenant?: string; notes?: string[] })
        .filter((l) => l.msg.startsWith('lenient handling'));
      t.equal(notes.length, 5, 'each request that skipped a member (POST, two PATCHes, PUT, /Bulk) is logged once');
      t.ok(notes.every((l) => l.tenant === 'lenient' && l.notes!.some((n) => n.includes(`"${GONE}"`) && n.includes('skipped 1 member'))), 'naming the skipped id');

      // Strict: 400 naming the id, and nothing changes.
      const s1 = await createUser(strict, 'stale-1@example.com');
      const sg = await createGroup(strict, 'Strict', [s1]);
      const refused = await strict.send('PATCH', `/Groups/${sg}`, { body: patch({ op: 'add', path: 'members', value: [{ value: GONE }] }) });
      t.equal(refused.status, 400);
      t.match(refused.body, { scimType: 'invalidValue', detail: new RegExp(`"${GONE}".*no members were changed`) });
      const refusedPost = await strict.send('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: 'Nope', members: [{ value: GONE }] } });
      t.equal(refusedPost.status, 400);
      t.same(await memberIds(strict, sg), [s1]);
    });

    await t.test('a member whose type contradicts what it is: lenient stores the true type, strict refuses', async (t) => {
      const u = await createUser(lenient, 'typed@example.com');
      const inner = await createGroup(lenient, 'Inner');
      const g = await createGroup(lenient, 'Outer');
      const r = await lenient.send('PATCH', `/Groups/${g}?excludedAttributes=`, {
        headers: { prefer: 'return=representation' },
        body: patch({ op: 'add', path: 'members', value: [{ value: u, type: 'Group' }, { value: inner, type: 'User' }] }),
      });
      t.equal(r.status, 200);
      const types = Object.fromEntries((r.body.members as { value: string; type: string }[]).map((m) => [m.value, m.type]));
      t.same(types, { [u]: 'User', [inner]: 'Group' }, 'the response gives the true types');
      const su = await createUser(strict, 'typed@example.com');
      const sg = await createGroup(strict, 'Outer');
      const refused = await strict.send('PATCH', `/Groups/${sg}`, { body: patch({ op: 'add', path: 'members', value: [{ value: su, type: 'Group' }] }) });
      t.equal(refused.status, 400);
      t.match(refused.body, { scimType: 'invalidValue', detail: /is a User, not a Group/ });
    });

    await t.test('PATCH of a whole extension by its URN (lenient); strict keeps 400 invalidPath', async (t) => {
      const id = await createUser(lenient, 'ext@example.com', { [ENTERPRISE_USER_SCHEMA]: { department: 'Sales', costCenter: '42', badgeColour: 'green' } });
      const added = await lenient.send('PATCH', `/Users/${id}`, { body: patch({ op: 'add', path: ENTERPRISE_USER_SCHEMA, value: { department: 'Tour Operations', manager: { value: 'boss' } } }) });
      t.equal(added.status, 200);
      t.same(added.body[ENTERPRISE_USER_SCHEMA], { costCenter: '42', department: 'Tour Operations', manager: { value: 'boss' }, badgeColour: 'green' }, 'add sets the given attributes, keeps the others');
      const replaced = await lenient.send('PATCH', `/Users/${id}`, { body: patch({ op: 'replace', path: ENTERPRISE_USER_SCHEMA.toLowerCase(), value: { costCenter: '7' } }) });
      t.equal(replaced.status, 200);
      t.equal(replaced.body[ENTERPRISE_USER_SCHEMA].costCenter, '7', 'replace (URN in any case) sets the given attributes');
      t.equal(replaced.body[ENTERPRISE_USER_SCHEMA].department, 'Tour Operations', 'and keeps the others (RFC 7644 §3.5.2.3, as for a complex attribute)');
      const bad = await lenient.send('PATCH', `/Users/${id}`, { body: patch({ op: 'add', path: ENTERPRISE_USER_SCHEMA, value: 'Sales' }) });
      t.equal(bad.status, 400);
      t.match(bad.body, { scimType: 'invalidValue', detail: /must be an object of its attributes/ });
      const removed = await lenient.send('PATCH', `/Users/${id}`, { body: patch({ op: 'remove', path: ENTERPRISE_USER_SCHEMA }) });
      t.equal(removed.status, 200);
      t.notOk(ENTERPRISE_USER_SCHEMA in removed.body, 'remove clears the extension, custom fields included');
      t.same(removed.body.schemas, [USER_SCHEMA]);
      const types = (await events(a, 'lenient')).map((e) => e.type);
      t.ok(types.filter((x) => x === 'user.updated').length >= 3, 'each change is an event');

      const sid = await createUser(strict, 'ext@example.com', { [ENTERPRISE_USER_SCHEMA]: { department: 'Sales' } });
      for (const op of [{ op: 'add', path: ENTERPRISE_USER_SCHEMA, value: { department: 'x' } }, { op: 'remove', path: ENTERPRISE_USER_SCHEMA }]) {
        const r = await strict.send('PATCH', `/Users/${sid}`, { body: patch(op) });
        t.equal(r.status, 400, `strict: ${op.op}`);
        t.equal(r.body.scimType, 'invalidPath');
      }
    });

    await t.test('a primitive where a complex multi-valued attribute belongs is 400 on every tenant, and nothing is stored', async (t) => {
      for (const x of [lenient, strict]) {
        for (const emails of ['nope', ['nope'], 42]) {
          const r = await x.send('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: `prim-${x.id}@example.com`, emails } });
          t.equal(r.status, 400, `${x.id}: emails ${JSON.stringify(emails)}`);
          t.equal(r.body.scimType, 'invalidValue');
          t.match(r.body.detail, /"emails(\[0\])?" (is multi-valued and must be an array|must be an object)/);
        }
        const none = await x.send('GET', `/Users?filter=${encodeURIComponent(`userName eq "prim-${x.id}@example.com"`)}`);
        t.equal(none.body.totalResults, 0, `${x.id}: nothing stored`);
        const id = await createUser(x, `prim-${x.id}@example.com`, { emails: [{ value: 'kept@example.com' }] });
        const r = await x.send('PATCH', `/Users/${id}`, { body: patch({ op: 'replace', path: 'emails', value: 'nope' }) });
        t.equal(r.status, 400, `${x.id}: PATCH replace emails "nope"`);
        const after = await x.send('GET', `/Users/${id}`);
        t.same(after.body.emails, [{ value: 'kept@example.com' }], `${x.id}: unchanged`);
      }
    });
  });
}
