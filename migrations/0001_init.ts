/**
 * Frozen migration: never edit after it has shipped; add a new file instead.
 *
 * Users and groups keep the full SCIM resource as JSONB plus the columns that
 * filters, sorting and uniqueness need. Text columns that are sorted use the
 * "C" collation so that ordering (and keyset cursors) are byte-wise and the
 * same on every Postgres, including PGlite.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table tenants (
      id text primary key,
      name text not null,
      settings jsonb not null default '{}',
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`.execute(db);

  await sql`
    create table tokens (
      id uuid primary key,
      tenant_id text not null references tenants (id) on delete cascade,
      name text not null,
      token_hash text not null unique,
      token_prefix text not null,
      created_at timestamptz not null default now(),
      expires_at timestamptz,
      last_used_at timestamptz,
      revoked_at timestamptz
    )`.execute(db);
  await sql`create index tokens_tenant on tokens (tenant_id, created_at)`.execute(db);

  await sql`
    create table users (
      tenant_id text not null references tenants (id) on delete cascade,
      id uuid not null,
      user_name text collate "C" not null,
      external_id text collate "C",
      active boolean,
      display_name text collate "C",
      given_name text collate "C",
      family_name text collate "C",
      email_values text[] collate "C" not null default '{}',
      resource jsonb not null,
      version integer not null default 1,
      created timestamptz not null,
      last_modified timestamptz not null,
      primary key (tenant_id, id)
    )`.execute(db);
  // userName is unique per tenant, case-insensitively (RFC 7643 §4.1.1: caseExact false, uniqueness server).
  await sql`create unique index users_user_name on users (tenant_id, lower(user_name))`.execute(db);
  await sql`create index users_external_id on users (tenant_id, external_id)`.execute(db);
  // Lower-cased emails[].value; `emails.value eq` and `emails[type eq "work"].value eq` probe this index.
  await sql`create index users_email_values on users using gin (email_values)`.execute(db);
  await sql`create index users_created on users (tenant_id, created, id)`.execute(db);
  await sql`create index users_last_modified on users (tenant_id, last_modified, id)`.execute(db);
  await sql`create index users_display_name on users (tenant_id, lower(display_name), id)`.execute(db);

  await sql`
    create table groups (
      tenant_id text not null references tenants (id) on delete cascade,
      id uuid not null,
      display_name text collate "C" not null,
      external_id text collate "C",
      resource jsonb not null,
      version integer not null default 1,
      created timestamptz not null,
      last_modified timestamptz not null,
      primary key (tenant_id, id)
    )`.execute(db);
  await sql`create index groups_display_name on groups (tenant_id, lower(display_name), id)`.execute(db);
  await sql`create index groups_external_id on groups (tenant_id, external_id)`.execute(db);
  await sql`create index groups_created on groups (tenant_id, created, id)`.execute(db);

  // One row per membership: adding one member to a 100,000-member group touches one row.
  await sql`
    create table group_members (
      tenant_id text not null,
      group_id uuid not null,
      member_id uuid not null,
      member_type text not null check (member_type in ('User', 'Group')),
      added_at timestamptz not null default now(),
      primary key (tenant_id, group_id, member_id),
      foreign key (tenant_id, group_id) references groups (tenant_id, id) on delete cascade
    )`.execute(db);
  await sql`create index group_members_member on group_members (tenant_id, member_id)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['group_members', 'groups', 'users', 'tokens', 'tenants']) {
    await sql`drop table if exists ${sql.table(t)}`.execute(db);
  }
}
