/**
 * The webhook worker's own Postgres connections (WEBHOOK_DATABASE_CONNECTIONS):
 * with every connection of the main pool taken, the worker still reaches the
 * database; on PGlite it shares the one connection.
 */
import { sql } from 'kysely';
import t from 'tap';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/index.js';
import { openWorkerDatabase } from '../../src/startup.js';
import { backends, createPostgresDatabase } from '../helpers/db.js';

if (backends.includes('postgres')) {
  t.test('postgres: the worker queries while the main pool is exhausted', async (t) => {
    const url = await createPostgresDatabase(t);
    const config = loadConfig({ DATABASE_URL: url, DATABASE_POOL_MAX: '1', DATABASE_ACQUIRE_TIMEOUT_MS: '300', WEBHOOK_DATABASE_CONNECTIONS: '1' });
    const main = await openDatabase({ databaseUrl: url, poolMax: 1, acquireTimeoutMs: 300 });
    t.teardown(() => main.close());
    const worker = await openWorkerDatabase(config, main);
    t.teardown(() => worker.close());
    t.ok(worker.own);

    let release!: () => void;
    const held = main.db.transaction().execute(async (trx) => {
      await sql`select 1`.execute(trx);
      await new Promise<void>((r) => (release = r));
    });
    await new Promise((r) => setTimeout(r, 50));
    await t.rejects(sql`select 1`.execute(main.db), 'the main pool has no connection left');
    t.same((await sql<{ n: number }>`select 2 as n`.execute(worker.db)).rows, [{ n: 2 }], 'the worker has its own');
    release();
    await held;
  });
}

if (backends.includes('pglite')) {
  t.test('pglite: the worker shares the embedded database', async (t) => {
    const main = await openDatabase({ dataDir: 'memory://' });
    t.teardown(() => main.close());
    const worker = await openWorkerDatabase(loadConfig({}), main);
    t.notOk(worker.own);
    t.equal(worker.db, main.db);
  });
}
