/**
 * Users per tenant as migrations/0013_user_counts.ts keeps them: exact in any
 * transaction's snapshot, read from a tenant's few slot rows instead of
 * counting its users. The filters whose matches are exactly such a count
 * (no filter, `active eq true|false`, `active pr`) are answered from it.
 */
import { sql, type Kysely } from 'kysely';
import type { ValidatedFilter } from '../scim/filter.js';
import { prepared } from './prepared.js';
import type { Database } from './types.js';

export type UserCount = 'total' | 'active' | 'inactive' | 'activePresent';

/** The maintained count that equals the number of users matching `filter`, if there is one. */
export function userCountOf(filter: ValidatedFilter | undefined): UserCount | undefined {
  if (!filter) return 'total';
  if ((filter.kind !== 'present' && filter.kind !== 'compare') || filter.attr.path !== 'active' || filter.attr.sub) return undefined;
  if (filter.kind === 'present') return 'activePresent';
  if (filter.op === 'eq' && typeof filter.value === 'boolean') return filter.value ? 'active' : 'inactive';
  return undefined;
}

const SUM: Record<UserCount, string> = {
  total: 'sum(total)',
  active: 'sum(active)',
  inactive: 'sum(inactive)',
  activePresent: 'sum(active + inactive)',
};

export async function readUserCount(db: Kysely<Database>, tenantId: string, count: UserCount): Promise<number> {
  const r = await sql<{ n: number }>`select coalesce(${sql.raw(SUM[count])}, 0)::int as n from user_counts where tenant_id = ${tenantId}${prepared}`.execute(db);
  return r.rows[0]?.n ?? 0;
}
