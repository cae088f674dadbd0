/**
 * Frozen migration: never edit after it has shipped; add a new file instead.
 *
 * Where the index pages Roster served ended (src/services/paging.ts, "Index
 * paging"), so that the page after one, on any replica, is read by keyset from
 * there instead of by OFFSET. Rows are hints, kept ten minutes: UNLOGGED (not
 * written to the WAL, emptied after a crash, not on standbys), which costs a
 * traversal at most one page read by offset.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create unlogged table index_resume_points (
      tenant_id text not null references tenants (id) on delete cascade,
      -- Hash of the endpoint, filter and sort (queryBinding in src/services/paging.ts).
      query text not null,
      -- The startIndex of the page that follows the one that ended here.
      start_index integer not null,
      -- Position (src/db/paging.ts) of that page's last row: its sort key as text, and its id.
      sort_key text,
      row_id uuid not null,
      -- totalResults as counted for the traversal, and when.
      total integer not null,
      counted_at timestamptz not null,
      saved_at timestamptz not null default now(),
      primary key (tenant_id, query, start_index)
    )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table if exists index_resume_points`.execute(db);
}
