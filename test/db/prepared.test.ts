/**
 * Named prepared statements (src/db/prepared.ts) on a real Postgres server:
 * which statements Roster prepares, that each is prepared once per
 * connection, that general filters are not, and that
 * DATABASE_PREPARED_STATEMENTS=false turns it off. pg_prepared_statements
 * shows one session's statements, so the app runs on a pool of one
 * connection and the test reads the view through that same connection.
 */
import t, { type Test } from 'tap';
import { sql } from 'kysely';
import { isKeyLookup } from '../../src/db/filter-sql.js';
import type { Db } from '../../src/db/index.js';
import { MAX_NAMED, PREPARED_MARK, StatementNames, prepared } from '../../src/db/prepared.js';
import { parseFilter } from '../../src/scim/filter.js';
import { groupResourceType, userResourceType } from '../../src/scim/schema.js';
import { startApp } from '../helpers/app.js';
import { backends, openTestDatabase } from '../helpers/db.js';

const preparedStatements = async (db: Db) =>
  (await sql<{ name: string; statement: string }>`select name, statement from pg_prepared_statements order by name`.execute(db)).rows;

t.test('StatementNames names marked texts only, one name per text, up to its limit', async (t) => {
  const names = new StatementNames(2);
  const a = `select 1 ${PREPARED_MARK}`;
  const b = `select 2 ${PREPARED_MARK}`;
  t.equal(names.nameOf('select 1'), undefined, 'an unmarked text is sent unnamed');
  const na = names.nameOf(a);
  t.match(na, /^roster_\d+$/);
  t.equal(names.nameOf(a), na, 'the same text keeps its name');
  t.not(names.nameOf(b), na);
  t.equal(names.nameOf(`select 3 ${PREPARED_MARK}`), undefined, 'past the limit a text runs unnamed');
  t.equal(names.nameOf(a), na, 'texts named before the limit keep their names');
  t.equal(names.size, 2);
  t.ok(MAX_NAMED >= 100);
});

t.test('isKeyLookup: identity look-ups only', async (t) => {
  const users = (f: string) => isKeyLookup(parseFilter(f, userResourceType), 'users');
  const groups = (f: string) => isKeyLookup(parseFilter(f, groupResourceType), 'groups');
  for (const f of [
    'userName eq "a@example.com"', // Entra ID, Okta
    'externalId eq "0f8c"',
    'id eq "11111111-1111-4111-8111-111111111111"',
    'emails[type eq "work"].value eq "a@example.com"', // Entra ID's email matching
    'emails[value eq "a@example.com"]',
    'emails.value eq "a@example.com"',
    'userName eq "a" and active eq true',
  ]) {
    t.ok(users(f), `users: ${f}`);
  }
  for (const f of [
    'userName sw "a"',
    'userName ne "a"',
    'active eq true',
    'title eq "Engineer"',
    'displayName eq "Ada"', // not a key: any number of users share a display name
    'userName eq "a" or userName eq "b"',
    'not (userName eq "a")',
    'emails[type eq "work"]',
    'emails[value co "example"]',
    'userName eq "a" and active eq true and title pr and displayName pr',
  ]) {
    t.notOk(users(f), `users: ${f}`);
  }
  t.ok(groups('displayName eq "Engineering"'), 'groups: displayName eq');
  t.ok(groups('id eq "11111111-1111-4111-8111-111111111111" and members[value eq "22222222-2222-4222-8222-222222222222"]'), "groups: Entra ID's membership check");
  t.notOk(groups('displayName sw "Eng"'), 'groups: displayName sw');
});

if (!backends.includes('postgres')) {
  t.comment('postgres backend not selected (ROSTER_TEST_BACKENDS): skipping the server tests');
} else {
  // One connection, so the test reads pg_prepared_statements in the session that ran the requests.
  const start = async (t: Test, env: Record<string, string> = {}) => {
    const app = await startApp(t, 'postgres', { DATABASE_POOL_MAX: '1', ...env });
    return { db: app.database.db, scim: app.scim };
  };

  const workload = async (t: Test, scim: Awaited<ReturnType<typeof start>>['scim']) => {
    const ids: string[] = [];
    for (const n of [1, 2, 3]) {
      const created = await scim('POST', '/Users', {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
        userName: `user${n}@example.com`,
        externalId: `ext-${n}`,
        emails: [{ type: 'work', value: `user${n}@example.com`, primary: true }],
        title: n === 2 ? 'Engineer' : 'Analyst',
      });
      t.equal(created.status, 201);
      ids.push(created.body.id);
    }
    for (const n of [1, 2, 3]) {
      const found = await scim('GET', `/Users?filter=${encodeURIComponent(`userName eq "USER${n}@example.com"`)}`);
      t.equal(found.body.totalResults, 1, 'the look-up finds the user (case-insensitively)');
      t.equal(found.body.Resources[0].id, ids[n - 1]);
      const byEmail = await scim('GET', `/Users?filter=${encodeURIComponent(`emails[type eq "work"].value eq "user${n}@example.com"`)}`);
      t.equal(byEmail.body.Resources[0]?.id, ids[n - 1]);
    }
    const none = await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "nobody@example.com"')}`);
    t.equal(none.body.totalResults, 0);
    const general = await scim('GET', `/Users?filter=${encodeURIComponent('title eq "Engineer"')}&sortBy=userName`);
    t.same(general.body.Resources.map((r: { id: string }) => r.id), [ids[1]]);
    for (const title of ['Lead', 'Principal']) {
      const patched = await scim('PATCH', `/Users/${ids[0]}`, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'title', value: title }],
      });
      t.equal(patched.status, 200);
      t.equal(patched.body.title, title);
    }
    return ids;
  };

  t.test('look-ups and writes run as named statements, prepared once per connection', async (t) => {
    const { db, scim } = await start(t);
    await workload(t, scim);
    const stmts = await preparedStatements(db);
    if (process.env.DUMP) console.error(stmts.map((s) => s.statement).join('\n----\n'));
    t.ok(stmts.length > 0, 'statements were prepared');
    t.ok(stmts.every((s) => s.name.startsWith('roster_') && s.statement.endsWith(PREPARED_MARK)), 'only marked statements are named');
    t.equal(new Set(stmts.map((s) => s.statement)).size, stmts.length, 'each text is prepared once');
    const has = (re: RegExp, what: string) => t.equal(stmts.filter((s) => re.test(s.statement)).length, 1, what);
    // Three look-ups by userName and three by email, each with other values: one statement each.
    // The LIMIT is written into the text (src/db/paging.ts LIMIT_STEPS), so that a generic plan costs what a custom one does.
    has(/lower\("u"\."user_name"\) = \$\d+\)\)[^]*limit 100 \/\* prepared \*\/$/, 'the userName look-up');
    has(/email_values @> array\[\$\d+\][^]*limit 100 \/\* prepared \*\/$/, 'the email look-up');
    has(/^\s*with rw as \(insert into "users"/, 'the create with its events');
    has(/^\s*with rw as \(update "users"/, 'the update with its events');
    has(/for update of u/, 'the lock taken by a PATCH');
    t.equal(stmts.filter((s) => /limit \d+ \/\* prepared/.test(s.statement)).length, 2, 'the only listings prepared are the two look-ups');
    t.notOk(stmts.some((s) => /limit \$/.test(s.statement)), 'no prepared listing takes its LIMIT as a parameter');
    t.notOk(stmts.some((s) => /order by lower\(/.test(s.statement)), 'the general filter sorted by userName is planned for its values, not prepared');
  });

  t.test('a look-up is prepared with its LIMIT rounded up to a step, and answers with the rows asked for', async (t) => {
    const { db, scim } = await start(t);
    // externalId is a key look-up but not unique: three users share one here.
    const ids: string[] = [];
    for (const n of [1, 2, 3]) {
      const r = await scim('POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: `dup${n}@example.com`, externalId: 'shared' });
      ids.push(r.body.id);
    }
    const filter = encodeURIComponent('externalId eq "shared"');
    const page = async (query: string) => {
      const r = await scim('GET', `/Users?filter=${filter}&${query}`);
      t.equal(r.status, 200, query);
      return [r.body.totalResults, r.body.Resources.map((u: { id: string }) => u.id)];
    };
    // First, while no earlier page left a resume point (src/services/paging.ts) that would make it a keyset read.
    t.same(await page('startIndex=2&count=1'), [3, ids.slice(1, 2)], 'with an offset: unnamed, the same rows');
    t.same(await page('count=1'), [3, ids.slice(0, 1)], 'count=1: limit 1');
    t.same(await page('count=2'), [3, ids.slice(0, 2)], 'count=2: read up to 10, two answered');
    t.same(await page('count=5'), [3, ids], 'count=5: all three, counted without a count query');
    t.same(await page('count=100'), [3, ids]);
    t.same(await page('count=1000'), [3, ids]);
    const limits = (await preparedStatements(db))
      .filter((s) => /external_id/.test(s.statement) && /from "users"/.test(s.statement))
      .map((s) => /limit (\S+) \/\* prepared/.exec(s.statement)?.[1])
      .sort((a, b) => Number(a) - Number(b));
    t.same(limits, ['1', '10', '100', '1000'], 'one text per step used (count=5 shared the text of count=2); no text for the offset page');
  });

  t.test('DATABASE_PREPARED_STATEMENTS=false sends every statement unnamed', async (t) => {
    const { db, scim } = await start(t, { DATABASE_PREPARED_STATEMENTS: 'false' });
    await workload(t, scim);
    t.same(await preparedStatements(db), []);
  });

  t.test('a session whose prepared statement went stale is closed, not reused', async (t) => {
    const { db } = await openTestDatabase(t, 'postgres', { poolMax: 1 });
    await sql`create table t (a int)`.execute(db);
    await sql`insert into t values (1)`.execute(db);
    const read = () => sql<{ a: unknown }>`select a from t${prepared}`.execute(db);
    const pid = async () => (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)).rows[0]!.pid;
    t.equal((await read()).rows[0]?.a, 1);
    const before = await pid();
    // What a migration changing a selected column's type does to a session that prepared the statement earlier.
    await sql`alter table t alter column a type bigint`.execute(db);
    await t.rejects(read(), { code: '0A000', message: /cached plan must not change result type/ });
    t.not(await pid(), before, 'the next statement runs in a new session');
    t.equal((await read()).rows[0]?.a, '1', 'and the statement works again (bigint comes back as text)');
  });

  t.test('a marked statement with its values', async (t) => {
    const { db } = await start(t);
    for (const n of [1, 2, 3, 4, 5, 6, 7]) {
      const r = await sql<{ n: number }>`select ${n}::int * 2 as n${prepared}`.execute(db);
      t.equal(r.rows[0]?.n, n * 2, `execution ${n} (Postgres may switch to a generic plan after five)`);
    }
    t.equal((await preparedStatements(db)).filter((s) => s.statement.includes('* 2 as n')).length, 1);
  });
}
