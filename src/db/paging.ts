/**
 * Listing users and groups a page at a time, shared by both tables and by
 * both paging methods:
 *
 * - index paging (RFC 7644 §3.4.2.4): `offset` / `limit`, as SCIM's
 *   startIndex asks; its cost grows with the offset, which is inherent to it;
 * - keyset paging (for RFC 9865 cursors): rows strictly after (or before) a
 *   position `(sort key, id)`, so a page costs the same at any depth — the
 *   sort index is entered at the position, nothing before it is read or
 *   skipped.
 *
 * The display order is `sort key asc|desc NULLS LAST, id asc|desc` (the id
 * breaks ties, so the order is total and a position is unambiguous). Without
 * sortBy the key is `created` (the (tenant_id, created, id) indexes).
 *
 * A position's key travels as the sort expression's text (`(key)::text`,
 * exact for timestamps to the microsecond) and is compared as an untyped
 * parameter, which Postgres (and PGlite) read as the expression's own type.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { StoredResource } from '../scim/representation.js';
import { isForeignKeyViolation } from './errors.js';
import { prepared } from './prepared.js';
import type { Database } from './types.js';
import { readUserCount, type UserCount } from './user-counts.js';

type Q = Kysely<Database>;

/** Where a row stands in a listing's order. */
export interface Position {
  /** The sort key as text; null when the row has no value for it (sorted last). */
  key: string | null;
  id: string;
}

/** One table's rows for one query: which rows (where) in which order. */
export interface Listing {
  table: 'users' | 'groups';
  /** The alias src/db/filter-sql.ts fragments refer to. */
  alias: 'u' | 'g';
  where?: RawBuilder<unknown> | undefined;
  /** Sort key expression; undefined: meta.created. */
  order?: RawBuilder<unknown> | undefined;
  descending: boolean;
  /** Extra per-row expression selected with the row (e.g. a user's groups as JSON), returned as Row.extra. */
  extra?: RawBuilder<unknown> | undefined;
  /**
   * Send the page's statement as a named prepared statement (src/db/prepared.ts): only for filters whose plan
   * is the same for every value (isKeyLookup in src/db/filter-sql.ts), never for a general filtered, sorted page.
   */
  prepared?: boolean | undefined;
  /** The listing matches exactly the users a maintained count covers (src/db/user-counts.ts): no rows are counted. */
  counted?: UserCount | undefined;
}

export type Window =
  /** Index paging: skip `offset` rows of the display order. */
  | { offset: number; limit: number }
  /**
   * Keyset paging: rows strictly after `from` (backward: strictly before it),
   * or from the start (backward: from the end) when `from` is undefined.
   */
  | { from?: Position | undefined; backward: boolean; limit: number };

export interface Row {
  stored: StoredResource;
  position: Position;
  extra?: unknown;
}

interface RawRow {
  id: string;
  resource: Record<string, unknown>;
  version: number;
  created: Date;
  last_modified: Date;
  sort_key: string | null;
  extra?: unknown;
}

/** Fragments that depend only on the table (Kysely's builders are immutable, so they are built once and shared). */
interface FixedParts {
  col: (c: string) => RawBuilder<unknown>;
  from: RawBuilder<unknown>;
  where: RawBuilder<unknown>;
}
const fixedParts = new Map<Listing['table'], FixedParts>();

function fixedPartsOf(l: Listing): FixedParts {
  // A table always has the same alias (Listing: users u, groups g), so the table alone is the key.
  let fixed = fixedParts.get(l.table);
  if (!fixed) {
    const refs = new Map<string, RawBuilder<unknown>>();
    const col = (c: string) => {
      let ref = refs.get(c);
      if (!ref) refs.set(c, (ref = sql.ref(`${l.alias}.${c}`)));
      return ref;
    };
    fixed = { col, from: sql`${sql.table(l.table)} as ${sql.raw(l.alias)}`, where: sql`${col('tenant_id')} = ` };
    fixedParts.set(l.table, fixed);
  }
  return fixed;
}

const parts = (l: Listing) => {
  const fixed = fixedPartsOf(l);
  return { col: fixed.col, from: fixed.from, where: fixed.where, order: l.order ?? fixed.col('created') };
};

/**
 * Number of rows the listing matches. With `limit`, counting stops past it and
 * the answer is undefined when there are more; a maintained count
 * (src/db/user-counts.ts) is always read whole, as it costs nothing.
 */
export async function countRows(db: Q, tenantId: string, l: Listing): Promise<number>;
export async function countRows(db: Q, tenantId: string, l: Listing, limit: number | undefined): Promise<number | undefined>;
export async function countRows(db: Q, tenantId: string, l: Listing, limit?: number): Promise<number | undefined> {
  if (l.counted) return readUserCount(db, tenantId, l.counted);
  const p = parts(l);
  const matches = sql`select 1 from ${p.from} where ${p.where}${tenantId} and (${l.where ?? sql`true`})`;
  const r = await (limit === undefined
    ? sql<{ n: number }>`select count(*)::int as n from (${matches}) as m`
    : sql<{ n: number }>`select count(*)::int as n from (${matches} limit ${limit + 1}) as m`
  ).execute(db);
  const n = r.rows[0]?.n ?? 0;
  return limit !== undefined && n > limit ? undefined : n;
}

/**
 * Rows of one window. Index windows and forward keyset windows come back in
 * display order; backward keyset windows in reading order, nearest to `from`
 * first (the reverse of display order), so that callers can keep reading
 * backwards across tables.
 *
 * A keyset window reads the rows that have a sort key and those that have
 * none as two separate parts, each an index range: `(key, id) > (k, i)` over
 * the rows with a key in the index's own order (a row comparison, which
 * Postgres answers from an index on (tenant_id, key, id) by entering it at
 * the position), then the keyless rows by id. A single query with
 * `… or key is null` would defeat the index and cost in proportion to the
 * depth of the page.
 */
export async function fetchRows(db: Q, tenantId: string, l: Listing, w: Window): Promise<Row[]> {
  const p = parts(l);
  if ('offset' in w) {
    const dir = l.descending ? sql`desc` : sql`asc`;
    return select(db, p, l, tenantId, sql`true`, sql`${p.order} ${dir} nulls last, ${p.col('id')} ${dir}`, w.limit, w.offset);
  }
  // Reading backwards walks the display order in reverse.
  const desc = l.descending !== w.backward;
  const dir = desc ? sql`desc` : sql`asc`;
  const cmp = sql.raw(desc ? '<' : '>');
  const o = p.order;
  const id = p.col('id');
  const keyed = async (after: Position | undefined, limit: number): Promise<Row[]> =>
    limit <= 0
      ? []
      : select(db, p, l, tenantId, after ? sql`${o} is not null and (${o}, ${id}) ${cmp} (${after.key}, ${after.id})` : sql`${o} is not null`, sql`${o} ${dir}, ${id} ${dir}`, limit);
  const keyless = async (after: Position | undefined, limit: number): Promise<Row[]> =>
    limit <= 0 ? [] : select(db, p, l, tenantId, after ? sql`${o} is null and ${id} ${cmp} ${after.id}` : sql`${o} is null`, sql`${id} ${dir}`, limit);

  // Keyless rows sort last in display order: first when reading backwards.
  const from = w.from;
  if (!w.backward) {
    if (from && from.key === null) return keyless(from, w.limit);
    const rows = await keyed(from, w.limit);
    return rows.concat(await keyless(undefined, w.limit - rows.length));
  }
  if (from && from.key !== null) return keyed(from, w.limit);
  const rows = await keyless(from, w.limit);
  return rows.concat(await keyed(undefined, w.limit - rows.length));
}

/**
 * The LIMITs a named listing is prepared with: the smallest step at or above
 * the page's limit, written into the text, and the rows cut to the limit
 * afterwards. A LIMIT sent as a parameter is unknown to a generic plan, which
 * Postgres then costs for a tenth of the estimated rows: for the email
 * look-up at 1,000,000 users (the GIN estimate is thousands of rows) that is
 * dearer than the custom plan for `limit 100`, so Postgres would plan that
 * statement again on every execution. With the LIMIT in the text both plans
 * cost the same and the generic one is kept (bench/README.md, "Generic plans
 * for the email look-up"). The steps keep it to four texts per look-up; a key
 * look-up matches a handful of rows, so reading up to the step costs nothing.
 * Larger limits and any offset go unnamed.
 */
const LIMIT_STEPS = [1, 10, 100, 1000] as const;

async function select(
  db: Q,
  p: ReturnType<typeof parts>,
  l: Listing,
  tenantId: string,
  range: RawBuilder<unknown>,
  orderBy: RawBuilder<unknown>,
  limit: number,
  offset = 0,
): Promise<Row[]> {
  const step = l.prepared && offset === 0 ? LIMIT_STEPS.find((s) => s >= limit) : undefined;
  const r = await sql<RawRow>`
    select ${p.col('id')} as id, ${p.col('resource')} as resource, ${p.col('version')} as version,
           ${p.col('created')} as created, ${p.col('last_modified')} as last_modified, (${p.order})::text as sort_key${l.extra ? sql`, ${l.extra} as extra` : sql``}
    from ${p.from}
    where ${p.where}${tenantId} and (${l.where ?? sql`true`}) and ${range}
    order by ${orderBy}
    ${step === undefined ? sql`limit ${limit}${offset > 0 ? sql` offset ${offset}` : sql``}` : sql`limit ${sql.lit(step)}${prepared}`}`.execute(db);
  const rows = step !== undefined && r.rows.length > limit ? r.rows.slice(0, limit) : r.rows;
  return rows.map((row) => ({
    stored: { id: row.id, resource: row.resource, version: row.version, created: row.created, lastModified: row.last_modified },
    position: { key: row.sort_key, id: row.id },
    ...(l.extra ? { extra: row.extra } : {}),
  }));
}

/**
 * Where an index page ended, for the page that follows it (index_resume_points,
 * migrations/0004; how it is used: src/services/paging.ts). Times are the
 * database's, so replicas with different clocks agree on ages.
 */
export interface ResumePoint {
  position: Position;
  total: number;
  countedAt: Date;
  /** Whether `total` was counted at most the reuse window ago. */
  countFresh: boolean;
}

/** The point saved for `startIndex` of `query` at most `ttlSeconds` ago. */
export async function findResumePoint(
  db: Q,
  tenantId: string,
  query: string,
  startIndex: number,
  windows: { ttlSeconds: number; countReuseSeconds: number },
): Promise<ResumePoint | undefined> {
  const r = await sql<{ sort_key: string | null; row_id: string; total: number; counted_at: Date; fresh: boolean }>`
    select sort_key, row_id, total, counted_at, counted_at > now() - make_interval(secs => ${windows.countReuseSeconds}) as fresh
    from index_resume_points
    where tenant_id = ${tenantId} and query = ${query} and start_index = ${startIndex}
      and saved_at > now() - make_interval(secs => ${windows.ttlSeconds})${prepared}`.execute(db);
  const row = r.rows[0];
  return row && { position: { key: row.sort_key, id: row.row_id }, total: row.total, countedAt: row.counted_at, countFresh: row.fresh };
}

/**
 * Saves (or replaces) the point for `startIndex` of `query`; `countedAt` undefined: counted now.
 * A tenant deleted meanwhile has nothing left to resume: its point is not saved.
 */
export async function saveResumePoint(db: Q, tenantId: string, query: string, startIndex: number, position: Position, total: number, countedAt?: Date): Promise<void> {
  try {
    await sql`
      insert into index_resume_points (tenant_id, query, start_index, sort_key, row_id, total, counted_at, saved_at)
      values (${tenantId}, ${query}, ${startIndex}, ${position.key}, ${position.id}, ${total}, coalesce(${countedAt ?? null}::timestamptz, now()), now())
      on conflict (tenant_id, query, start_index) do update
        set sort_key = excluded.sort_key, row_id = excluded.row_id, total = excluded.total, counted_at = excluded.counted_at, saved_at = excluded.saved_at${prepared}`.execute(db);
  } catch (err) {
    if (!isForeignKeyViolation(err)) throw err;
  }
}

/** Deletes points saved more than `ttlSeconds` ago; returns how many. */
export async function pruneResumePoints(db: Q, ttlSeconds: number): Promise<number> {
  const r = await sql`delete from index_resume_points where saved_at < now() - make_interval(secs => ${ttlSeconds})`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}
