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
import type { Listing } from './paging.js';
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
/** insertUser as a write sent with its events (src/events/record.ts recordChange). */
export const insertUserStatement = rows.insertStatement;
/** Read a user; `lock: 'update'` holds its row for the rest of the transaction. */
export const findUser = rows.find;
/** A new version of a locked user, sent with its events (src/events/record.ts recordChange). */
export const updateUserStatement = rows.updateStatement;
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
export function userListing(q: Pick<ListQuery, 'filter' | 'sortBy' | 'descending'>, opts: { withGroups?: boolean } = {}): Listing {
  return {
    table: 'users',
    alias: 'u',
    where: q.filter ? userFilterSql(q.filter) : undefined,
    order: q.sortBy ? userSortSql(q.sortBy) : undefined,
    descending: q.descending === true,
    // The readOnly `groups` of each user in the same statement (as groupsOfUsers reads them): one round trip per page.
    extra: opts.withGroups
      ? sql`(select coalesce(json_agg(json_build_object('value', g.id, 'display', g.display_name) order by g.display_name), '[]'::json)
              from group_members as m join groups as g on g.tenant_id = m.tenant_id and g.id = m.group_id
             where m.tenant_id = u.tenant_id and m.member_id = u.id)`
      : undefined,
  };
}

/** A group a user is a direct member of, as the readOnly `groups` attribute lists it (RFC 7643 §4.1.2). */
export interface GroupRef {
  value: string;
  display: string;
}

/** The groups userListing(q, { withGroups: true }) selected with a row (in groupsOfUsers' order); undefined when none. */
export function groupsWithRow(extra: unknown): GroupRef[] | undefined {
  return Array.isArray(extra) && extra.length > 0 ? (extra as GroupRef[]) : undefined;
}

/** Direct group memberships of the given users, for the readOnly `groups` attribute (RFC 7643 §4.1.2). */
export async function groupsOfUsers(
  db: Q,
  tenantId: string,
  userIds: string[],
): Promise<Map<string, GroupRef[]>> {
  const out = new Map<string, GroupRef[]>();
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
