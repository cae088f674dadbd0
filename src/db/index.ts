/**
 * Opening the database: `pg` against DATABASE_URL, or embedded PGlite in a
 * data directory. Both speak the same SQL, run the same migrations.
 */
import { mkdirSync } from 'node:fs';
import { Kysely, Migrator, PostgresDialect, type MigrationProvider } from 'kysely';
import pg from 'pg';
import { migrations } from '../../migrations/index.js';
import { lockDataDir } from './data-dir-lock.js';
import { PGliteDialect } from './pglite-dialect.js';
import { preparingPool } from './prepared.js';
import type { Database } from './types.js';

export type Db = Kysely<Database>;

export interface DatabaseHandle {
  db: Db;
  kind: 'postgres' | 'pglite';
  close(): Promise<void>;
  /** Connections in use / idle / waiting (pg pool); PGlite reports a single connection. */
  poolStats(): { total: number; idle: number; waiting: number };
}

export interface OpenOptions {
  databaseUrl?: string | undefined;
  dataDir?: string;
  poolMax?: number;
  /** Send marked statements as named prepared statements (src/db/prepared.ts); default true. */
  preparedStatements?: boolean;
}

export async function openDatabase(opts: OpenOptions): Promise<DatabaseHandle> {
  if (opts.databaseUrl) {
    // JIT compilation costs tens of milliseconds per query and pays off only for long analytical scans;
    // Roster's queries are short index look-ups, so it is off for Roster's sessions (an `options`
    // parameter in DATABASE_URL takes precedence).
    const url = new URL(opts.databaseUrl);
    const pool = new pg.Pool({
      connectionString: opts.databaseUrl,
      max: opts.poolMax ?? 10,
      ...(url.searchParams.has('options') ? {} : { options: '-c jit=off' }),
    });
    // An idle client that loses its server connection emits 'error'; without a listener that would crash the process.
    pool.on('error', () => {});
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: opts.preparedStatements === false ? pool : preparingPool(pool) }) });
    return {
      db,
      kind: 'postgres',
      close: () => db.destroy(),
      poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const dataDir = opts.dataDir ?? './data';
  let unlock = () => {};
  if (!dataDir.includes('://')) {
    mkdirSync(dataDir, { recursive: true });
    unlock = await lockDataDir(dataDir);
  }
  try {
    const pglite = dataDir === 'memory://' ? new PGlite() : new PGlite(dataDir);
    await pglite.waitReady;
    const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
    return {
      db,
      kind: 'pglite',
      close: async () => {
        await db.destroy();
        unlock();
      },
      poolStats: () => ({ total: 1, idle: 1, waiting: 0 }),
    };
  } catch (err) {
    unlock();
    throw err;
  }
}

const provider: MigrationProvider = { getMigrations: async () => migrations };

/**
 * Apply pending migrations. Kysely's Postgres adapter takes a transaction-level
 * advisory lock around the run, so replicas starting together apply each
 * migration exactly once.
 */
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Names of migrations not yet applied (used by /readyz). */
export async function pendingMigrations(db: Kysely<any>): Promise<string[]> {
  const migrator = new Migrator({ db, provider });
  const all = await migrator.getMigrations();
  return all.filter((m) => !m.executedAt).map((m) => m.name);
}
