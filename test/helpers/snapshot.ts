/**
 * What a tenant has stored, read straight from the database, to prove that a
 * refused request changed nothing: users, groups, memberships and their
 * versions, and the events recorded (count and last id).
 */
import { sql } from 'kysely';
import type { Db } from '../../src/db/index.js';

export async function dbSnapshot(db: Db, tenants: string[]): Promise<string> {
  const out: unknown[] = [];
  for (const tenant of tenants) {
    const users = await sql<{ row: string }>`select id || ' v' || version || ' ' || last_modified::text || ' ' || resource::text as row from users where tenant_id = ${tenant} order by id`.execute(db);
    const groups = await sql<{ row: string }>`select id || ' v' || version || ' ' || last_modified::text || ' ' || resource::text as row from groups where tenant_id = ${tenant} order by id`.execute(db);
    const members = await sql<{ row: string }>`select group_id || ' ' || member_id || ' ' || member_type as row from group_members where tenant_id = ${tenant} order by group_id, member_id`.execute(db);
    const events = await sql<{ n: string; last: string | null }>`select count(*)::text as n, max(id)::text as last from events where tenant_id = ${tenant}`.execute(db);
    out.push({ tenant, users: users.rows.map((r) => r.row), groups: groups.rows.map((r) => r.row), members: members.rows.map((r) => r.row), events: events.rows[0] });
  }
  return JSON.stringify(out);
}

/** The number of events recorded for a tenant. */
export async function eventCount(db: Db, tenant: string): Promise<number> {
  const r = await sql<{ n: string }>`select count(*)::text as n from events where tenant_id = ${tenant}`.execute(db);
  return Number(r.rows[0]!.n);
}
