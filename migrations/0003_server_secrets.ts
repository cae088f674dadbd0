/**
 * Frozen migration: never edit after it has shipped; add a new file instead.
 *
 * Secrets the service generates for itself and shares between replicas
 * through the database. The first is the key that signs paging cursors
 * (RFC 9865; see src/services/paging.ts): every replica must verify the
 * cursors the others issue, and they must survive a restart.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table server_secrets (
      name text primary key,
      secret text not null,
      created_at timestamptz not null default now()
    )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table if exists server_secrets`.execute(db);
}
