/**
 * Members' display names, kept on the membership rows by the triggers of
 * migrations/0015_member_display.ts: every rename shows at once in every
 * group the member is in, and a rename racing a membership insert is never
 * lost.
 */
import fc from 'fast-check';
import { Migrator } from 'kysely';
import pg from 'pg';
import t from 'tap';
import { migrations } from '../../migrations/index.js';
import { migrateToLatest } from '../../src/db/index.js';
import { startApp, USER_SCHEMA, type TestApp } from '../helpers/app.js';
import { backends } from '../helpers/db.js';
import { group, newUser, patch } from '../helpers/groups.js';

const displays = (body: any): Record<string, string | undefined> => Object.fromEntries((body.members ?? []).map((m: any) => [m.value, m.display]));

async function listed(a: TestApp, id: string): Promise<Record<string, string | undefined>> {
  const r = await a.scim('GET', '/Groups?startIndex=1&count=10');
  return displays(r.body.Resources.find((g: any) => g.id === id));
}

for (const backend of backends) {
  t.test(`${backend}: renames of users and groups show in their groups at once`, async (t) => {
    const a = await startApp(t, backend);
    const ann = await newUser(a, 'ann@example.com', { displayName: 'Ann Old' });
    const bee = await newUser(a, 'bee@example.com');
    const nested = (await a.scim('POST', '/Groups', group('Nested'))).body.id as string;
    const g = (await a.scim('POST', '/Groups', group('Team', { members: [{ value: ann }, { value: bee }, { value: nested, type: 'Group' }] }))).body.id as string;
    const other = (await a.scim('POST', '/Groups', group('Other', { members: [{ value: ann }] }))).body.id as string;
    const before = { [ann]: 'Ann Old', [bee]: 'bee@example.com', [nested]: 'Nested' };
    t.same(displays((await a.scim('GET', `/Groups/${g}`)).body), before, 'a user without displayName shows its userName');
    t.same(await listed(a, g), before, 'the same on a page of groups');

    const ok = (r: { status: number }) => t.ok(r.status === 200 || r.status === 204, `status ${r.status}`);
    ok(await a.scim('PATCH', `/Users/${ann}`, patch({ op: 'replace', path: 'displayName', value: 'Ann New' })));
    ok(await a.scim('PUT', `/Users/${bee}`, { schemas: [USER_SCHEMA], userName: 'bee.renamed@example.com' }));
    ok(await a.scim('PATCH', `/Groups/${nested}`, patch({ op: 'replace', path: 'displayName', value: 'Nested Two' })));
    const after = { [ann]: 'Ann New', [bee]: 'bee.renamed@example.com', [nested]: 'Nested Two' };
    t.same(displays((await a.scim('GET', `/Groups/${g}`)).body), after, 'displayName, userName and a group\'s displayName');
    t.same(await listed(a, g), after);
    t.same(displays((await a.scim('GET', `/Groups/${other}`)).body), { [ann]: 'Ann New' }, 'in every group the member is in');

    ok(await a.scim('PATCH', `/Users/${ann}`, patch({ op: 'remove', path: 'displayName' })));
    t.same(displays((await a.scim('GET', `/Groups/${other}`)).body), { [ann]: 'ann@example.com' }, 'displayName removed: the userName again');
    ok(await a.scim('PATCH', `/Users/${ann}`, patch({ op: 'replace', path: 'title', value: 'Engineer' })));
    t.same(displays((await a.scim('GET', `/Groups/${other}`)).body), { [ann]: 'ann@example.com' }, 'other changes leave it alone');
  });

  t.test(`${backend}: members written by Postgres as JSON text equal the objects the server builds`, async (t) => {
    const a = await startApp(t, backend);
    // Names JSON must escape or carry intact: quotes, backslashes, control characters, line separators, astral
    // characters; plus random ones (NUL excluded: Postgres stores no NUL, and Roster refuses it).
    const tricky = ['He said "hi"', 'back\\slash', 'tab\tnew\nline\u0001', 'sep\u2028\u2029', '😀 emoji', '</script>', 'Åsa Ölund'];
    const random = fc.sample(fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).filter((s) => !s.includes('\u0000') && s.trim() !== ''), { seed: 1015, numRuns: 25 });
    const members: { value: string; type?: string }[] = [];
    for (const [i, name] of [...tricky, ...random].entries()) {
      const r = await a.scim('POST', '/Users', { schemas: [USER_SCHEMA], userName: `name${i}@example.com`, displayName: name });
      t.equal(r.status, 201, `user ${i} created`);
      members.push({ value: r.body.id });
    }
    members.push({ value: await newUser(a, 'no-display@example.com') });
    members.push({ value: (await a.scim('POST', '/Groups', group('Inner "quoted" group'))).body.id, type: 'Group' });
    const g = (await a.scim('POST', '/Groups', group('Everyone', { members }))).body.id as string;
    // Naming every sub-attribute returns the same members through the server-built objects.
    const objects = await a.scim('GET', `/Groups/${g}?attributes=members.value,members.$ref,members.display,members.type`);
    const text = await a.scim('GET', `/Groups/${g}`);
    t.equal(objects.body.members.length, members.length);
    t.same(text.body.members, objects.body.members, 'GET one group');
    t.strictSame(JSON.parse(JSON.stringify(text.body.members)), objects.body.members, 'same keys, same values');
    const page = (await a.scim('GET', '/Groups?filter=displayName eq "Everyone"')).body.Resources[0];
    t.strictSame(page.members, objects.body.members, 'a page of groups');
    t.strictSame(Object.keys(page.members[0]), ['value', '$ref', 'display', 'type'], 'keys in the same order');
  });

  t.test(`${backend}: the migration fills the names of the memberships already stored, and reverts`, async (t) => {
    const a = await startApp(t, backend);
    const ann = await newUser(a, 'ann@example.com', { displayName: 'Ann' });
    const bee = await newUser(a, 'bee@example.com');
    const nested = (await a.scim('POST', '/Groups', group('Nested'))).body.id as string;
    const g = (await a.scim('POST', '/Groups', group('Team', { members: [{ value: ann }, { value: bee }, { value: nested, type: 'Group' }] }))).body.id as string;
    const migrator = new Migrator({ db: a.database.db, provider: { getMigrations: async () => migrations } });
    const down = await migrator.migrateTo('0014_group_member_counts');
    t.error(down.error);
    t.same(down.results?.map((r) => `${r.direction} ${r.migrationName}`), ['Down 0015_member_display']);
    t.same(await migrateToLatest(a.database.db), ['0015_member_display']);
    t.same(displays((await a.scim('GET', `/Groups/${g}`)).body), { [ann]: 'Ann', [bee]: 'bee@example.com', [nested]: 'Nested' });
  });
}

if (backends.includes('postgres')) {
  t.test('postgres: a rename racing a membership insert is never lost, whichever starts first', async (t) => {
    const a = await startApp(t, 'postgres');
    const side = new pg.Client({ connectionString: a.database.url });
    await side.connect();
    t.teardown(() => side.end());
    const parent = (await a.scim('POST', '/Groups', group('Parent'))).body.id as string;
    const shown = async (id: string) => displays((await a.scim('GET', `/Groups/${parent}`)).body)[id];
    const settled = (p: Promise<unknown>) => Promise.race([p.then(() => true), new Promise((r) => setTimeout(() => r(false), 300))]);
    const add = (id: string, type: string) => a.scim('PATCH', `/Groups/${parent}`, patch({ op: 'add', path: 'members', value: [{ value: id, type }] }));

    // Users and groups alike (a group is renamed under a lock other groups can share it as a member through).
    const members = [
      { type: 'User', table: 'users', create: (name: string) => newUser(a, `${name.replace(/\W/g, '')}@example.com`, { displayName: name }) },
      { type: 'Group', table: 'groups', create: async (name: string) => (await a.scim('POST', '/Groups', group(name))).body.id as string },
    ];
    for (const { type, table, create } of members) {
      // The rename holds the member: the insert waits for it, then reads the new name.
      const first = await create(`${type} first`);
      await side.query('begin');
      await side.query(`update ${table} set display_name = $1 where tenant_id = $2 and id = $3`, [`${type} renamed`, a.tenant, first]);
      const adding = add(first, type);
      t.equal(await settled(adding), false, `${type}: the insert waits for the rename`);
      await side.query('commit');
      t.equal((await adding).status, 204);
      t.equal(await shown(first), `${type} renamed`);

      // The insert holds the member: the rename waits for it, then updates the new membership too.
      const second = await create(`${type} second`);
      await side.query('begin');
      await side.query(`insert into group_members (tenant_id, group_id, member_id, member_type) values ($1, $2, $3, $4)`, [a.tenant, parent, second, type]);
      const renaming = a.scim('PATCH', `/${type}s/${second}`, patch({ op: 'replace', path: 'displayName', value: `${type} later` }));
      t.equal(await settled(renaming), false, `${type}: the rename waits for the insert`);
      await side.query('commit');
      t.ok([200, 204].includes((await renaming).status));
      t.equal(await shown(second), `${type} later`);
    }
  });
}

for (const backend of backends) {
  t.test(`${backend}: adding nested groups while their shared members are deleted never deadlocks`, async (t) => {
    const a = await startApp(t, backend);
    for (let i = 0; i < 6; i++) {
      const m = await newUser(a, `shared${i}@example.com`);
      const inner = (await a.scim('POST', '/Groups', group(`Inner ${i}`, { members: [{ value: m }] }))).body.id as string;
      const outer = (await a.scim('POST', '/Groups', group(`Outer ${i}`, { members: [{ value: m }] }))).body.id as string;
      const [added, deleted, renamed] = await Promise.all([
        a.scim('PATCH', `/Groups/${outer}`, patch({ op: 'add', path: 'members', value: [{ value: inner, type: 'Group' }] })),
        a.scim('DELETE', `/Users/${m}`),
        a.scim('PATCH', `/Groups/${inner}`, patch({ op: 'replace', path: 'displayName', value: `Inner ${i} renamed` })),
      ]);
      t.same([added.status, deleted.status, renamed.status], [204, 204, 204], `round ${i}`);
      t.same(displays((await a.scim('GET', `/Groups/${outer}`)).body), { [inner]: `Inner ${i} renamed` }, `round ${i}: the nested group, renamed; the deleted user gone`);
    }
  });
}
