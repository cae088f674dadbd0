/**
 * Counts for a tenant's connection status (src/services/status.ts). Users
 * are counted from the primary key index (tenant_id, id) and inactive ones
 * from the partial index users_inactive, so neither reads the user rows
 * (README "Connection status" gives the cost at 1,000,000 users).
 */
import { sql } from 'kysely';
import type { Db } from './index.js';

export async function countResources(db: Db, tenantId: string): Promise<{ users: number; inactiveUsers: number; groups: number }> {
  const r = await sql<{ users: unknown; inactive: unknown; groups: unknown }>`
    select (select count(*) from users where tenant_id = ${tenantId}) as users,
           (select count(*) from users where tenant_id = ${tenantId} and active = false) as inactive,
           (select count(*) from groups where tenant_id = ${tenantId}) as groups`.execute(db);
  const row = r.rows[0]!;
  return { users: Number(row.users), inactiveUsers: Number(row.inactive), groups: Number(row.groups) };
}
