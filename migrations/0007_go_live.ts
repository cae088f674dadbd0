/**
 * Frozen migration: never edit after it has shipped; add a new file instead.
 *
 * Safe go-live (README.md, "Going live safely"):
 *
 * - tenants.mode: `live`, or `dryRun` (SCIM works as live, the host is told
 *   nothing; go-live delivers the resulting state).
 * - host_users: the users the host platform already has for a tenant, as it
 *   uploaded them, to match IdP users to (by externalId, then email);
 *   `email_shared` marks an email two host users share (never matched by).
 * - users.host_user_id / users.matched_by: the host user an IdP user was
 *   linked to at go-live; every later event of the user names it.
 * - safeguard_holds: deactivations and deletions held by the mass-deprovision
 *   safeguard, and what became of them; hold_items: each held transition with
 *   what the host had before it (restored when the hold is rejected).
 * - events.held_by: a held event is neither in the poll feed nor delivered
 *   until its hold is released; users.held_by holds a user's later events
 *   behind it; users.hold_rejected marks users whose held change was rejected.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table tenants add column mode text not null default 'live' check (mode in ('live', 'dryRun'))`.execute(db);

  await sql`
    create table host_users (
      tenant_id text not null references tenants (id) on delete cascade,
      host_user_id text not null,
      email text,
      email_lower text,
      external_id text,
      email_shared boolean not null default false,
      primary key (tenant_id, host_user_id)
    )`.execute(db);
  await sql`create index host_users_external_id on host_users (tenant_id, external_id)`.execute(db);
  await sql`create index host_users_email on host_users (tenant_id, email_lower)`.execute(db);

  await sql`alter table users add column host_user_id text`.execute(db);
  await sql`alter table users add column matched_by text check (matched_by in ('externalId', 'email'))`.execute(db);

  await sql`
    create table safeguard_holds (
      id bigserial primary key,
      tenant_id text not null references tenants (id) on delete cascade,
      state text not null default 'open' check (state in ('open', 'released', 'rejected')),
      reason text not null,
      created_at timestamptz not null default now(),
      decided_at timestamptz,
      decided_by jsonb
    )`.execute(db);
  await sql`create index safeguard_holds_tenant on safeguard_holds (tenant_id, id)`.execute(db);
  await sql`create unique index safeguard_holds_open on safeguard_holds (tenant_id) where state = 'open'`.execute(db);

  await sql`
    create table hold_items (
      hold_id bigint not null references safeguard_holds (id) on delete cascade,
      id bigserial,
      user_id uuid not null,
      user_name text not null,
      external_id text,
      event_type text not null,
      from_state text not null,
      from_inactive_since timestamptz,
      request_id text,
      created_at timestamptz not null default now(),
      primary key (hold_id, id)
    )`.execute(db);

  await sql`alter table events add column held_by bigint`.execute(db);
  await sql`create index events_held on events (held_by, id) where held_by is not null`.execute(db);
  // The safeguard counts a tenant's recent deactivations and deletions on every one of them.
  await sql`create index events_deprovisions on events (tenant_id, occurred_at) where type in ('user.deactivated', 'user.deleted')`.execute(db);
  await sql`alter table users add column held_by bigint`.execute(db);
  await sql`alter table users add column hold_rejected boolean not null default false`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table users drop column if exists hold_rejected`.execute(db);
  await sql`alter table users drop column if exists held_by`.execute(db);
  await sql`drop index if exists events_deprovisions`.execute(db);
  await sql`drop index if exists events_held`.execute(db);
  await sql`alter table events drop column if exists held_by`.execute(db);
  for (const t of ['hold_items', 'safeguard_holds', 'host_users']) await sql`drop table if exists ${sql.table(t)}`.execute(db);
  await sql`alter table users drop column if exists matched_by`.execute(db);
  await sql`alter table users drop column if exists host_user_id`.execute(db);
  await sql`alter table tenants drop column if exists mode`.execute(db);
}
