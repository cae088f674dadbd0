/**
 * Multi-operation PATCH is atomic end to end (RFC 7644 §3.5.2: "A PATCH
 * request, regardless of the number of operations, SHALL be treated as
 * atomic"), through HTTP on both backends: when a later operation fails,
 * whether in the PATCH engine (a bad path, a required or readOnly target, a
 * bad value, no target) or only in the database stage (a userName taken, a
 * member that does not exist, a group made its own member), the answer is
 * the failing operation's error, and the earlier operations left nothing
 * behind: same version and ETag, same attributes, same members, no event.
 */
import t, { type Test } from 'tap';
import { GROUP_SCHEMA, PATCH_OP_SCHEMA } from '../../src/scim/schema.js';
import { ERROR_SCHEMA, startApp, user, type TestApp } from '../helpers/app.js';
import { backends } from '../helpers/db.js';
import { dbSnapshot } from '../helpers/snapshot.js';

const patch = (...Operations: unknown[]) => ({ schemas: [PATCH_OP_SCHEMA], Operations });
const ABSENT = '99999999-9999-4999-8999-999999999999';

interface Case {
  label: string;
  body: unknown;
  status: number;
  scimType?: string;
}

/** Sends each failing PATCH and checks that nothing of it remains. */
async function expectAtomic(t: Test, a: TestApp, path: string, cases: Case[]): Promise<void> {
  const db = a.database.db;
  for (const c of cases) {
    const before = await a.scim('GET', path);
    t.equal(before.status, 200);
    const snapshot = await dbSnapshot(db, [a.tenant]);
    const r = await a.scim('PATCH', path, c.body);
    t.equal(r.status, c.status, `${c.label}: ${c.status} (${r.body?.detail})`);
    t.ok(r.body?.schemas?.includes(ERROR_SCHEMA), `${c.label}: a SCIM error body`);
    if (c.scimType) t.equal(r.body?.scimType, c.scimType, `${c.label}: scimType ${c.scimType}`);
    const after = await a.scim('GET', path);
    t.equal(after.headers.etag, before.headers.etag, `${c.label}: the ETag (version) is unchanged`);
    t.same(after.body, before.body, `${c.label}: attributes and members are unchanged`);
    t.equal(await dbSnapshot(db, [a.tenant]), snapshot, `${c.label}: nothing stored, no event recorded`);
  }
}

for (const backend of backends) {
  t.test(`${backend}: a multi-operation PATCH that fails part-way changes nothing`, async (t) => {
    const a = await startApp(t, backend);
    // Strict: unknown and mistyped members are refused rather than skipped (README "Lenient tenants").
    await a.admin('PATCH', `/tenants/${a.tenant}`, { settings: { compatibility: 'strict' } });
    const made = async (path: string, body: unknown) => {
      const r = await a.scim('POST', path, body);
      t.equal(r.status, 201, `created ${path}`);
      return r.body.id as string;
    };
    await made('/Users', user('taken@example.com'));
    const uid = await made('/Users', user('jane@example.com', { displayName: 'Jane', title: 'Before', active: true, emails: [{ value: 'jane@example.com', type: 'work', primary: true }] }));
    const u2 = await made('/Users', user('bob@example.com'));
    const u3 = await made('/Users', user('carol@example.com'));
    const other = await made('/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Other' });
    const gid = await made('/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Team', externalId: 'team-1', members: [{ value: uid }, { value: u2 }] });

    const earlierUser = [
      { op: 'replace', path: 'displayName', value: 'Changed' },
      { op: 'add', path: 'emails', value: [{ value: 'jane@home.example', type: 'home' }] },
      { op: 'remove', path: 'title' },
      { op: 'replace', value: { active: false, nickName: 'JJ' } },
    ];
    await t.test('users', async (t) => {
      await expectAtomic(t, a, `/Users/${uid}`, [
        { label: 'the last operation removes userName (required)', body: patch(...earlierUser, { op: 'remove', path: 'userName' }), status: 400, scimType: 'mutability' },
        { label: 'the last operation names an unknown attribute', body: patch(...earlierUser, { op: 'replace', path: 'noSuchAttribute', value: 'x' }), status: 400, scimType: 'invalidPath' },
        { label: 'the last operation has a malformed path', body: patch(...earlierUser, { op: 'replace', path: 'emails[type eq', value: 'x' }), status: 400, scimType: 'invalidPath' },
        { label: 'the last operation replaces a value no filter matches', body: patch(...earlierUser, { op: 'replace', path: 'emails[type eq "fax"].value', value: 'x' }), status: 400, scimType: 'noTarget' },
        { label: 'the last operation gives a bad value', body: patch(...earlierUser, { op: 'replace', path: 'active', value: { nested: true } }), status: 400, scimType: 'invalidValue' },
        { label: 'the last operation is unknown', body: patch(...earlierUser, { op: 'move', path: 'title', value: 'x' }), status: 400, scimType: 'invalidSyntax' },
        { label: 'the last operation removes without a path', body: patch(...earlierUser, { op: 'remove' }), status: 400, scimType: 'noTarget' },
        { label: 'the last operation takes a userName in use (database stage)', body: patch(...earlierUser, { op: 'replace', path: 'userName', value: 'taken@example.com' }), status: 409, scimType: 'uniqueness' },
        { label: 'the first operation fails, the others are valid', body: patch({ op: 'remove', path: 'userName' }, ...earlierUser), status: 400, scimType: 'mutability' },
      ]);
    });

    const earlierGroup = [
      { op: 'add', path: 'members', value: [{ value: u3 }] },
      { op: 'remove', path: `members[value eq "${uid}"]` },
      { op: 'replace', path: 'displayName', value: 'Renamed' },
      { op: 'replace', path: 'externalId', value: 'team-2' },
    ];
    await t.test('groups', async (t) => {
      await expectAtomic(t, a, `/Groups/${gid}`, [
        { label: 'the last operation adds a member that does not exist (database stage)', body: patch(...earlierGroup, { op: 'add', path: 'members', value: [{ value: ABSENT }] }), status: 400, scimType: 'invalidValue' },
        { label: 'the last operation adds a user typed as a Group (database stage)', body: patch(...earlierGroup, { op: 'add', path: 'members', value: [{ value: u2, type: 'Group' }] }), status: 400, scimType: 'invalidValue' },
        { label: 'the last operation makes the group its own member', body: patch(...earlierGroup, { op: 'add', path: 'members', value: [{ value: gid, type: 'Group' }] }), status: 400, scimType: 'invalidValue' },
        { label: 'the last operation replaces all members with an unknown one', body: patch(...earlierGroup, { op: 'replace', path: 'members', value: [{ value: ABSENT }] }), status: 400, scimType: 'invalidValue' },
        { label: 'the last operation removes displayName (required)', body: patch(...earlierGroup, { op: 'remove', path: 'displayName' }), status: 400, scimType: 'mutability' },
        { label: 'the last operation patches a member sub-attribute', body: patch(...earlierGroup, { op: 'replace', path: `members[value eq "${u2}"].display`, value: 'x' }), status: 400 },
        { label: 'the last operation gives a member without id', body: patch(...earlierGroup, { op: 'add', path: 'members', value: [{ display: 'nobody' }] }), status: 400, scimType: 'invalidValue' },
        { label: 'the last operation names an unknown attribute', body: patch(...earlierGroup, { op: 'add', path: 'owner', value: 'x' }), status: 400, scimType: 'invalidPath' },
        { label: 'remove all members, then add one that does not exist', body: patch({ op: 'remove', path: 'members' }, { op: 'add', path: 'members', value: [{ value: other, type: 'Group' }, { value: ABSENT }] }), status: 400, scimType: 'invalidValue' },
      ]);
    });

    await t.test('the same operations without the failing one apply (the cases are not vacuous)', async (t) => {
      const u = await a.scim('PATCH', `/Users/${uid}`, patch(...earlierUser));
      t.equal(u.status, 200);
      t.equal(u.body.displayName, 'Changed');
      t.equal(u.headers.etag, 'W/"2"');
      const g = await a.scim('PATCH', `/Groups/${gid}?excludedAttributes=members`, patch(...earlierGroup));
      t.ok(g.status === 200 || g.status === 204, `group patched (${g.status})`);
      const now = await a.scim('GET', `/Groups/${gid}`);
      t.equal(now.body.displayName, 'Renamed');
      t.same((now.body.members as { value: string }[]).map((m) => m.value).sort(), [u2, u3].sort());
    });
  });
}
