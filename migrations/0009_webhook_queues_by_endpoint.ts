/**
 * Frozen migration: never edit after it has shipped; add a new file instead.
 *
 * Ready queues per endpoint, oldest first: the delivery worker takes a few
 * from each endpoint in turn (fair scheduling, src/db/outbox-claims.ts), so
 * one endpoint's backlog or hanging receiver cannot hold every delivery slot.
 * Without this index each endpoint's turn would scan every ready queue.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`create index webhook_queues_endpoint_ready on webhook_queues (endpoint_id, ready_at) where pending > 0`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index if exists webhook_queues_endpoint_ready`.execute(db);
}
