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
 *   SHARE: a rename running meanwhile either committed first (and is read)
 *   or waits for the insert to commit (and then updates the new row too).
 *   FOR KEY SHARE, which the writers' own member checks take, would let a
 *   rename miss a membership being inserted.
 * - A rename of a user or group updates its memberships.
 * Names fit an index entry: displayName and userName are at most 512
 * characters (src/scim/limits.ts MAX_INDEXED_LENGTH).
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // Until commit, nothing may write memberships, or rename a member, between the backfill and the triggers (their
  // CREATE TRIGGER takes this lock on users and groups anyway; ALTER TABLE locks group_members entirely).
  await sql`lock table users, groups in share row exclusive mode`.execute(db);
  await sql`alter table group_members add column display text collate "C"`.execute(db);
  // The backfill rewrites every row; without the indexes it writes no index entries, and they are built once after.
  await sql`alter table group_members drop constraint group_members_pkey`.execute(db);
  await sql`drop index group_members_member`.execute(db);
  await sql`
    update group_members m set display = coalesce(u.display_name, u.user_name)
      from users u where m.member_type = 'User' and u.tenant_id = m.tenant_id and u.id = m.member_id`.execute(db);
  await sql`
    update group_members m set display = g.display_name
      from groups g where m.member_type = 'Group' and g.tenant_id = m.tenant_id and g.id = m.member_id`.execute(db);
  await sql`alter table group_members add constraint group_members_pkey primary key (tenant_id, group_id, member_id) include (member_type, display)`.execute(db);
  await sql`create index group_members_member on group_members (tenant_id, member_id)`.execute(db);

  await sql.raw(`
    create function group_members_display() returns trigger language plpgsql as $$
    begin
      if new.member_type = 'User' then
        select coalesce(u.display_name, u.user_name) into new.display
          from users u where u.tenant_id = new.tenant_id and u.id = new.member_id for share;
      else
        select g.display_name into new.display
          from groups g where g.tenant_id = new.tenant_id and g.id = new.member_id for share;
      end if;
      return new;
    end $$`).execute(db);
  await sql`create trigger group_members_display before insert on group_members for each row execute function group_members_display()`.execute(db);

  for (const [table, type, name] of [
    ['users', 'User', 'coalesce(new.display_name, new.user_name)'],
    ['groups', 'Group', 'new.display_name'],
  ] as const) {
    await sql.raw(`
      create function ${table}_member_display() returns trigger language plpgsql as $$
      begin
        update group_members set display = ${name}
         where tenant_id = new.tenant_id and member_id = new.id and member_type = '${type}';
        return null;
      end $$`).execute(db);
    await sql.raw(`
      create trigger ${table}_member_display after update of display_name${table === 'users' ? ', user_name' : ''} on ${table} for each row
        when (${name.replaceAll('new.', 'old.')} is distinct from ${name})
        execute function ${table}_member_display()`).execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['users', 'groups']) {
    await sql.raw(`drop trigger ${table}_member_display on ${table}`).execute(db);
    await sql.raw(`drop function ${table}_member_display()`).execute(db);
  }
  await sql`drop trigger group_members_display on group_members`.execute(db);
  await sql`drop function group_members_display()`.execute(db);
  await sql`alter table group_members drop constraint group_members_pkey`.execute(db);
  await sql`alter table group_members drop column display`.execute(db);
  await sql`alter table group_members add constraint group_members_pkey primary key (tenant_id, group_id, member_id)`.execute(db);
}
