/**
 * Test databases. Every test file gets a database of its own on each backend:
 * - postgres: a fresh database created on the local server
 *   (TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test is
 *   used only to CREATE/DROP DATABASE), dropped when the test ends;
 * - pglite: an in-memory PGlite instance.
 * ROSTER_TEST_BACKENDS=postgres or =pglite narrows the matrix for a quick run;
 * CI runs both.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrateToLatest, openDatabase, type DatabaseHandle, type OpenOptions } from '../../src/db/index.js';

export type Backend = 'postgres' | 'pglite';

export const ADMIN_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export const backends: Backend[] = (process.env.ROSTER_TEST_BACKENDS ?? 'postgres,pglite')
  .split(',')
  .map((s) => s.trim())
  .filter((s): s is Backend => s === 'postgres' || s === 'pglite');

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** Create an empty database on the Postgres server and return its URL; dropped at teardown. */
export async function createPostgresDatabase(t: Teardown): Promise<string> {
  const name = `roster_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  t.teardown(async () => {
    const c = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
    await c.connect();
    await c.query(`drop database if exists ${name} with (force)`);
    await c.end();
  });
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A migrated, empty database on the given backend, closed (and dropped) at teardown. `postgres` options apply to the Postgres backend only. */
export async function openTestDatabase(
  t: Teardown,
  backend: Backend,
  postgres: Pick<OpenOptions, 'poolMax' | 'preparedStatements' | 'statementTimeoutMs' | 'acquireTimeoutMs'> = {},
): Promise<DatabaseHandle & { url?: string }> {
  const url = backend === 'postgres' ? await createPostgresDatabase(t) : undefined;
  const handle = await openDatabase(url ? { databaseUrl: url, poolMax: 5, ...postgres } : { dataDir: 'memory://' });
  // Registered after the drop, so it runs first (tap runs teardowns in reverse order).
  t.teardown(() => handle.close());
  await migrateToLatest(handle.db);
  return url ? { ...handle, url } : handle;
}
