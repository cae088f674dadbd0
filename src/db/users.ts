/**
 * Users repository. The resource JSON is the source of truth; the mirrored
 * columns exist for uniqueness, indexes, filters and sorting and are always
 * written together with it.
 */
import { sql, type Kysely } from 'kysely';
import type { ResolvedAttr } from '../scim/attributes.js';
import type { ValidatedFilter } from '../scim/filter.js';
import type { StoredResource } from '../scim/representation.js';
import { userFilterSql, userSortSql } from './filter-sql.js';
import { countRows, fetchRows, type Listing } from './paging.js';
import { resourceRows } from './resources.js';
import type { Database } from './types.js';

type Q = Kysely<Database>;

export { UUID_RE } from './resources.js';

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** Column mirrors of a stored user resource (exported for bench/seed.ts, which bulk-loads users with it). */
export function columnsOf(resource: Record<string, unknown>) {
  const name = (resource.name ?? {}) as Record<string, unknown>;
  const emails = Array.isArray(resource.emails) ? (resource.emails as Record<string, unknown>[]) : [];
  return {
    user_name: String(resource.userName),
    external_id: str(resource.externalId),
    active: typeof resource.active === 'boolean' ? resource.active : null,
    display_name: str(resource.displayName),
    given_name: str(name.givenName),
    family_name: str(name.familyName),
    email_values: [...new Set(emails.map((e) => str(e?.value)).filter((v): v is string => v !== null).map((v) => v.toLowerCase()))],
    resource: JSON.stringify(resource),
  };
}

const rows = resourceRows('users', columnsOf);
export const insertUser = rows.insert;
/** Read a user; `lock: 'update'` holds its row for the rest of the transaction. */
export const findUser = rows.find;
/** Write a new version; the caller holds the row lock (findUser with lock 'update'). */
export const updateUser = rows.update;
export const deleteUser = rows.remove;

export interface ListQuery {
  filter?: ValidatedFilter | undefined;
  sortBy?: ResolvedAttr | undefined;
  descending?: boolean;
  /** 0-based offset (SCIM startIndex - 1). */
  offset: number;
  limit: number;
}

/** The users a list query selects, in its order (see src/db/paging.ts). */
export function userListing(q: Pick<ListQuery, 'filter' | 'sortBy' | 'descending'>): Listing {
  return {
    table: 'users',
    alias: 'u',
    where: q.filter ? userFilterSql(q.filter) : undefined,
    order: q.sortBy ? userSortSql(q.sortBy) : undefined,
    descending: q.descending === true,
  };
}

/** Index paging (RFC 7644 §3.4.2.4); cursor paging goes through src/db/paging.ts directly. */
export async function listUsers(db: Q, tenantId: string, q: ListQuery): Promise<{ total: number; items: StoredResource[] }> {
  const listing = userListing(q);
  const total = await countRows(db, tenantId, listing);
  if (q.limit === 0 || total <= q.offset) return { total, items: [] };
  const rows = await fetchRows(db, tenantId, listing, { offset: q.offset, limit: q.limit });
  return { total, items: rows.map((r) => r.stored) };
}

/** Direct group memberships of the given users, for the readOnly `groups` attribute (RFC 7643 §4.1.2). */
export async function groupsOfUsers(
  db: Q,
  tenantId: string,
  userIds: string[],
): Promise<Map<string, { value: string; display: string }[]>> {
  const out = new Map<string, { value: string; display: string }[]>();
  if (userIds.length === 0) return out;
  const rows = await db
    .selectFrom('group_members as m')
    .innerJoin('groups as g', (j) => j.onRef('g.tenant_id', '=', 'm.tenant_id').onRef('g.id', '=', 'm.group_id'))
    .select(['m.member_id', 'g.id', 'g.display_name'])
    .where('m.tenant_id', '=', tenantId)
    .where('m.member_id', 'in', userIds)
    .orderBy('g.display_name')
    .execute();
  for (const r of rows) {
    const list = out.get(r.member_id) ?? [];
    list.push({ value: r.id, display: r.display_name });
    out.set(r.member_id, list);
  }
  return out;
}
