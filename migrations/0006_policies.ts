/**
 * Frozen migration: never edit after it has shipped; add a new file instead.
 *
 * Provisioning policies (README.md, "Provisioning policies"; src/policy/):
 *
 * - tenant_policies: every version of a tenant's policy document, with who
 *   set it; the newest is in force.
 * - users.host_state: what the host platform has been told about the user
 *   (absent, active, inactive), which the policy's next decision starts
 *   from; users.inactive_since: since when it is inactive for the host (for
 *   deleteInactiveAfterDays). Existing users are what the host was told
 *   without a policy: inactive if active is false, else active.
 * - host_tombstones: users the IdP deleted that the host keeps deactivated
 *   (lifecycle.onDelete "deactivate") until they are purged.
 * - policy_schedule: when a user's host state may change by time alone (a
 *   start or end date, a purge); the policy scheduler looks again then.
 * - policy_jobs: re-evaluations of every user of a tenant after a policy
 *   change, or a go-live (migrations/0007_go_live.ts), resumable from
 *   `after_id`: phase 1 walks every user by id, phase 2 the users written
 *   while phase 1 ran (a replica may have served them with the policy it had
 *   cached), phase 3 (go-live) every group.
 * - tenant_usage: the tenant's active users in the audience, kept while a
 *   license cap is set, and whether the cap was reached since usage was last
 *   below it (tenant.license_limit_reached is sent once per crossing).
 * - mapping_reports: mapped fields that yielded nothing for some user since
 *   the policy was last set (tenant.mapping_incomplete is sent once per field).
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table tenant_policies (
      tenant_id text not null references tenants (id) on delete cascade,
      version integer not null,
      -- json, not jsonb: kept as written, so the mapping's fields keep the administrator's order.
      document json not null,
      actor jsonb,
      created_at timestamptz not null default now(),
      primary key (tenant_id, version)
    )`.execute(db);

  // A constant default adds the column without rewriting the table; only inactive users are then updated.
  await sql`alter table users add column host_state text not null default 'active' check (host_state in ('absent', 'active', 'inactive'))`.execute(db);
  await sql`alter table users add column inactive_since timestamptz`.execute(db);
  await sql`update users set host_state = 'inactive', inactive_since = last_modified where active = false`.execute(db);
  await sql`create index users_host_state on users (tenant_id, host_state)`.execute(db);

  await sql`
    create table host_tombstones (
      tenant_id text not null references tenants (id) on delete cascade,
      user_id uuid not null,
      user_name text not null,
      external_id text,
      -- What the host had when the IdP deleted the user (inactive for onDelete "deactivate"; as it was during a dry run).
      host_state text not null default 'inactive',
      resource json,
      version integer not null,
      deleted_at timestamptz not null,
      primary key (tenant_id, user_id)
    )`.execute(db);

  await sql`
    create table policy_schedule (
      tenant_id text not null references tenants (id) on delete cascade,
      user_id uuid not null,
      due_at timestamptz not null,
      primary key (tenant_id, user_id)
    )`.execute(db);
  await sql`create index policy_schedule_due on policy_schedule (due_at)`.execute(db);

  await sql`
    create table policy_jobs (
      id bigserial primary key,
      tenant_id text not null references tenants (id) on delete cascade,
      policy_version integer not null,
      kind text not null default 'reevaluate' check (kind in ('reevaluate', 'goLive')),
      state text not null default 'running' check (state in ('running', 'done', 'cancelled')),
      phase smallint not null default 1,
      after_id uuid,
      total integer not null default 0,
      processed integer not null default 0,
      changed integer not null default 0,
      started_at timestamptz not null default now(),
      finished_at timestamptz,
      lease_until timestamptz not null default now()
    )`.execute(db);
  await sql`create index policy_jobs_running on policy_jobs (lease_until) where state = 'running'`.execute(db);
  await sql`create index policy_jobs_tenant on policy_jobs (tenant_id, id)`.execute(db);

  await sql`
    create table tenant_usage (
      tenant_id text primary key references tenants (id) on delete cascade,
      active_users integer not null,
      cap_reached boolean not null default false,
      counted_at timestamptz not null default now()
    )`.execute(db);

  await sql`
    create table mapping_reports (
      tenant_id text not null references tenants (id) on delete cascade,
      field text not null,
      reported_at timestamptz not null default now(),
      primary key (tenant_id, field)
    )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['mapping_reports', 'tenant_usage', 'policy_jobs', 'policy_schedule', 'host_tombstones', 'tenant_policies']) {
    await sql`drop table if exists ${sql.table(t)}`.execute(db);
  }
  await sql`drop index if exists users_host_state`.execute(db);
  await sql`alter table users drop column if exists inactive_since`.execute(db);
  await sql`alter table users drop column if exists host_state`.execute(db);
}
