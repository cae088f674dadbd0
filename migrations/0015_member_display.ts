/**
 * Frozen migration: never edit after it has shipped; add a new file instead.
 *
 * Each membership row carries its member's display name (a user's
 * displayName, else its userName; a group's displayName), and the primary
 * key's index includes it with the member's type, so a group's members are
 * read from that index alone. Joining each member to `users` for its name
 * cost Okta's group import (20,000 members a page) 19,000 look-ups in a table
 * bigger than shared_buffers: 100–200 ms of Postgres per page, against
 * ~15 ms from the index (bench/README.md, "Findings").
 *
 * Triggers keep it, whichever code path writes:
 * - An inserted membership takes its member's name, reading the member FOR
 *   KEY SHARE, the lock the writers' own member checks take (src/db/groups.ts).
 * - A rename of a user or group updates its memberships. Before that it locks
 *   the member FOR UPDATE, which waits for transactions inserting a
 *   membership of it (holding FOR KEY SHARE) to commit, so that its update
 *   sees their rows; inserts that start later wait for the rename and read
 *   the new name.
 * Names are kept to MAX_NAME characters, which always fit an index entry
 * (2,704 bytes): displayName and userName have been refused beyond that
 * length since src/scim/limits.ts MAX_INDEXED_LENGTH (512); only older
 * rows can be longer.
 */
import { sql, type Kysely } from 'kysely';

const MAX_NAME = 512;

export async function up(db: Kysely<any>): Promise<void> {
  // Until commit, nothing may write memberships, or rename a member, between the backfill and the triggers (their
  // CREATE TRIGGER takes this lock on users and groups anyway; ALTER TABLE locks group_members entirely). Should a
  // write that holds these tables in the other order deadlock with it, one of the two is cancelled: a SCIM write
  // is retried (src/services/retry.ts), the migration fails and runs again (the chart's Job, or the next start).
  await sql`lock table users, groups in share row exclusive mode`.execute(db);
  await sql`alter table group_members add column display text collate "C"`.execute(db);
  // The backfill rewrites every row; without the indexes it writes no index entries, and they are built once after.
  await sql`alter table group_members drop constraint group_members_pkey`.execute(db);
  await sql`drop index group_members_member`.execute(db);
  await sql.raw(`
    update group_members m set display = left(coalesce(u.display_name, u.user_name), ${MAX_NAME})
      from users u where m.member_type = 'User' and u.tenant_id = m.tenant_id and u.id = m.member_id`).execute(db);
  await sql.raw(`
    update group_members m set display = left(g.display_name, ${MAX_NAME})
      from groups g where m.member_type = 'Group' and g.tenant_id = m.tenant_id and g.id = m.member_id`).execute(db);
  await sql`alter table group_members add constraint group_members_pkey primary key (tenant_id, group_id, member_id) include (member_type, display)`.execute(db);
  await sql`create index group_members_member on group_members (tenant_id, member_id)`.execute(db);

  await sql.raw(`
    create function group_members_display() returns trigger language plpgsql as $$
    begin
      if new.member_type = 'User' then
        select left(coalesce(u.display_name, u.user_name), ${MAX_NAME}) into new.display
          from users u where u.tenant_id = new.tenant_id and u.id = new.member_id for key share;
      else
        select left(g.display_name, ${MAX_NAME}) into new.display
          from groups g where g.tenant_id = new.tenant_id and g.id = new.member_id for key share;
      end if;
      return new;
    end $$`).execute(db);
  await sql`create trigger group_members_display before insert on group_members for each row execute function group_members_display()`.execute(db);

  for (const [table, type, name] of [
    ['users', 'User', 'coalesce(new.display_name, new.user_name)'],
    ['groups', 'Group', 'new.display_name'],
  ] as const) {
    const columns = `display_name${table === 'users' ? ', user_name' : ''}`;
    const renamed = `(${name.replaceAll('new.', 'old.')} is distinct from ${name})`;
    await sql.raw(`
      create function ${table}_member_rename() returns trigger language plpgsql as $$
      begin
        perform 1 from ${table} where tenant_id = new.tenant_id and id = new.id for update;
        return new;
      end $$`).execute(db);
    await sql.raw(`
      create trigger ${table}_member_rename before update of ${columns} on ${table} for each row
        when ${renamed} execute function ${table}_member_rename()`).execute(db);
    await sql.raw(`
      create function ${table}_member_display() returns trigger language plpgsql as $$
      begin
        update group_members set display = left(${name}, ${MAX_NAME})
         where tenant_id = new.tenant_id and member_id = new.id and member_type = '${type}';
        return null;
      end $$`).execute(db);
    await sql.raw(`
      create trigger ${table}_member_display after update of ${columns} on ${table} for each row
        when ${renamed} execute function ${table}_member_display()`).execute(db);
  }
  // The backfill left the visibility map empty; index-only reads need a VACUUM (autovacuum's, soon) to be index-only.
  await sql`analyze group_members`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['users', 'groups']) {
    for (const name of [`${table}_member_display`, `${table}_member_rename`]) {
      await sql.raw(`drop trigger ${name} on ${table}`).execute(db);
      await sql.raw(`drop function ${name}()`).execute(db);
    }
  }
  await sql`drop trigger group_members_display on group_members`.execute(db);
  await sql`drop function group_members_display()`.execute(db);
  await sql`alter table group_members drop constraint group_members_pkey`.execute(db);
  await sql`alter table group_members drop column display`.execute(db);
  await sql`alter table group_members add constraint group_members_pkey primary key (tenant_id, group_id, member_id)`.execute(db);
}
