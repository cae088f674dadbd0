/**
 * Frozen migration: never edit after it has shipped; add a new file instead.
 *
 * Credentials beyond one SCIM token per tenant and one ADMIN_TOKEN (README
 * "Authentication"):
 * - tokens.scopes: what a SCIM token may do; null = everything (tokens
 *   issued before scopes existed keep full access).
 * - admin_keys: named admin API keys (SHA-256 of the key only), scoped,
 *   optionally bound to one tenant (no foreign key: a key bound to a deleted
 *   tenant simply opens nothing).
 * - oauth_clients: per-tenant OAuth 2.0 clients (RFC 6749 §4.4); the
 *   secret's SHA-256 only.
 * - oauth_signing_keys: the keys that sign Roster's access tokens; a retired
 *   key stays published and verifiable until its last token has expired.
 * - trusted_issuers: per-tenant external JWT issuers verified via their JWKS.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table tokens add column scopes text[]`.execute(db);

  await sql`
    create table admin_keys (
      id uuid primary key,
      name text not null,
      key_hash text not null unique,
      key_prefix text not null,
      scopes text[] not null,
      tenant_id text,
      created_at timestamptz not null default now(),
      last_used_at timestamptz,
      revoked_at timestamptz
    )`.execute(db);

  await sql`
    create table oauth_clients (
      id uuid primary key,
      tenant_id text not null references tenants(id) on delete cascade,
      client_id text not null unique,
      name text not null,
      secret_hash text not null,
      scopes text[] not null,
      created_at timestamptz not null default now(),
      expires_at timestamptz,
      last_used_at timestamptz,
      revoked_at timestamptz
    )`.execute(db);
  await sql`create index oauth_clients_tenant on oauth_clients (tenant_id, created_at)`.execute(db);

  await sql`
    create table oauth_signing_keys (
      kid text primary key,
      alg text not null,
      private_jwk text not null,
      public_jwk jsonb not null,
      created_at timestamptz not null default now(),
      retired_at timestamptz
    )`.execute(db);

  await sql`
    create table trusted_issuers (
      id uuid primary key,
      tenant_id text not null references tenants(id) on delete cascade,
      name text not null,
      issuer text not null,
      audience text not null,
      jwks_url text not null,
      algorithms text[] not null,
      tenant_claim text,
      scopes text[] not null,
      created_at timestamptz not null default now(),
      unique (tenant_id, issuer)
    )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['trusted_issuers', 'oauth_signing_keys', 'oauth_clients', 'admin_keys']) {
    await sql`drop table if exists ${sql.table(t)}`.execute(db);
  }
  await sql`alter table tokens drop column if exists scopes`.execute(db);
}
