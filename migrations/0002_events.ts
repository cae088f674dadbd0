/**
 * Frozen migration: never edit after it has shipped; add a new file instead.
 *
 * Provisioning events (transactional outbox) and their delivery to the host
 * platform. See README.md, "Provisioning events for the host platform" for the design.
 *
 * - events: one row per event, written in the same transaction as the change.
 *   `id` orders events of one resource (they are written under that resource's
 *   row lock); `position` is the poll-feed order, assigned after commit by a
 *   single sequencer so that it follows visibility order (a cursor never skips
 *   an event that commits late).
 * - event_sequences: per-resource event counter (`data.sequence`).
 * - webhook_endpoints: per-tenant receivers, their secrets and filters.
 * - webhook_deliveries: one row per (event, endpoint) to send; final states
 *   are succeeded / dead.
 * - webhook_queues: one row per (endpoint, resource) with the number of
 *   pending deliveries; a worker claims a queue row (FOR UPDATE SKIP LOCKED,
 *   then a lease in ready_at), sends its oldest pending delivery, and releases
 *   it. This is what keeps one resource's events in order while different
 *   resources go out in parallel.
 * - webhook_attempts: every HTTP attempt (status, latency, error).
 * - event_signing_keys: the key that signs RFC 9967 SETs (published as JWKS).
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table events (
      id bigserial primary key,
      uid text not null unique,
      tenant_id text not null references tenants (id) on delete cascade,
      position bigint unique,
      type text not null,
      resource_type text not null check (resource_type in ('User', 'Group')),
      resource_id text not null,
      seq bigint not null,
      txn text not null,
      data jsonb not null,
      -- json, not jsonb: kept byte for byte as the service represented it (key order included); never queried into.
      resource json,
      occurred_at timestamptz not null default now()
    )`.execute(db);
  await sql`create index events_feed on events (tenant_id, position)`.execute(db);
  await sql`create index events_unsequenced on events (id) where position is null`.execute(db);
  await sql`create index events_time on events (tenant_id, occurred_at, id)`.execute(db);
  await sql`create index events_resource on events (tenant_id, resource_id, seq)`.execute(db);
  // Retention: the oldest events first, without scanning the young ones.
  await sql`create index events_age on events (occurred_at)`.execute(db);

  await sql`
    create table event_sequences (
      tenant_id text not null references tenants (id) on delete cascade,
      resource_id text not null,
      last_seq bigint not null,
      primary key (tenant_id, resource_id)
    )`.execute(db);

  await sql`
    create table webhook_endpoints (
      id uuid primary key,
      tenant_id text not null references tenants (id) on delete cascade,
      url text not null,
      description text,
      events text[],
      format text not null default 'standard-webhooks' check (format in ('standard-webhooks', 'set')),
      attributes text[],
      secret text not null,
      previous_secret text,
      ed25519_secret text,
      previous_ed25519_secret text,
      previous_expires_at timestamptz,
      enabled boolean not null default true,
      disabled_reason text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`.execute(db);
  await sql`create index webhook_endpoints_tenant on webhook_endpoints (tenant_id, created_at, id)`.execute(db);

  await sql`
    create table webhook_deliveries (
      id bigserial primary key,
      event_id bigint not null references events (id) on delete cascade,
      endpoint_id uuid not null references webhook_endpoints (id) on delete cascade,
      resource_id text not null,
      reason text not null default 'live' check (reason in ('live', 'replay', 'redeliver')),
      status text not null default 'pending' check (status in ('pending', 'succeeded', 'dead')),
      attempts integer not null default 0,
      last_status integer,
      last_error text,
      created_at timestamptz not null default now(),
      finished_at timestamptz
    )`.execute(db);
  // The head of a queue: the oldest pending delivery of (endpoint, resource).
  await sql`create index webhook_deliveries_queue on webhook_deliveries (endpoint_id, resource_id, id) where status = 'pending'`.execute(db);
  await sql`create index webhook_deliveries_endpoint on webhook_deliveries (endpoint_id, status, id)`.execute(db);
  await sql`create index webhook_deliveries_pending_age on webhook_deliveries (created_at) where status = 'pending'`.execute(db);
  await sql`create index webhook_deliveries_event on webhook_deliveries (event_id)`.execute(db);

  await sql`
    create table webhook_queues (
      endpoint_id uuid not null references webhook_endpoints (id) on delete cascade,
      resource_id text not null,
      pending integer not null default 0,
      ready_at timestamptz not null default now(),
      claim_token text,
      primary key (endpoint_id, resource_id)
    )`.execute(db);
  await sql`create index webhook_queues_ready on webhook_queues (ready_at) where pending > 0`.execute(db);

  await sql`
    create table webhook_attempts (
      id bigserial primary key,
      delivery_id bigint not null references webhook_deliveries (id) on delete cascade,
      endpoint_id uuid not null,
      attempted_at timestamptz not null,
      status_code integer,
      latency_ms integer not null,
      error text,
      outcome text not null check (outcome in ('succeeded', 'retry', 'dead', 'disabled'))
    )`.execute(db);
  await sql`create index webhook_attempts_delivery on webhook_attempts (delivery_id, id)`.execute(db);
  await sql`create index webhook_attempts_endpoint on webhook_attempts (endpoint_id, attempted_at)`.execute(db);

  await sql`
    create table event_signing_keys (
      kid text primary key,
      alg text not null,
      private_jwk jsonb not null,
      public_jwk jsonb not null,
      created_at timestamptz not null default now(),
      retired_at timestamptz
    )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['event_signing_keys', 'webhook_attempts', 'webhook_queues', 'webhook_deliveries', 'webhook_endpoints', 'event_sequences', 'events']) {
    await sql`drop table if exists ${sql.table(t)}`.execute(db);
  }
}
