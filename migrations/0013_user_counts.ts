/**
 * Frozen migration: never edit after it has shipped; add a new file instead.
 *
 * Exact user counts per tenant without counting rows: RFC 7644 §3.4.2.4
 * requires totalResults on every index page, and `GET /Users` or
 * `filter=active eq true` at a million users took seconds to count. Triggers
 * keep the counts with every write to `users`, whichever code path makes it,
 * in the writer's own transaction, so a count is exact for any snapshot.
 *
 * A tenant's counts are split over SLOTS rows, one per backend (pid modulo
 * SLOTS), so that concurrent writers of one tenant do not queue on one row
 * lock until commit; a count sums the tenant's rows. Inserts and deletes are
 * counted per statement from their transition tables (one upsert for a bulk
 * load of thousands of rows); an update only when it changes `active`; a
 * TRUNCATE empties them. (A data-only restore must run with the triggers off,
 * `pg_restore --disable-triggers`, as it restores the counts too.)
 */
import { sql, type Kysely } from 'kysely';

/** Rows per tenant; src/db/user-counts.ts sums them. */
const SLOTS = 64;

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table user_counts (
      tenant_id text not null references tenants (id) on delete cascade,
      slot smallint not null,
      total bigint not null default 0,
      -- Users whose active is true, and false (a user without it is in neither).
      active bigint not null default 0,
      inactive bigint not null default 0,
      primary key (tenant_id, slot)
    )`.execute(db);

  // Adds one tenant's deltas. The join with tenants skips a tenant being deleted (its users go by cascade).
  await sql.raw(`
    create function user_counts_add(tenant text, d_total bigint, d_active bigint, d_inactive bigint) returns void language plpgsql as $$
    begin
      insert into user_counts as c (tenant_id, slot, total, active, inactive)
      select t.id, (pg_backend_pid() % ${SLOTS})::smallint, d_total, d_active, d_inactive from tenants t where t.id = tenant
      on conflict (tenant_id, slot) do update
        set total = c.total + excluded.total, active = c.active + excluded.active, inactive = c.inactive + excluded.inactive;
    end $$`).execute(db);

  // Inserts add and deletes subtract, per tenant, what their statement's transition table holds.
  for (const [name, rows, sign] of [
    ['user_counts_inserted', 'new_rows', ''],
    ['user_counts_deleted', 'old_rows', '-'],
  ] as const) {
    await sql.raw(`
      create function ${name}() returns trigger language plpgsql as $$
      begin
        perform user_counts_add(tenant_id, ${sign}count(*), ${sign}count(*) filter (where active), ${sign}count(*) filter (where active = false))
           from ${rows} group by tenant_id;
        return null;
      end $$`).execute(db);
  }

  await sql.raw(`
    create function user_counts_updated() returns trigger language plpgsql as $$
    begin
      perform user_counts_add(new.tenant_id, 0,
        (new.active is true)::int - (old.active is true)::int, (new.active is false)::int - (old.active is false)::int);
      return null;
    end $$`).execute(db);

  // No write may slip between the count below and the triggers.
  await sql`lock table users in share row exclusive mode`.execute(db);
  await sql`
    insert into user_counts (tenant_id, slot, total, active, inactive)
    select tenant_id, 0, count(*), count(*) filter (where active), count(*) filter (where active = false)
      from users group by tenant_id`.execute(db);
  await sql`
    create trigger users_counted_insert after insert on users
      referencing new table as new_rows for each statement execute function user_counts_inserted()`.execute(db);
  await sql`
    create trigger users_counted_delete after delete on users
      referencing old table as old_rows for each statement execute function user_counts_deleted()`.execute(db);
  await sql`
    create trigger users_counted_update after update on users
      for each row when (old.active is distinct from new.active) execute function user_counts_updated()`.execute(db);
  // TRUNCATE fires no delete trigger; it empties the table, so the counts go too.
  await sql.raw(`
    create function user_counts_truncated() returns trigger language plpgsql as $$
    begin
      delete from user_counts;
      return null;
    end $$`).execute(db);
  await sql`create trigger users_counted_truncate after truncate on users for each statement execute function user_counts_truncated()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger if exists users_counted_truncate on users`.execute(db);
  await sql`drop trigger if exists users_counted_update on users`.execute(db);
  await sql`drop trigger if exists users_counted_delete on users`.execute(db);
  await sql`drop trigger if exists users_counted_insert on users`.execute(db);
  await sql`drop function if exists user_counts_truncated()`.execute(db);
  await sql`drop function if exists user_counts_updated()`.execute(db);
  await sql`drop function if exists user_counts_deleted()`.execute(db);
  await sql`drop function if exists user_counts_inserted()`.execute(db);
  await sql`drop function if exists user_counts_add(text, bigint, bigint, bigint)`.execute(db);
  await sql`drop table if exists user_counts`.execute(db);
}
