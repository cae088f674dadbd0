/**
 * Frozen migration: never edit after it has shipped; add a new file instead.
 *
 * File imports (README "Importing files"): a tenant's saved column mapping,
 * each uploaded file, and its rows staged one per line so that a file of a
 * million rows is never held in memory: validation, the diff against the
 * tenant's users and the apply all work on these rows in batches. `applied`
 * per row is what makes an apply resumable after a crash.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table import_mappings (
      tenant_id text primary key references tenants (id) on delete cascade,
      mapping jsonb not null,
      updated_at timestamptz not null default now()
    )`.execute(db);
  await sql`
    create table imports (
      id uuid primary key,
      tenant_id text not null references tenants (id) on delete cascade,
      state text not null check (state in ('review', 'applying', 'applied')),
      mapping jsonb not null,
      columns jsonb not null,
      counts jsonb not null default '{}',
      rows integer not null default 0,
      created_by jsonb,
      created_at timestamptz not null default now(),
      applied_at timestamptz
    )`.execute(db);
  await sql`create index imports_tenant on imports (tenant_id, created_at desc, id)`.execute(db);
  // seq: the line number for a row of the file; after the last line, the users missing from it.
  await sql`
    create table import_rows (
      import_id uuid not null references imports (id) on delete cascade,
      seq integer not null,
      line integer,
      key text collate "C",
      fields jsonb,
      resource jsonb,
      outcome text,
      user_id uuid,
      changed text[] not null default '{}',
      reason text,
      applied boolean not null default false,
      error text,
      primary key (import_id, seq)
    )`.execute(db);
  await sql`create index import_rows_key on import_rows (import_id, key)`.execute(db);
  await sql`create index import_rows_outcome on import_rows (import_id, outcome, seq)`.execute(db);
  // The users a file names (users missing from it are those without a row).
  await sql`create index import_rows_user on import_rows (import_id, user_id)`.execute(db);
  // Users a file created: only these may a later file deactivate or delete for missing, unless the mapping owns every user.
  await sql`
    create table import_owned_users (
      tenant_id text not null references tenants (id) on delete cascade,
      user_id uuid not null,
      primary key (tenant_id, user_id)
    )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['import_owned_users', 'import_rows', 'imports', 'import_mappings']) await sql`drop table if exists ${sql.table(t)}`.execute(db);
}
