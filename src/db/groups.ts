/**
 * Groups repository (RFC 7643 §4.2). The resource JSON holds the group's own
 * attributes; membership is relational, one group_members row per member, so
 * that every membership change costs in proportion to the members it names:
 * adding one member to a group of 100,000 inserts one row, and nothing here
 * ever reads a group's whole member list to apply a change.
 *
 * Locking (services own the transactions):
 * - a write to a group locks its row (FOR NO KEY UPDATE) until it commits,
 *   so concurrent writes of one group queue up and none is lost; a change of
 *   named members alone takes that lock only with its last statement
 *   (bumpGroupStatement), after the member rows; a deletion locks it FOR
 *   UPDATE;
 * - members being added are locked FOR KEY SHARE while their existence is
 *   checked (lockMembers), so a concurrent DELETE of that user or group
 *   (FOR UPDATE) waits for the membership to commit and then removes it, or
 *   wins and the add is refused — never an orphan row. Members are locked
 *   before the group, the same order a deletion takes (member, then the
 *   groups it belongs to);
 * - a rename of a user or group (its member name, kept on the membership
 *   rows) upgrades its own row lock to FOR UPDATE in a trigger, waiting for
 *   memberships of it being inserted (migrations/0015_member_display.ts).
 */
import { sql, type Kysely, type RawBuilder, type Selectable } from 'kysely';
import type { ResolvedAttr } from '../scim/attributes.js';
import type { ValidatedFilter } from '../scim/filter.js';
import type { StoredResource } from '../scim/representation.js';
import { groupFilterSql, groupSortSql, isKeyLookup } from './filter-sql.js';
import { prepared } from './prepared.js';
import { countRows, fetchRows, type Listing } from './paging.js';
import type { Database, GroupsTable } from './types.js';
import { resourceRows, storedColumns, toStored, UUID_RE, type ResourceWrite } from './resources.js';

type Q = Kysely<Database>;

export type MemberType = 'User' | 'Group';

/** A member as stored, with what a response shows of it. */
export interface MemberRow {
  value: string;
  type: MemberType;
  /** The member's displayName, or a user's userName when it has none. */
  display: string | null;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function columnsOf(resource: Record<string, unknown>) {
  return {
    display_name: String(resource.displayName),
    external_id: str(resource.externalId),
    resource: JSON.stringify(resource),
  };
}

const rows = resourceRows('groups', columnsOf);
export const insertGroup = rows.insert;
/**
 * Read a group, optionally locking its row: `update` for a deletion (it
 * conflicts with the KEY SHARE locks of lockMembers, so a group being added
 * somewhere is not deleted under it), `noKeyUpdate` for a write that keeps the
 * group (it serialises writers but lets other groups lock it as a member).
 */
export const findGroup = rows.find;
/**
 * A new version (attributes and/or membership changed) of a group whose row the caller holds locked, sent
 * with its events (src/events/record.ts recordChange).
 */
export const updateGroupStatement = rows.updateStatement;
/**
 * A new version of a group whose membership changed and whose attributes did
 * not, as a guarded write (src/db/outbox.ts insertEvents): the UPDATE takes
 * the row lock itself, as the transaction's last statement, so the lock is
 * held only while the version, its events and the commit are written. It
 * matches only while the group still has the attributes the change was
 * computed on (`current.resource`) and, with `versions`, one of those
 * versions (If-Match, RFC 7644 §3.14); otherwise nothing is written.
 */
export function bumpGroupStatement(current: StoredResource, tenantId: string, at: Date, versions?: number[]): ResourceWrite {
  const statement = sql`
    update groups set version = version + 1, last_modified = ${at}
    where tenant_id = ${tenantId} and id = ${current.id} and resource = ${JSON.stringify(current.resource)}::jsonb${versions ? sql` and version = any(${versions}::int[])` : sql``}
    returning version`;
  return { statement, stored: { ...current, version: current.version + 1, lastModified: at }, guarded: true };
}
/** Delete a group; its own membership rows go with it (foreign key, on delete cascade). */
export const deleteGroup = rows.remove;

export interface GroupListQuery {
  filter?: ValidatedFilter | undefined;
  sortBy?: ResolvedAttr | undefined;
  descending?: boolean;
}

/** The groups a list query selects, in its order (see src/db/paging.ts). */
export function groupListing(q: GroupListQuery): Listing {
  return {
    table: 'groups',
    alias: 'g',
    where: q.filter ? groupFilterSql(q.filter) : undefined,
    prepared: q.filter !== undefined && isKeyLookup(q.filter, 'groups'),
    order: q.sortBy ? groupSortSql(q.sortBy) : undefined,
    descending: q.descending === true,
  };
}

/** Index paging (RFC 7644 §3.4.2.4). */
export async function listGroups(
  db: Q,
  tenantId: string,
  q: GroupListQuery & { offset: number; limit: number },
): Promise<{ total: number; items: StoredResource[] }> {
  const listing = groupListing(q);
  const total = await countRows(db, tenantId, listing);
  if (q.limit === 0 || total <= q.offset) return { total, items: [] };
  const rows = await fetchRows(db, tenantId, listing, { offset: q.offset, limit: q.limit });
  return { total, items: rows.map((r) => r.stored) };
}

// ---------------------------------------------------------------------------
// Membership

/**
 * Which of `ids` exist in the tenant, and as what: one statement over users
 * and groups. The rows found are locked FOR KEY SHARE until the transaction
 * ends (see the header), unless `lock` is false (a check before a statement
 * that locks them itself: a lock outside a transaction would only cost a WAL
 * flush). Ids that are not UUIDs cannot exist and are left out.
 */
export async function lockMembers(db: Q, tenantId: string, ids: string[], lock = true): Promise<Map<string, MemberType>> {
  const out = new Map<string, MemberType>();
  const uuids = [...new Set(ids.filter((id) => UUID_RE.test(id)).map((id) => id.toLowerCase()))].sort();
  if (uuids.length === 0) return out;
  const r = await sql<{ id: string; type: MemberType }>`
    with u as (select id from users where tenant_id = ${tenantId} and id = any(${uuids}::uuid[]) order by id${lock ? sql` for key share` : sql``}),
         g as (select id from groups where tenant_id = ${tenantId} and id = any(${uuids}::uuid[]) order by id${lock ? sql` for key share` : sql``})
    select id, 'User' as type from u
    union all
    select id, 'Group' as type from g${prepared}`.execute(db);
  for (const row of r.rows) out.set(row.id, row.type);
  return out;
}

/** Insert memberships; ones that already exist are left alone. Returns the member ids actually added. */
export async function addMembers(db: Q, tenantId: string, groupId: string, members: { value: string; type: MemberType }[]): Promise<string[]> {
  if (members.length === 0) return [];
  const r = await sql<{ member_id: string }>`
    insert into group_members (tenant_id, group_id, member_id, member_type)
    select ${tenantId}, ${groupId}, x.id, x.type
    from unnest(${members.map((m) => m.value)}::uuid[], ${members.map((m) => m.type)}::text[]) as x(id, type)
    on conflict (tenant_id, group_id, member_id) do nothing
    returning member_id${prepared}`.execute(db);
  return r.rows.map((row) => row.member_id).sort();
}

/** Delete the named memberships. Returns the member ids actually removed. */
export async function removeMembers(db: Q, tenantId: string, groupId: string, memberIds: string[]): Promise<string[]> {
  const uuids = memberIds.filter((id) => UUID_RE.test(id));
  if (uuids.length === 0) return [];
  const r = await sql<{ member_id: string }>`
    delete from group_members
    where tenant_id = ${tenantId} and group_id = ${groupId} and member_id = any(${uuids}::uuid[])
    returning member_id${prepared}`.execute(db);
  return r.rows.map((row) => row.member_id).sort();
}

/** Delete every membership of the group except those in `keep`. Returns the member ids removed. */
export async function removeMembersExcept(db: Q, tenantId: string, groupId: string, keep: string[]): Promise<string[]> {
  const uuids = keep.filter((id) => UUID_RE.test(id));
  const r = await sql<{ member_id: string }>`
    delete from group_members
    where tenant_id = ${tenantId} and group_id = ${groupId} and not (member_id = any(${uuids}::uuid[]))
    returning member_id${prepared}`.execute(db);
  return r.rows.map((row) => row.member_id).sort();
}

/** The ids that are UUIDs, each once (anything else names no group). */
const distinctUuids = (ids: string[]) => [...new Set(ids.filter((id) => UUID_RE.test(id)))];

/** Per-group limits: one for all groups, or one per group id. */
type MemberLimits = number | Map<string, number>;

/**
 * `aggregate` over each group's first members by id, at most its limit, by
 * group id (groups without members, or with no positive limit, are absent). Each group's read is one
 * bounded range of the primary key's index, which holds the member's type
 * and name too (migrations/0015_member_display.ts), so the table is not read.
 */
async function perGroupMembers<T>(db: Q, tenantId: string, groupIds: string[], limits: MemberLimits, aggregate: RawBuilder<T>): Promise<Map<string, T>> {
  const limitOf = (id: string) => (typeof limits === 'number' ? limits : (limits.get(id) ?? 0));
  const uuids = distinctUuids(groupIds).filter((id) => limitOf(id) > 0);
  if (uuids.length === 0) return new Map();
  const query = sql<{ group_id: string; members: T | null }>`
    select g.id as group_id, (
      select ${aggregate}
      from (
        select gm.member_id, gm.member_type, gm.display from group_members as gm
        where gm.tenant_id = ${tenantId} and gm.group_id = g.id
        order by gm.member_id
        limit g.lim
      ) as m
    ) as members
    from unnest(${uuids}::uuid[], ${uuids.map(limitOf)}::int[]) as g(id, lim)`;
  // The planner cannot see the per-group limits, so it costs a page's read at ten times its size, past
  // jit_optimize_above_cost: LLVM then spent 100-300 ms compiling a statement that runs in less. JIT is
  // switched off for this statement only (SET LOCAL) when it reads several groups.
  const r = uuids.length === 1 ? await query.execute(db) : await db.transaction().execute(async (trx) => {
    await sql`set local jit = off`.execute(trx);
    return query.execute(trx);
  });
  return new Map(r.rows.filter((row) => row.members !== null).map((row) => [row.group_id, row.members!]));
}

/**
 * Members of the given groups, at most `limits` each, ordered by member id.
 * Each group's come as one JSON array built by Postgres, which the driver
 * parses natively: 20,000 result rows (a page of groups) cost the server more
 * than the query. A renamed member shows its new name at once (the rename
 * updates the rows).
 */
export async function membersOfGroups(db: Q, tenantId: string, groupIds: string[], limits: MemberLimits): Promise<Map<string, MemberRow[]>> {
  return perGroupMembers<MemberRow[]>(db, tenantId, groupIds, limits, sql`json_agg(json_build_object('value', m.member_id, 'type', m.member_type, 'display', m.display) order by m.member_id)`);
}

/**
 * The same members as the JSON text of a response's `members`, each
 * `{"value", "$ref", "display" (when there is one), "type"}` as
 * src/services/group-members.ts presentGroup writes them (a test holds the
 * two equal), `$ref` being `refs[type]` followed by the id. For responses
 * that send the members as they are (src/scim/json.ts RawJson): no object
 * per member is built, parsed or serialized by the server.
 */
export async function memberJsonOfGroups(db: Q, tenantId: string, groupIds: string[], limits: MemberLimits, refs: Record<MemberType, string>): Promise<Map<string, string>> {
  // The prefixes JSON-escaped once here; ids and types need no escaping, names are escaped by to_json. concat()
  // builds each member in one allocation and skips the display part when there is no name (NULL).
  const open = (type: MemberType) => JSON.stringify(refs[type]).slice(0, -1);
  return perGroupMembers<string>(db, tenantId, groupIds, limits, sql`'[' || string_agg(concat(
      '{"value":"', m.member_id, '","$ref":', case when m.member_type = 'User' then ${open('User')} else ${open('Group')} end, m.member_id, '"',
      ',"display":' || to_json(m.display)::text, ',"type":"', m.member_type, '"}'),
    ',' order by m.member_id) || ']'`);
}

/** How many members each group has, at most `cap`: the counts migration 0014 keeps, summed over their slots. */
export async function memberCounts(db: Q, tenantId: string, groupIds: string[], cap: number): Promise<Map<string, number>> {
  const uuids = distinctUuids(groupIds);
  if (uuids.length === 0) return new Map();
  const r = await sql<{ id: string; n: number }>`
    select g.id, least(coalesce((select sum(c.n) from group_member_counts as c where c.tenant_id = ${tenantId} and c.group_id = g.id), 0), ${cap})::int as n
    from unnest(${uuids}::uuid[]) as g(id)`.execute(db);
  return new Map(r.rows.map((row) => [row.id, row.n]));
}

/**
 * Take a member out of every group it belongs to (the member is being
 * deleted): deletes the memberships, then locks those groups like any write
 * to them (in id order, so two deletions never wait on each other in a
 * cycle) and bumps each one's version. Memberships before groups, the order
 * a PATCH of named members takes (src/services/groups.ts), so a PATCH
 * removing this member does not deadlock with the deletion. Returns the
 * groups as they are now.
 */
export async function removeMemberEverywhere(db: Q, tenantId: string, memberId: string, at: Date): Promise<StoredResource[]> {
  if (!UUID_RE.test(memberId)) return [];
  const removed = await db
    .deleteFrom('group_members')
    .where('tenant_id', '=', tenantId)
    .where('member_id', '=', memberId)
    .returning('group_id')
    .execute();
  if (removed.length === 0) return [];
  const ids = removed.map((x) => x.group_id);
  const r = await sql<Pick<Selectable<GroupsTable>, (typeof storedColumns)[number]>>`
    with locked as (
      select g.id from groups as g where g.tenant_id = ${tenantId} and g.id = any(${ids}::uuid[]) order by g.id for no key update
    )
    update groups set version = version + 1, last_modified = ${at}
    where tenant_id = ${tenantId} and id in (select id from locked)
    returning id, resource, version, created, last_modified`.execute(db);
  return r.rows.map(toStored).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Of these member ids, the users the host platform knows (host_state other
 * than absent, src/policy/host-state.ts) and the groups, with their resource
 * (to decide whether the host is told about them).
 */
export async function hostVisibleMembers(db: Kysely<Database>, tenantId: string, ids: string[]): Promise<{ users: Set<string>; groups: StoredResource[] }> {
  const valid = distinctUuids(ids);
  if (valid.length === 0) return { users: new Set(), groups: [] };
  const u = await sql<{ id: string }>`
    select id from users where tenant_id = ${tenantId} and id = any(${valid}::uuid[]) and host_state <> 'absent'`.execute(db);
  const g = await sql<Pick<Selectable<GroupsTable>, (typeof storedColumns)[number]>>`
    select id, resource, version, created, last_modified from groups where tenant_id = ${tenantId} and id = any(${valid}::uuid[])`.execute(db);
  return { users: new Set(u.rows.map((r) => r.id)), groups: g.rows.map(toStored) };
}
