/**
 * What tenants have stored, read straight from the database in one
 * statement, to prove that a refused request changed nothing: users, groups
 * (each with its version, last-modified time and JSON), memberships, and the
 * events recorded (count and last id). tenant.connected is left out: it is
 * recorded after a tenant's first request, in the background
 * (src/services/status.ts), and says nothing about the data.
 */
import { sql } from 'kysely';
import type { Db } from '../../src/db/index.js';

export async function dbSnapshot(db: Db, tenants: string[]): Promise<string> {
  const r = await sql<{ snapshot: string }>`
    select coalesce((select string_agg(tenant_id || ' ' || id || ' v' || version || ' ' || last_modified::text || ' ' || resource::text, E'\n' order by tenant_id, id) from users where tenant_id = any(${tenants})), '')
      || E'\n--groups\n' || coalesce((select string_agg(tenant_id || ' ' || id || ' v' || version || ' ' || last_modified::text || ' ' || resource::text, E'\n' order by tenant_id, id) from groups where tenant_id = any(${tenants})), '')
      || E'\n--members\n' || coalesce((select string_agg(tenant_id || ' ' || group_id || ' ' || member_id || ' ' || member_type, E'\n' order by tenant_id, group_id, member_id) from group_members where tenant_id = any(${tenants})), '')
      || E'\n--events\n' || coalesce((select string_agg(tenant_id || ' ' || n || ' ' || last, E'\n' order by tenant_id) from (select tenant_id, count(*)::text as n, max(id)::text as last from events where tenant_id = any(${tenants}) and type <> 'tenant.connected' group by tenant_id) e), '')
      as snapshot`.execute(db);
  return r.rows[0]!.snapshot;
}
