/**
 * Secrets Roster generates for itself (migrations/0003_server_secrets.ts),
 * created once by whichever replica needs one first.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from './types.js';

/**
 * The secret called `name`, created with `generate()` if there is none yet.
 * Concurrent first calls agree: the insert that loses does nothing and
 * everyone reads the winner's value.
 */
export async function ensureSecret(db: Kysely<Database>, name: string, generate: () => string): Promise<string> {
  await sql`insert into server_secrets (name, secret) values (${name}, ${generate()}) on conflict (name) do nothing`.execute(db);
  const r = await sql<{ secret: string }>`select secret from server_secrets where name = ${name}`.execute(db);
  const secret = r.rows[0]?.secret;
  if (!secret) throw new Error(`server secret ${name} could not be created`);
  return secret;
}

/** The secret called `name`, or undefined when none was created yet. */
export async function readSecret(db: Kysely<Database>, name: string): Promise<string | undefined> {
  const r = await sql<{ secret: string }>`select secret from server_secrets where name = ${name}`.execute(db);
  return r.rows[0]?.secret;
}
