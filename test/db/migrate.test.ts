import t from 'tap';
import { sql } from 'kysely';
import { migrateToLatest, openDatabase, pendingMigrations } from '../../src/db/index.js';
import { backends, createPostgresDatabase, openTestDatabase } from '../helpers/db.js';

for (const backend of backends) {
  t.test(`${backend}: migrations apply and leave nothing pending`, async (t) => {
    const h = await openTestDatabase(t, backend);
    t.same(await pendingMigrations(h.db), []);
    t.same(await migrateToLatest(h.db), [], 'a second run applies nothing');
    const r = await sql<{ n: number }>`select count(*)::int as n from users`.execute(h.db);
    t.equal(r.rows[0]!.n, 0);
  });
}

if (backends.includes('postgres')) {
  t.test('postgres: several processes migrating at once apply each migration once', async (t) => {
    const url = await createPostgresDatabase(t);
    const handles = await Promise.all([1, 2, 3, 4].map(() => openDatabase({ databaseUrl: url, poolMax: 2 })));
    t.teardown(() => Promise.all(handles.map((h) => h.close())));
    const applied = await Promise.all(handles.map((h) => migrateToLatest(h.db)));
    t.equal(applied.flat().length, Object.keys((await import('../../migrations/index.js')).migrations).length);
    t.same(await pendingMigrations(handles[0]!.db), []);
  });
}

t.test('pglite: one data directory, one process', async (t) => {
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'roster-pglite-'));
  const first = await openDatabase({ dataDir: dir });
  await t.rejects(openDatabase({ dataDir: dir }), /in use by process/);
  await migrateToLatest(first.db);
  await first.close();
  const again = await openDatabase({ dataDir: dir });
  t.same(await pendingMigrations(again.db), [], 'data survives a restart');
  await again.close();
});

if (backends.includes('postgres')) {
  t.test('postgres: Roster sessions run without JIT (short OLTP queries)', async (t) => {
    const h = await openTestDatabase(t, 'postgres');
    const r = await sql<{ jit: string }>`show jit`.execute(h.db);
    t.equal(r.rows[0]!.jit, 'off');
  });
}
