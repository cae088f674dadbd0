/**
 * Users repository. The resource JSON is the source of truth; the mirrored
 * columns exist for uniqueness, indexes, filters and sorting and are always
 * written together with it.
 */
import { sql, type Kysely } from 'kysely';
import type { ResolvedAttr } from '../scim/attributes.js';
import type { ValidatedFilter } from '../scim/filter.js';
import type { HostState } from '../policy/host-state.js';
import type { StoredResource } from '../scim/representation.js';
import { isKeyLookup, userFilterSql, userSortSql } from './filter-sql.js';
import type { Listing } from './paging.js';
import { prepared } from './prepared.js';
import { resourceRows, toStored, UUID_RE } from './resources.js';
import { userCountOf } from './user-counts.js';
import type { Database } from './types.js';

type Q = Kysely<Database>;

export { UUID_RE };

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
/** What the host platform was told about a user (migrations/0006_policies.ts). */
export interface HostFacts {
  state: HostState;
  inactiveSince: Date | null;
}

/** The host user an IdP user was linked to at go-live (migrations/0007_go_live.ts). */
export interface HostLink {
  hostUserId: string;
  matchedBy: 'externalId' | 'email';
}

/** Where the safeguard has the user (migrations/0007_go_live.ts): the open hold its events wait behind, a rejected hold's mark. */
export interface HoldMark {
  heldBy: string | null;
  rejected: boolean;
}

type HostRow = { host_state: HostState; inactive_since: Date | null; host_user_id: string | null; matched_by: HostLink['matchedBy'] | null; held_by: unknown; hold_rejected: boolean };
const hostOf = (row: HostRow): HostFacts => ({ state: row.host_state, inactiveSince: row.inactive_since });
const holdOf = (row: HostRow): HoldMark => ({ heldBy: row.held_by === null ? null : String(row.held_by), rejected: row.hold_rejected });
const linkOf = (row: HostRow): HostLink | null => (row.host_user_id && row.matched_by ? { hostUserId: row.host_user_id, matchedBy: row.matched_by } : null);

const hostColumns = (h: HostFacts) => ({ host_state: h.state, inactive_since: h.inactiveSince });

/** A new user, with what the host is told about it, as a write sent with its events (src/events/record.ts recordChange). */
export const insertUserStatement = (db: Q, tenantId: string, id: string, resource: Record<string, unknown>, at: Date, host: HostFacts) =>
  rows.insertStatement(db, tenantId, id, resource, at, hostColumns(host));
/** Read a user; `lock: 'update'` holds its row for the rest of the transaction. */
export const findUser = rows.find;
/** A new version of a locked user, sent with its events (src/events/record.ts recordChange). */
export const updateUserStatement = (db: Q, current: StoredResource, tenantId: string, resource: Record<string, unknown>, at: Date, host: HostFacts) =>
  rows.updateStatement(db, current, tenantId, resource, at, hostColumns(host));

/** A change of what the host knows alone: the SCIM resource, its version and lastModified stay. */
export async function setHostFacts(db: Q, tenantId: string, id: string, host: HostFacts): Promise<void> {
  await db.updateTable('users').set(hostColumns(host)).where('tenant_id', '=', tenantId).where('id', '=', id).execute();
}
export const deleteUser = rows.remove;

export interface ListQuery {
  filter?: ValidatedFilter | undefined;
  sortBy?: ResolvedAttr | undefined;
  descending?: boolean;
  /** 0-based offset (SCIM startIndex - 1). */
  offset: number;
  limit: number;
}

/**
 * The readOnly `groups` of the users row aliased `u` (RFC 7643 §4.1.2: the
 * user's direct memberships), as a JSON array ordered by group name, for a
 * select list: a user and its groups in one statement.
 */
const groupsOfRow = sql`(select coalesce(json_agg(json_build_object('value', g.id, 'display', g.display_name) order by g.display_name), '[]'::json)
    from group_members as m join groups as g on g.tenant_id = m.tenant_id and g.id = m.group_id
    where m.tenant_id = u.tenant_id and m.member_id = u.id)`;

/** A user with its groups, in one statement; `lock: 'update'` holds the user's row for the rest of the transaction. */
export async function findUserWithGroups(
  db: Q,
  tenantId: string,
  id: string,
  opts: { lock?: 'update' } = {},
): Promise<{ stored: StoredResource; groups: GroupRef[] | undefined; host: HostFacts; link: HostLink | null; hold: HoldMark } | undefined> {
  if (!UUID_RE.test(id)) return undefined;
  const r = await sql<{ id: string; resource: Record<string, unknown>; version: number; created: Date; last_modified: Date; groups: unknown } & HostRow>`
    select u.id, u.resource, u.version, u.created, u.last_modified, ${groupsOfRow} as groups, u.host_state, u.inactive_since, u.host_user_id, u.matched_by, u.held_by, u.hold_rejected
    from users as u where u.tenant_id = ${tenantId} and u.id = ${id}${opts.lock === 'update' ? sql` for update of u` : sql``}${prepared}`.execute(db);
  const row = r.rows[0];
  return row && { stored: toStored(row), groups: groupsWithRow(row.groups), host: hostOf(row), link: linkOf(row), hold: holdOf(row) };
}

/** A user with what the host knows of it, locked for the rest of the transaction (deletions, scheduled work). */
export async function lockUser(db: Q, tenantId: string, id: string): Promise<{ stored: StoredResource; host: HostFacts; link: HostLink | null; hold: HoldMark } | undefined> {
  if (!UUID_RE.test(id)) return undefined;
  const r = await sql<{ id: string; resource: Record<string, unknown>; version: number; created: Date; last_modified: Date } & HostRow>`
    select u.id, u.resource, u.version, u.created, u.last_modified, u.host_state, u.inactive_since, u.host_user_id, u.matched_by, u.held_by, u.hold_rejected
    from users as u where u.tenant_id = ${tenantId} and u.id = ${id} for update${prepared}`.execute(db);
  const row = r.rows[0];
  return row && { stored: toStored(row), host: hostOf(row), link: linkOf(row), hold: holdOf(row) };
}

/** The users a list query selects, in its order (see src/db/paging.ts). */
export function userListing(q: Pick<ListQuery, 'filter' | 'sortBy' | 'descending'>, opts: { withGroups?: boolean } = {}): Listing {
  return {
    table: 'users',
    alias: 'u',
    where: q.filter ? userFilterSql(q.filter) : undefined,
    prepared: q.filter !== undefined && isKeyLookup(q.filter, 'users'),
    counted: userCountOf(q.filter),
    order: q.sortBy ? userSortSql(q.sortBy) : undefined,
    descending: q.descending === true,
    // The readOnly `groups` of each user in the same statement: one round trip per page.
    extra: opts.withGroups ? groupsOfRow : undefined,
  };
}

/** A group a user is a direct member of, as the readOnly `groups` attribute lists it (RFC 7643 §4.1.2). */
export interface GroupRef {
  value: string;
  display: string;
}

/** The groups selected with a user's row (groupsOfRow); undefined when none. */
export function groupsWithRow(extra: unknown): GroupRef[] | undefined {
  return Array.isArray(extra) && extra.length > 0 ? (extra as GroupRef[]) : undefined;
}
