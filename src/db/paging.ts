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
import type { Database } from './types.js';

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
}

interface RawRow {
  id: string;
  resource: Record<string, unknown>;
  version: number;
  created: Date;
  last_modified: Date;
  sort_key: string | null;
}

const parts = (l: Listing) => {
  const col = (c: string) => sql.ref(`${l.alias}.${c}`);
  return {
    col,
    from: sql`${sql.table(l.table)} as ${sql.raw(l.alias)}`,
    where: sql`${col('tenant_id')} = `,
    order: l.order ?? col('created'),
  };
};

/** Number of rows the listing matches. */
export async function countRows(db: Q, tenantId: string, l: Listing): Promise<number> {
  const p = parts(l);
  const r = await sql<{ n: number }>`select count(*)::int as n from ${p.from} where ${p.where}${tenantId} and (${l.where ?? sql`true`})`.execute(db);
  return r.rows[0]?.n ?? 0;
}

/**
 * Rows of one window. Index windows and forward keyset windows come back in
 * display order; backward keyset windows in reading order, nearest to `from`
 * first (the reverse of display order), so that callers can keep reading
 * backwards across tables.
 */
export async function fetchRows(db: Q, tenantId: string, l: Listing, w: Window): Promise<Row[]> {
  const p = parts(l);
  const o = p.order;
  const id = p.col('id');
  const backward = 'backward' in w && w.backward;
  // Reading backwards walks the display order in reverse: directions flip and nulls come first.
  const desc = l.descending !== backward;
  const dir = desc ? sql`desc` : sql`asc`;
  const nulls = backward ? sql`nulls first` : sql`nulls last`;

  let keyset: RawBuilder<unknown> = sql`true`;
  if ('backward' in w && w.from) {
    const { key, id: fromId } = w.from;
    const cmp = sql.raw(desc ? '<' : '>');
    if (key !== null) {
      // Past `from` in reading order; rows without a key sort last, so forward reading reaches them too.
      keyset = sql`(${o} ${cmp} ${key} or (${o} = ${key} and ${id} ${cmp} ${fromId})${backward ? sql`` : sql` or ${o} is null`})`;
    } else {
      keyset = backward
        ? sql`(${o} is not null or (${o} is null and ${id} ${cmp} ${fromId}))`
        : sql`(${o} is null and ${id} ${cmp} ${fromId})`;
    }
  }
  const offset = 'offset' in w ? sql` offset ${w.offset}` : sql``;
  const r = await sql<RawRow>`
    select ${id} as id, ${p.col('resource')} as resource, ${p.col('version')} as version,
           ${p.col('created')} as created, ${p.col('last_modified')} as last_modified, (${o})::text as sort_key
    from ${p.from}
    where ${p.where}${tenantId} and (${l.where ?? sql`true`}) and ${keyset}
    order by ${o} ${dir} ${nulls}, ${id} ${dir}
    limit ${w.limit}${offset}`.execute(db);
  return r.rows.map((row) => ({
    stored: { id: row.id, resource: row.resource, version: row.version, created: row.created, lastModified: row.last_modified },
    position: { key: row.sort_key, id: row.id },
  }));
}
