/**
 * Filters compiled to SQL, run on real Postgres and PGlite against rows
 * inserted in the storage shape, and checked against matches() on the same
 * resources in their SCIM shape.
 */
import t from 'tap';
import { CompiledQuery, sql } from 'kysely';
import { groupFilterSql, groupSortSql, userFilterSql, userSortSql } from '../../src/db/filter-sql.js';
import type { Db } from '../../src/db/index.js';
import { resolveAttrPath } from '../../src/scim/attributes.js';
import { matches, parseFilter } from '../../src/scim/filter.js';
import { ENTERPRISE_USER_SCHEMA as ENT, GROUP_SCHEMA, groupResourceType, USER_SCHEMA, userResourceType } from '../../src/scim/schema.js';
import { backends, openTestDatabase } from '../helpers/db.js';

type Json = Record<string, unknown>;

const U1 = '11111111-1111-4111-8111-111111111111';
const U2 = '22222222-2222-4222-8222-222222222222';
const U3 = '33333333-3333-4333-8333-333333333333';
const U4 = '44444444-4444-4444-8444-444444444444';
const U5 = '55555555-5555-4555-8555-555555555555';
const U6 = '66666666-6666-4666-8666-666666666666';
const G1 = 'aaaaaaaa-0000-4000-8000-000000000001';
const G2 = 'aaaaaaaa-0000-4000-8000-000000000002';
const G3 = 'aaaaaaaa-0000-4000-8000-000000000003';
/** A group of another tenant, with U1's id among its members. */
const G_OTHER = 'bbbbbbbb-0000-4000-8000-000000000009';
const ALL_USERS = [U1, U2, U3, U4, U5, U6];

interface Fixture {
  id: string;
  created: string;
  resource: Json;
}

const users: Fixture[] = [
  {
    id: U1,
    created: '2011-05-13T04:42:34.000Z',
    resource: {
      schemas: [USER_SCHEMA, ENT],
      userName: 'bjensen',
      externalId: 'ext-1',
      name: { givenName: 'Barbara', familyName: 'Jensen' },
      displayName: 'Babs Jensen',
      title: 'Tour Guide',
      userType: 'Employee',
      active: true,
      emails: [
        { value: 'bjensen@example.com', type: 'work', primary: true },
        { value: 'babs@jensen.org', type: 'home' },
      ],
      [ENT]: { employeeNumber: '701984', costCenter: '4130', department: 'Tour Operations', manager: { value: U2 }, customfield: 'Alpha' },
    },
  },
  {
    id: U2,
    created: '2012-01-01T00:00:00.000Z',
    resource: {
      schemas: [USER_SCHEMA, ENT],
      userName: 'JSmith',
      externalId: 'EXT-2',
      name: { givenName: 'John', familyName: 'Smith' },
      displayName: 'John Smith',
      userType: 'Intern',
      active: false,
      emails: [{ value: 'John.Smith@Example.com', type: 'work' }],
      ims: [{ value: 'jsmith@foo.com', type: 'xmpp' }],
      [ENT]: { costCenter: '4200', department: 'R&D' },
    },
  },
  {
    id: U3,
    created: '2015-10-10T21:38:21.862Z',
    resource: {
      schemas: [USER_SCHEMA],
      userName: 'omalley',
      name: { familyName: "O'Malley" },
      title: '',
      active: true,
      emails: [
        { value: 'om@example.org', type: 'home' },
        { value: 'o.malley@work.example.com', type: 'work' },
      ],
      phoneNumbers: [{ value: '555-0100', type: 'mobile' }],
    },
  },
  {
    id: U4,
    created: '2015-10-10T21:38:21.861Z',
    resource: {
      schemas: [USER_SCHEMA, ENT],
      userName: '100%_off\\deal',
      displayName: 'Percent_Man',
      [ENT]: { CustomField: 'beta' },
    },
  },
  {
    id: U5,
    created: '2020-06-01T12:00:00.000Z',
    resource: {
      schemas: [USER_SCHEMA],
      userName: 'ulrich',
      displayName: 'Ülrich',
      title: 'Engineer',
      userType: 'Employee',
      active: true,
      emails: [{ value: 'Ülrich@example.com', type: 'work' }],
    },
  },
  {
    id: U6,
    created: '2021-01-01T00:00:00.000Z',
    resource: { schemas: [USER_SCHEMA], userName: '1000xoff' },
  },
];

const groups: (Fixture & { members: [string, 'User' | 'Group'][] })[] = [
  { id: G1, created: '2019-01-01T00:00:00.000Z', resource: { schemas: [GROUP_SCHEMA], displayName: 'Admins' }, members: [[U1, 'User'], [U2, 'User']] },
  {
    id: G2,
    created: '2019-01-02T00:00:00.000Z',
    resource: { schemas: [GROUP_SCHEMA], displayName: 'Tour Guides' },
    members: [[U1, 'User'], [U3, 'User'], [G1, 'Group']],
  },
  { id: G3, created: '2019-01-03T00:00:00.000Z', resource: { schemas: [GROUP_SCHEMA], displayName: 'Empty', externalId: 'gext-3' }, members: [] },
];

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** Columns mirror the JSON exactly as src/db/users.ts columnsOf writes them (storage shape). */
async function insertUser(db: Db, tenant: string, f: Fixture): Promise<void> {
  const r = f.resource;
  const name = (r.name ?? {}) as Json;
  const emails = ((r.emails ?? []) as Json[]).map((e) => str(e.value)).filter((v): v is string => v !== null);
  await sql`insert into users (tenant_id, id, user_name, external_id, active, display_name, given_name, family_name, email_values, resource, created, last_modified)
    values (${tenant}, ${f.id}, ${r.userName}, ${str(r.externalId)}, ${typeof r.active === 'boolean' ? r.active : null}, ${str(r.displayName)},
      ${str(name.givenName)}, ${str(name.familyName)}, ${emails.map((e) => e.toLowerCase())}, ${JSON.stringify(r)}, ${f.created}, ${f.created})`.execute(db);
}

async function insertGroup(db: Db, tenant: string, g: (typeof groups)[number]): Promise<void> {
  const r = g.resource;
  await sql`insert into groups (tenant_id, id, display_name, external_id, resource, created, last_modified)
    values (${tenant}, ${g.id}, ${r.displayName}, ${str(r.externalId)}, ${JSON.stringify(r)}, ${g.created}, ${g.created})`.execute(db);
  for (const [member, type] of g.members) {
    await sql`insert into group_members (tenant_id, group_id, member_id, member_type) values (${tenant}, ${g.id}, ${member}, ${type})`.execute(db);
  }
}

async function seed(db: Db): Promise<void> {
  await sql`insert into tenants (id, name) values ('t1', 'One'), ('t2', 'Two')`.execute(db);
  for (const u of users) await insertUser(db, 't1', u);
  for (const g of groups) await insertGroup(db, 't1', g);
  // Tenant t2 reuses U1's id and userName, and has a group with U1's id as member.
  await insertUser(db, 't2', { ...users[0]!, id: U1 });
  await insertGroup(db, 't2', { id: G_OTHER, created: users[0]!.created, resource: { schemas: [GROUP_SCHEMA], displayName: 'Other' }, members: [[U1, 'User']] });
}

const meta = (rt: string, f: Fixture) => ({ resourceType: rt, created: f.created, lastModified: f.created, version: 'W/"1"', location: `https://x/${rt}s/${f.id}` });

/** The SCIM representation: stored JSON plus id, meta and the derived groups / members. */
const scimUser = (f: Fixture): Json => {
  const memberOf = groups.filter((g) => g.members.some(([m]) => m === f.id));
  const derived = memberOf.length ? { groups: memberOf.map((g) => ({ value: g.id, display: g.resource.displayName, type: 'direct' })) } : {};
  return { ...f.resource, id: f.id, ...derived, meta: meta('User', f) };
};
const scimGroup = (g: (typeof groups)[number]): Json => ({
  ...g.resource,
  id: g.id,
  ...(g.members.length ? { members: g.members.map(([value, type]) => ({ value, type })) } : {}),
  meta: meta('Group', g),
});

const byId = (ids: string[]) => [...ids].sort();

const userCases: [string, string[]][] = [
  ['userName eq "bjensen"', [U1]],
  ['userName eq "BJENSEN"', [U1]],
  ['USERNAME eq "jsmith"', [U2]],
  ['urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"', [U2]],
  ['userName ne "bjensen"', [U2, U3, U4, U5, U6]],
  ['userName ew "ICH"', [U5]],
  ['userName gt "o"', [U3, U5]],
  ['userName ge "omalley"', [U3, U5]],
  ['userName lt "B"', [U4, U6]],
  ['userName le "bjensen"', [U1, U4, U6]],
  ['externalId eq "ext-2"', []],
  ['externalId eq "EXT-2"', [U2]],
  ['externalId pr', [U1, U2]],
  ['name.familyName co "o\'malley"', [U3]],
  ['name.givenName sw "bar"', [U1]],
  ['displayName eq "ÜLRICH"', [U5]],
  ['displayName eq "ülrich"', []],
  ['displayName gt "a"', [U1, U2, U4, U5]],
  ['title pr', [U1, U5]],
  ['title eq ""', [U3]],
  ['title pr and userType eq "Employee"', [U1, U5]],
  ['title pr or userType eq "Intern"', [U1, U2, U5]],
  ['userName eq "bjensen" or userName eq "jsmith" and active eq true', [U1]],
  ['(userName eq "bjensen" or userName eq "jsmith") and active eq false', [U2]],
  // equalities on one column merged into = any(…) (src/db/filter-sql.ts anyOf)
  ['userName eq "BJENSEN" or title pr or userName eq "omalley" or externalId eq "EXT-2" or externalId eq "ext-1"', [U1, U2, U3, U5]],
  ['not (displayName eq "Babs Jensen" or displayName eq "percent_man" or displayName eq "Percent_Man")', [U2, U3, U5, U6]],
  ['userName eq "nobody" or userName eq "nobody2"', []],
  // RFC 7644 §3.4.2.2 examples
  ['userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")', [U1, U5]],
  ['userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")', [U4, U6]],
  ['userType eq "Employee" and (emails.type eq "work")', [U1, U5]],
  ['userType eq "Employee" and emails[type eq "work" and value co "@example.com"]', [U1, U5]],
  ['emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]', [U1, U2, U5]],
  ['schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"', [U1, U2, U4]],
  // value paths: one element must satisfy the whole inner filter
  ['emails[type eq "work"].value eq "om@example.org"', []],
  ['emails[type eq "home"].value eq "OM@example.org"', [U3]],
  ['emails[type eq "work" and value eq "bjensen@example.com"]', [U1]],
  ['emails.value eq "john.smith@example.com"', [U2]],
  ['emails eq "JOHN.SMITH@EXAMPLE.COM"', [U2]],
  ['emails.value eq "ülrich@example.com"', []],
  ['emails.value eq "Ülrich@EXAMPLE.com"', [U5]],
  ['emails.value ne "bjensen@example.com"', [U1, U2, U3, U5]],
  ['emails[not (type eq "work")]', [U1, U3]],
  ['emails.primary eq true', [U1]],
  ['emails[type eq "work"].value pr', [U1, U2, U3, U5]],
  ['emails pr', [U1, U2, U3, U5]],
  ['emails eq null', [U4, U6]],
  ['phoneNumbers[type eq "mobile"]', [U3]],
  ['name pr', [U1, U2, U3]],
  // booleans
  ['active eq true', [U1, U3, U5]],
  ['active eq false', [U2]],
  ['active ne true', [U2, U4, U6]],
  ['active pr', [U1, U2, U3, U5]],
  ['active eq null', [U4, U6]],
  ['not (active eq true)', [U2, U4, U6]],
  // dates
  ['meta.created gt "2011-05-13T04:42:34Z"', [U2, U3, U4, U5, U6]],
  ['meta.created ge "2011-05-13T04:42:34Z"', ALL_USERS],
  ['meta.created eq "2011-05-13T06:42:34+02:00"', [U1]],
  ['meta.lastModified lt "2012-01-01T00:00:00"', [U1]],
  ['meta.lastModified le "2012-01-01T00:00:00.000Z"', [U1, U2]],
  ['meta.created gt "2015-10-10T21:38:21.861Z" and meta.created lt "2015-10-10T21:38:21.8625Z"', [U3]],
  // Microsoft's SCIM test collection for Entra ID (unquoted value, 7 fractional digits)
  ['meta.Created gt 2015-10-10T14:38:21.8617979-07:00', [U3, U5, U6]],
  ['userName sw O', [U3]],
  ['name.FamilyName eq Jensen and (emails.Value co example.com or emails.Value co example.org)', [U1]],
  ['meta.resourceType eq "User"', ALL_USERS],
  ['meta.resourceType eq "Group"', []],
  ['meta.version eq "W/\\"1\\""', ALL_USERS],
  // extension and custom enterprise fields
  ['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter eq "4130"', [U1]],
  ['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department co "r&d"', [U2]],
  ['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber pr', [U1]],
  ['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:customfield eq "alpha"', [U1]],
  ['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:CUSTOMFIELD eq "beta"', [U4]],
  ['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:customfield pr', [U1, U4]],
  [`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "${U2}"`, [U1]],
  [`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "${U2}"`, [U1]],
  // LIKE metacharacters are literal
  ['userName co "100%"', [U4]],
  ['userName sw "100_"', []],
  ['userName co "%_off"', [U4]],
  ['userName co "\\\\"', [U4]],
  ['userName ew "\\\\DEAL"', [U4]],
  ['displayName co "_"', [U4]],
  // ids: never an SQL error, whatever the shape
  [`id eq "${U1}"`, [U1]],
  ['id eq "not-a-uuid"', []],
  ['id ne "not-a-uuid"', ALL_USERS],
  [`id ne "${U1}"`, [U2, U3, U4, U5, U6]],
  ['id sw "1111"', [U1]],
  ['id gt "5"', [U5, U6]],
  // a user's groups come from group_members, of its own tenant only
  [`groups.value eq "${G1}"`, [U1, U2]],
  [`groups[value eq "${G2}"]`, [U1, U3]],
  [`groups.value eq "${G2.toUpperCase()}"`, [U1, U3]],
  [`groups.value eq "${G_OTHER}"`, []],
  ['groups.value eq "nope"', []],
  ['groups.display co "tour"', [U1, U3]],
  [`groups[type eq "direct" and display eq "admins"]`, [U1, U2]],
  ['groups pr', [U1, U2, U3]],
  ['not (groups pr)', [U4, U5, U6]],
];

const groupCases: [string, string[]][] = [
  ['displayName eq "admins"', [G1]],
  ['displayName sw "T"', [G2]],
  [`members.value eq "${U1}"`, [G1, G2]],
  [`members[value eq "${U3}"]`, [G2]],
  [`members[value eq "${G1}" and type eq "group"]`, [G2]],
  ['members[type eq "Group"]', [G2]],
  ['members.value eq "bad"', []],
  ['members pr', [G1, G2]],
  ['not (members pr)', [G3]],
  ['externalId eq "gext-3"', [G3]],
  [`id eq "${G1}"`, [G1]],
  [`id eq "${G1.toUpperCase()}"`, []],
  ['meta.created ge "2019-01-02T00:00:00Z"', [G2, G3]],
  ['meta.resourceType eq "Group"', [G1, G2, G3]],
];

for (const backend of backends) {
  t.test(`${backend}: filters select the same resources in SQL and in memory`, async (t) => {
    const { db } = await openTestDatabase(t, backend);
    await seed(db);

    for (const [text, expected] of userCases) {
      const f = parseFilter(text, userResourceType);
      const rows = await db.selectFrom('users as u').select('u.id').where('u.tenant_id', '=', 't1').where(userFilterSql(f)).execute();
      t.same(byId(rows.map((r) => r.id)), byId(expected), `SQL: ${text}`);
      t.same(byId(users.filter((u) => matches(f, scimUser(u))).map((u) => u.id)), byId(expected), `matches(): ${text}`);
    }
    for (const [text, expected] of groupCases) {
      const f = parseFilter(text, groupResourceType);
      const rows = await db.selectFrom('groups as g').select('g.id').where('g.tenant_id', '=', 't1').where(groupFilterSql(f)).execute();
      t.same(byId(rows.map((r) => r.id)), byId(expected), `SQL: ${text}`);
      t.same(byId(groups.filter((g) => matches(f, scimGroup(g))).map((g) => g.id)), byId(expected), `matches(): ${text}`);
    }
  });

  t.test(`${backend}: attributes SQL cannot reach are a 400 invalidFilter, not an SQL error`, async (t) => {
    for (const [text, compile] of [
      ['meta.location co "Users"', () => userFilterSql(parseFilter('meta.location co "Users"', userResourceType))],
      ['groups.$ref pr', () => userFilterSql(parseFilter('groups.$ref pr', userResourceType))],
      ['members.display eq "x"', () => groupFilterSql(parseFilter('members.display eq "x"', groupResourceType))],
    ] as const) {
      t.throws(compile, { status: 400, scimType: 'invalidFilter', message: /cannot be used in filters/ }, text);
    }
  });

  t.test(`${backend}: sort keys`, async (t) => {
    const { db } = await openTestDatabase(t, backend);
    await seed(db);
    const sorted = async (path: string, descending = false) => {
      const key = userSortSql(resolveAttrPath(userResourceType, path, 'invalidValue'));
      const rows = await db
        .selectFrom('users as u')
        .select('u.id')
        .where('u.tenant_id', '=', 't1')
        .orderBy(sql`${key} ${descending ? sql`desc` : sql`asc`} nulls last`)
        .orderBy('u.id')
        .execute();
      return rows.map((r) => r.id);
    };
    // lower-cased: "100%…" < "1000xoff" < bjensen < JSmith < omalley < ulrich
    t.same(await sorted('userName'), [U4, U6, U1, U2, U3, U5]);
    t.same(await sorted('userName', true), [U5, U3, U2, U1, U6, U4]);
    t.same(await sorted('displayName'), [U1, U2, U4, U5, U3, U6], 'code point order, absent last');
    t.same(await sorted('meta.created', true), [U6, U5, U3, U4, U2, U1]);
    t.same(await sorted('active'), [U2, U1, U3, U5, U4, U6]);
    // §3.4.2.3: multi-valued attributes sort by the primary value, else the first.
    t.same(await sorted('emails'), [U1, U2, U3, U5, U4, U6], 'bjensen@ (primary), john.smith@, om@ (first), ülrich@');
    t.same(await sorted('emails.type'), [U3, U1, U2, U5, U4, U6], 'home (U3 first) before work');
    t.same(await sorted('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter'), [U1, U2, U3, U4, U5, U6]);
    t.same(await sorted('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:customfield'), [U1, U4, U2, U3, U5, U6]);
    t.same(await sorted('groups'), [U1, U2, U3, U4, U5, U6], 'by the smallest group id');
    t.same(await sorted('groups.display'), [U1, U2, U3, U4, U5, U6], 'admins, admins, tour guides');

    const groupOrder = async (path: string) => {
      const key = groupSortSql(resolveAttrPath(groupResourceType, path, 'invalidValue'));
      const rows = await db.selectFrom('groups as g').select('g.id').where('g.tenant_id', '=', 't1').orderBy(sql`${key} asc nulls last`).orderBy('g.id').execute();
      return rows.map((r) => r.id);
    };
    t.same(await groupOrder('displayName'), [G1, G3, G2]);
    t.same(await groupOrder('members.type'), [G2, G1, G3], 'G2 has a Group member ("group" < "user")');
    t.same(await groupOrder('members'), [G1, G2, G3], 'both contain U1, the smallest member id');
    t.throws(() => userSortSql(resolveAttrPath(userResourceType, 'meta.location', 'invalidValue')), { status: 400, scimType: 'invalidValue', message: /meta.location/ }, 'sortBy=meta.location');
  });
}

if (backends.includes('postgres')) {
  t.test('postgres: userName eq, externalId eq and emails value filters use their indexes', async (t) => {
    const { db } = await openTestDatabase(t, 'postgres');
    await seed(db);
    await sql`
      insert into users (tenant_id, id, user_name, external_id, display_name, email_values, resource, created, last_modified)
      select 't1', gen_random_uuid(), 'bulk' || i, 'bulk-ext-' || i, 'Bulk ' || i, array['bulk' || i || '@example.com'],
        jsonb_build_object('schemas', jsonb_build_array(${USER_SCHEMA}::text), 'userName', 'bulk' || i, 'externalId', 'bulk-ext-' || i,
          'displayName', 'Bulk ' || i, 'emails', jsonb_build_array(jsonb_build_object('value', 'bulk' || i || '@example.com', 'type', 'work'))),
        now(), now()
      from generate_series(1, 5000) as i`.execute(db);
    // Plain ANALYZE is enough here: with 5,000 rows the planner picks each index without enable_seqscan = off.
    await sql`analyze users`.execute(db);

    for (const [text, index, expected] of [
      ['userName eq "BULK42"', 'users_user_name', 1],
      ['externalId eq "bulk-ext-42"', 'users_external_id', 1],
      ['emails.value eq "Bulk42@example.com"', 'users_email_values', 1],
      ['emails[type eq "work"].value eq "bulk42@example.com"', 'users_email_values', 1],
      ['emails[type eq "work" and value eq "bjensen@example.com"]', 'users_email_values', 1],
    ] as const) {
      const query = db.selectFrom('users as u').select('u.id').where('u.tenant_id', '=', 't1').where(userFilterSql(parseFilter(text, userResourceType)));
      const compiled = query.compile();
      const plan = await db.executeQuery<{ 'QUERY PLAN': unknown }>(CompiledQuery.raw(`explain (format json) ${compiled.sql}`, [...compiled.parameters]));
      t.match(JSON.stringify(plan.rows[0]!['QUERY PLAN']), `"Index Name":"${index}"`, `${text} uses ${index}`);
      t.equal((await query.execute()).length, expected, text);
    }
  });
}
