/**
 * Frozen migration: never edit after it has shipped; add a new file instead.
 *
 * Member counts per group without counting rows: a page of groups shares a
 * member budget by how many members each group has (src/services/groups.ts
 * PAGE_MEMBER_BUDGET), and counting up to 10,000 members of each of a page's
 * groups cost Postgres about 100 ms per page. Triggers keep the counts with
 * every write to `group_members`, whichever code path makes it, in the
 * writer's own transaction, so a count is exact for any snapshot.
 *
 * A group's count is split over SLOTS rows, one per backend (pid modulo
 * SLOTS), so that concurrent membership changes of one group do not queue on
 * one row lock until commit; a count sums the group's rows. Inserts and
 * deletes are counted per statement from their transition tables (one upsert
 * per group for a bulk load). Memberships are never updated.
 */
import { sql, type Kysely } from 'kysely';

/** Rows per group; src/db/groups.ts memberCounts sums them. */
const SLOTS = 64;

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table group_member_counts (
      tenant_id text not null,
      group_id uuid not null,
      slot smallint not null,
      n bigint not null default 0,
      primary key (tenant_id, group_id, slot),
      foreign key (tenant_id, group_id) references groups (tenant_id, id) on delete cascade
    )`.execute(db);

  // Adds each group's delta. The join with groups skips a group being deleted (its memberships go by cascade).
  for (const [name, rows, sign] of [
    ['group_members_inserted', 'new_rows', ''],
    ['group_members_deleted', 'old_rows', '-'],
  ] as const) {
    await sql.raw(`
      create function ${name}() returns trigger language plpgsql as $$
      begin
        insert into group_member_counts as c (tenant_id, group_id, slot, n)
        select g.tenant_id, g.id, (pg_backend_pid() % ${SLOTS})::smallint, ${sign}d.n
          from (select tenant_id, group_id, count(*) as n from ${rows} group by tenant_id, group_id) d
          join groups g on g.tenant_id = d.tenant_id and g.id = d.group_id
          order by g.tenant_id, g.id
        on conflict (tenant_id, group_id, slot) do update set n = c.n + excluded.n;
        return null;
      end $$`).execute(db);
  }

  // src/db/group-member-patch.ts: a lone member change that cannot stand alone undoes itself with this error.
  await sql.raw(`
    create function group_member_patch_conflict() returns int language plpgsql as $$
    begin
      raise exception 'the member change must run under the group''s lock' using errcode = 'RM001';
    end $$`).execute(db);

  // No write may slip between the count below and the triggers.
  await sql`lock table group_members in share row exclusive mode`.execute(db);
  await sql`
    insert into group_member_counts (tenant_id, group_id, slot, n)
    select tenant_id, group_id, 0, count(*) from group_members group by tenant_id, group_id`.execute(db);
  await sql`
    create trigger group_members_counted_insert after insert on group_members
      referencing new table as new_rows for each statement execute function group_members_inserted()`.execute(db);
  await sql`
    create trigger group_members_counted_delete after delete on group_members
      referencing old table as old_rows for each statement execute function group_members_deleted()`.execute(db);
  // TRUNCATE fires no delete trigger; it empties the table, so the counts go too.
  await sql.raw(`
    create function group_members_truncated() returns trigger language plpgsql as $$
    begin
      delete from group_member_counts;
      return null;
    end $$`).execute(db);
  await sql`create trigger group_members_counted_truncate after truncate on group_members for each statement execute function group_members_truncated()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger group_members_counted_truncate on group_members`.execute(db);
  await sql`drop function group_members_truncated()`.execute(db);
  await sql`drop trigger group_members_counted_delete on group_members`.execute(db);
  await sql`drop trigger group_members_counted_insert on group_members`.execute(db);
  await sql`drop function group_members_deleted()`.execute(db);
  await sql`drop function group_members_inserted()`.execute(db);
  await sql`drop function group_member_patch_conflict()`.execute(db);
  await sql`drop table group_member_counts`.execute(db);
}
