/**
 * Named prepared statements for the statements Roster sends most: the
 * identity look-ups an IdP makes before every write (`userName eq "…"`,
 * `externalId eq "…"`, …), reads and locks by id, and the writes of a
 * create, replace, patch or delete.
 *
 * Why: sent unnamed (node-postgres's default), every statement is parsed and
 * planned anew on every execution. For the userName look-up with its groups
 * that planning is most of the database's work: measured with pgbench on the
 * bench data (1,000,000 users, 10 clients, 2 cores), ~1,400 look-ups/s
 * unnamed against ~6,500–8,200 prepared; creates ~1,000 against ~1,700–2,000
 * (bench/README.md). A named statement is parsed once per connection, and
 * after five executions Postgres keeps a generic plan when it is no dearer
 * than the custom ones (plan_cache_mode=auto, the PREPARE documentation).
 *
 * Which statements: only those a repository marks by ending their text with
 * PREPARED_MARK (`${prepared}` in a `sql` template, `.modifyEnd(prepared)` on
 * a builder). The rule for marking: the statement's text has a bounded number
 * of shapes, and its plan cannot depend on the values — rows pinned by a
 * primary or unique key, or an equality on an indexed column, and inserts.
 * Filtered, sorted pages are not marked: a generic plan chosen for an
 * average tenant can be wrong for a tenant with a million users (it would
 * sort them all instead of walking the sort index), so those are planned for
 * their values every time.
 *
 * Bounds: at most MAX_NAMED distinct texts get a name per process (every
 * connection may prepare each of them once, and Postgres keeps each in that
 * session's memory); later texts run unnamed. The code's marked shapes are a
 * few dozen; look-ups `and`-ed with arbitrary other conditions are what could
 * add more.
 *
 * Off with DATABASE_PREPARED_STATEMENTS=false, for a transaction-pooling
 * proxy that cannot carry named statements across server connections
 * (PgBouncer before 1.21, or without max_prepared_statements).
 *
 * A marked statement never selects `*`: a prepared statement whose result
 * columns change fails with "cached plan must not change result type" on
 * every later execution in that session. With explicit columns that takes a
 * migration changing a selected column's type while older pods still run
 * (the chart's migration Job runs before the new pods replace them). Should
 * it happen, the connection is closed when it goes back to the pool instead
 * of being reused, so one request per connection fails, not every one.
 */
import { sql } from 'kysely';
import type { PostgresPool, PostgresPoolClient } from 'kysely';
import type pg from 'pg';
import { isStalePlan } from './errors.js';

export const PREPARED_MARK = '/* prepared */';

/** Ends a statement's text with PREPARED_MARK (a comment: harmless wherever the text goes, PGlite included). */
export const prepared = sql.raw(` ${PREPARED_MARK}`);

export const MAX_NAMED = 200;

/** Statement names by text, shared by every connection of one pool (so a name always means one text). */
export class StatementNames {
  private readonly names = new Map<string, string>();
  constructor(private readonly max = MAX_NAMED) {}

  /** The name for a marked text; undefined for an unmarked one, or when the limit is reached. */
  nameOf(text: string): string | undefined {
    if (!text.endsWith(PREPARED_MARK)) return undefined;
    let name = this.names.get(text);
    if (name === undefined && this.names.size < this.max) this.names.set(text, (name = `roster_${this.names.size + 1}`));
    return name;
  }

  get size(): number {
    return this.names.size;
  }
}

/**
 * A pg pool as Kysely's PostgresDialect wants it, sending marked statements
 * as named prepared statements. Each pg client gets one wrapper for its
 * lifetime (Kysely keeps its connection state per client object).
 */
export function preparingPool(pool: pg.Pool): PostgresPool {
  const names = new StatementNames();
  const wrappers = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  const wrap = (client: pg.PoolClient): PostgresPoolClient => {
    // Set when a prepared statement of this session went stale (see the header); the session is then not reused.
    let stale: Error | undefined;
    const query = (text: unknown, values?: readonly unknown[]) => {
      if (typeof text !== 'string') return client.query(text as pg.Submittable);
      const name = names.nameOf(text);
      if (name === undefined) return client.query(text, values as unknown[]);
      return client.query({ name, text, values: values as unknown[] }).catch((err: unknown) => {
        if (isStalePlan(err)) stale = err as Error;
        throw err;
      });
    };
    return {
      query: query as unknown as PostgresPoolClient['query'],
      release: () => {
        if (!stale) return client.release();
        // pg closes a client released with an error; the pool opens a fresh session when one is needed.
        wrappers.delete(client);
        client.release(stale);
      },
    };
  };
  return {
    async connect() {
      const client = await pool.connect();
      let w = wrappers.get(client);
      if (!w) wrappers.set(client, (w = wrap(client)));
      return w;
    },
    end: () => pool.end(),
  };
}
