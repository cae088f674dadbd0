/**
 * Frozen migration: never edit after it has shipped; add a new file instead.
 *
 * Setup links (README.md "Setup links for the customer's IT admin"): a
 * one-time, time-limited URL scoped to one tenant. Only the token's SHA-256
 * is kept. `opened_at` is set when the link is first opened (it then binds
 * to that browser's session and refuses everyone else); `token_id`: the SCIM
 * token generated on the page, at most one per link.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table setup_links (
      id uuid primary key,
      tenant_id text not null references tenants (id) on delete cascade,
      token_hash bytea not null unique,
      created_at timestamptz not null default now(),
      expires_at timestamptz not null,
      opened_at timestamptz,
      revoked_at timestamptz,
      idp text,
      token_id uuid,
      actor jsonb
    )`.execute(db);
  await sql`create index setup_links_tenant on setup_links (tenant_id, created_at)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table if exists setup_links`.execute(db);
}
