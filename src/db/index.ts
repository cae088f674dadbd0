/**
 * Opening the database: `pg` against DATABASE_URL, or embedded PGlite in a
 * data directory. Both speak the same SQL, run the same migrations.
 */
import { mkdirSync } from 'node:fs';
import { Kysely, Migrator, PostgresDialect, sql, type MigrationProvider, type Transaction } from 'kysely';
import pg from 'pg';
import { migrations } from '../../migrations/index.js';
import { lockDataDir } from './data-dir-lock.js';
import { PGliteDialect } from './pglite-dialect.js';
import { preparingPool } from './prepared.js';
import type { Database } from './types.js';

export type Db = Kysely<Database>;
/** A transaction on the database: what services hand to repositories to write several things at once. */
export type Tx = Transaction<Database>;

export interface DatabaseHandle {
  db: Db;
  kind: 'postgres' | 'pglite';
  /** PGlite: its data directory (`memory://` in memory). */
  dataDir?: string;
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
  /** Postgres cancels a statement running longer (SQLSTATE 57014); 0 = no limit. Migrations run without it. */
  statementTimeoutMs?: number;
  /** A request waits at most this long for a pool connection (including connecting); 0 = no limit. */
  acquireTimeoutMs?: number;
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
      // A slow or unreachable database makes requests fail fast (503, src/http/errors.ts) instead of piling up.
      ...(opts.statementTimeoutMs ? { statement_timeout: opts.statementTimeoutMs } : {}),
      ...(opts.acquireTimeoutMs ? { connectionTimeoutMillis: opts.acquireTimeoutMs } : {}),
      // TCP keep-alive notices a server that vanished without closing the socket (a failed-over host).
      keepAlive: true,
    });
    // A client whose server connection drops (restart, failover) emits 'error'; without a listener that would
    // crash the process. The pool listens on idle clients only, so every client gets a listener of its own
    // for its whole life: a checked-out client between two queries is then just unusable (its next query
    // fails, and the pool discards it on release).
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
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
      dataDir,
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
  // On one connection without the statement timeout: building an index on a large table may take longer.
  return db.connection().execute(async (conn) => {
    await sql`set statement_timeout = 0`.execute(conn);
    try {
      const { error, results } = await new Migrator({ db: conn, provider }).migrateToLatest();
      if (error) throw error instanceof Error ? error : new Error(String(error));
      return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
    } finally {
      await sql`reset statement_timeout`.execute(conn).catch(() => {}); // a dropped connection is discarded anyway
    }
  });
}

/** Names of migrations not yet applied (used by /readyz). */
export async function pendingMigrations(db: Kysely<any>): Promise<string[]> {
  const migrator = new Migrator({ db, provider });
  const all = await migrator.getMigrations();
  return all.filter((m) => !m.executedAt).map((m) => m.name);
}
