/**
 * Frozen migration: never edit after it has shipped; add a new file instead.
 *
 * Visibility (README "Visibility"): who caused each event, the per-tenant
 * provisioning log of SCIM requests, the audit trail of admin actions, and
 * tenant events (the first: tenant.connected).
 *
 * - events.actor: who caused the event (a credential by id and name, or a
 *   policy or job); null on events recorded before this migration. Events
 *   about the tenant itself have resource_type 'Tenant' and the tenant id as
 *   resource id, so they are numbered and delivered in order per tenant.
 * - tenants.connected_at: when the tenant's first successful SCIM request
 *   arrived; set once, by a conditional UPDATE in the transaction that
 *   records tenant.connected, so the event exists once however many replicas
 *   race.
 * - request_log: one row per SCIM request of a tenant, written in batches
 *   after the response; pruned by age and to a row cap per tenant. Read newest
 *   first by (at, id) keysets; errors, a token or a resource id narrow it.
 * - audit_log: one row per admin action. tenant_id is not a foreign key: the
 *   trail of a deleted tenant (its deletion included) outlives it.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table events add column actor jsonb`.execute(db);
  await sql`alter table events drop constraint events_resource_type_check`.execute(db);
  await sql`alter table events add constraint events_resource_type_check check (resource_type in ('User', 'Group', 'Tenant'))`.execute(db);

  await sql`alter table tenants add column connected_at timestamptz`.execute(db);
  // Tenants already in use count as connected from this upgrade on, without a tenant.connected for a
  // connection made long ago.
  await sql`
    update tenants t set connected_at = now()
    where exists (select 1 from tokens k where k.tenant_id = t.id and k.last_used_at is not null)
       or exists (select 1 from users u where u.tenant_id = t.id)
       or exists (select 1 from groups g where g.tenant_id = t.id)`.execute(db);
  // Status counts inactive users without visiting the others (usually few are inactive).
  await sql`create index users_inactive on users (tenant_id) where active = false`.execute(db);

  await sql`
    create table request_log (
      id bigserial primary key,
      tenant_id text not null references tenants (id) on delete cascade,
      -- When the request arrived (millisecond precision: the cursor carries it exactly).
      at timestamptz not null,
      request_id text,
      -- The credential (src/services/actor.ts); null when authentication failed.
      actor jsonb,
      -- Authentication failed: the first characters of the bearer token presented, if it was one of Roster's.
      token_prefix text,
      user_agent text,
      idp text,
      method text not null,
      path text not null,
      filter text,
      status smallint not null,
      scim_type text,
      detail text,
      duration_ms real not null,
      resource_ids text[] not null default '{}',
      summary text,
      notes text[] not null default '{}',
      -- Only with the tenant's requestLog.bodies setting; password and secrets removed.
      request_body text,
      response_body text
    )`.execute(db);
  await sql`create index request_log_time on request_log (tenant_id, at, id)`.execute(db);
  await sql`create index request_log_errors on request_log (tenant_id, at, id) where status >= 400`.execute(db);
  await sql`create index request_log_token on request_log (tenant_id, (actor ->> 'id'), at, id)`.execute(db);
  await sql`create index request_log_resources on request_log using gin (resource_ids)`.execute(db);
  // Retention by age across tenants, oldest first.
  await sql`create index request_log_age on request_log (at)`.execute(db);

  await sql`
    create table audit_log (
      id bigserial primary key,
      at timestamptz not null,
      -- The tenant the action concerned; null for actions on no tenant.
      tenant_id text,
      actor jsonb not null,
      -- e.g. tenant.created, token.revoked, webhook.secret_rotated (src/http/admin/audit.ts).
      action text not null,
      target_type text not null,
      target_id text,
      request_id text,
      -- The request body as sent, secrets removed, and anything the action reports.
      details jsonb not null default '{}'
    )`.execute(db);
  await sql`create index audit_log_time on audit_log (at, id)`.execute(db);
  await sql`create index audit_log_tenant on audit_log (tenant_id, at, id)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table if exists audit_log`.execute(db);
  await sql`drop table if exists request_log`.execute(db);
  await sql`drop index if exists users_inactive`.execute(db);
  await sql`alter table tenants drop column if exists connected_at`.execute(db);
  await sql`delete from events where resource_type = 'Tenant'`.execute(db);
  await sql`alter table events drop constraint events_resource_type_check`.execute(db);
  await sql`alter table events add constraint events_resource_type_check check (resource_type in ('User', 'Group'))`.execute(db);
  await sql`alter table events drop column if exists actor`.execute(db);
}
